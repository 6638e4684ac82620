"""`glyph ask` through the real entry point, against the local test server."""

from __future__ import annotations

import orjson
import pytest

from page_streams import page_stream

DOCS = [("a", "Alpha text.", 1), ("b", "Bravo text.", 2), ("c", "Charlie text.", 3)]


def lines(out: bytes) -> list[dict]:
    return [orjson.loads(line) for line in out.splitlines()]


def test_pages_on_stdin_answers_on_stdout(glyph, server):
    proc = glyph("ask", "--base-url", server.base_url, "-q", "Who?", "-q", "When?", input=page_stream(DOCS))
    assert proc.returncode == 0, proc.stderr
    recs = lines(proc.stdout)  # stdout holds only answer records
    assert [(r["id"], r["doc"], r["question"]) for r in recs] == [
        ("a:0", "a", "Who?"), ("a:1", "a", "When?"), ("b:0", "b", "Who?"), ("b:1", "b", "When?"),
        ("c:0", "c", "Who?"), ("c:1", "c", "When?")]
    assert all(r["type"] == "answer" and r["answer"].startswith("ANSWER[") for r in recs)
    assert sorted(r["images"] for r in server.requests) == [1, 1, 2, 2, 3, 3]
    assert b"answered 6 question(s)" in proc.stderr


def test_questions_file_output_file_and_meta(glyph, server, tmp_path):
    pages = tmp_path / "pages.jsonl"
    pages.write_bytes(page_stream(DOCS))
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"id": "q1", "doc": "c", "question": "Third?", "answers": ["x"]}\n'
                  '{"id": 2, "doc": "a", "question": "First?", "answers": ["y"]}\n')
    out = tmp_path / "answers.jsonl"
    proc = glyph("ask", str(pages), "--questions", str(qa), "--base-url", server.base_url, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""
    recs = lines(out.read_bytes())
    assert [(r["id"], r["doc"], r["meta"]) for r in recs] == [("2", "a", {"answers": ["y"]}),
                                                               ("q1", "c", {"answers": ["x"]})]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_documents_as_text_without_rendering(glyph, server, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "x", "text": "The key is 7."}\n{"id": "y", "text": "The key is 8."}\n')
    proc = glyph("ask", str(docs), "--preset", "glyph", "--as-text", "-q", "Key?", "--base-url", server.base_url)
    assert proc.returncode == 0, proc.stderr
    assert [(r["mode"], r["pages"]) for r in lines(proc.stdout)] == [("text", None), ("text", None)]
    sent = sorted(r["body"]["messages"][0]["content"][0]["text"] for r in server.requests)
    assert sent == ["The key is 7.\n\nKey?", "The key is 8.\n\nKey?"]


def test_documents_without_a_preset_get_a_hint(glyph, server, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "x", "text": "The key is 7."}\n')
    proc = glyph("ask", str(docs), "-q", "Key?", "--base-url", server.base_url)
    assert proc.returncode == 1
    assert b"docs.jsonl:1: not a page-stream record" in proc.stderr and b"--preset" in proc.stderr


def test_template_file_and_key_from_env(glyph, server, tmp_path):
    tpl = tmp_path / "t.txt"
    tpl.write_text("Pages:\n{context}\nQ: {question}\n")
    env_key = {"GLYPH_KEY": "k-123"}
    from conftest import glyph_env

    proc = glyph("ask", "--base-url", server.base_url, "-q", "Who?", "--template", str(tpl),
                 "--api-key-env", "GLYPH_KEY", input=page_stream(DOCS[:1]), env=glyph_env(**env_key))
    assert proc.returncode == 0, proc.stderr
    [req] = server.requests
    content = req["body"]["messages"][0]["content"]
    assert [p["type"] for p in content] == ["text", "image_url", "text"]
    assert (content[0]["text"], content[2]["text"]) == ("Pages:\n", "\nQ: Who?")
    assert req["authorization"] == "Bearer k-123"
    assert lines(proc.stdout)[0]["run"]["template"]["source"] == str(tpl)


def test_a_failed_question_stops_the_run_or_is_skipped(glyph, server):
    server.plan("Who?", "400")
    proc = glyph("ask", "--base-url", server.base_url, "-q", "Who?", "-q", "When?", input=page_stream(DOCS[:1]))
    assert proc.returncode == 1
    assert b"GlyphError: question 'a:0' on document 'a': HTTP 400" in proc.stderr
    assert lines(proc.stdout) == []
    server.plan("Who?", "400")
    proc = glyph("ask", "--base-url", server.base_url, "-q", "Who?", "-q", "When?", "--on-error", "skip",
                 input=page_stream(DOCS[:1]))
    assert proc.returncode == 1  # never 0 after a partial failure
    assert [r["id"] for r in lines(proc.stdout)] == ["a:1"]
    assert b"1 record(s) skipped" in proc.stderr


def test_max_images(glyph, server):
    proc = glyph("ask", "--base-url", server.base_url, "-q", "Q", "--max-images", "2", input=page_stream(DOCS))
    assert proc.returncode == 1
    assert b"document 'c' has 3 pages, more than --max-images 2 allows" in proc.stderr
    assert [r["doc"] for r in lines(proc.stdout)] == ["a", "b"]


@pytest.mark.parametrize("args, message", [
    (["-q", "Q"], b"--model DIR"),
    (["--base-url", "http://127.0.0.1:9/v1"], b"-q TEXT or --questions FILE"),
    (["-q", "Q", "--questions", "x.jsonl", "--base-url", "http://127.0.0.1:9/v1"], b"one of the two"),
    (["-q", "Q", "--backend", "llama"], b"'llama' is not one of 'transformers', 'openai'"),
    (["-q", "Q", "--base-url", "http://127.0.0.1:9/v1", "--concurrency", "0"], b"--concurrency"),
    (["-q", "Q", "--base-url", "http://127.0.0.1:9/v1", "--top-p", "2"], b"--top-p"),
    (["-q", "Q", "-m", "/nonexistent/model"], b"no such directory"),
    (["--questions", "-", "--base-url", "http://127.0.0.1:9/v1"], b"stdin cannot hold both"),
    (["-q", "Q", "--base-url", "http://127.0.0.1:9/v1", "--set", "dpi"], b"expected KEY=VALUE"),
    (["-q", "Q", "--base-url", "http://127.0.0.1:9/v1", "-p", "nope"], b"unknown preset"),
])
def test_bad_usage_exits_2(glyph, args, message):
    proc = glyph("ask", *args, input=b"")
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert proc.stdout == b""


def test_help_does_not_import_torch(glyph):
    proc = glyph("ask", "--help")
    assert proc.returncode == 0 and b"--as-text" in proc.stdout
    import subprocess
    import sys

    from conftest import glyph_env

    check = ("import sys; from glyph_cli.app import app; import glyph_cli.commands.ask, glyph_cli.models.ask, "
             "glyph_cli.models.openai_backend, glyph_cli.models.transformers_backend; "
             "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, env=glyph_env(), check=True)
    assert out.stdout.strip() == b"[]"


def test_documents_rendered_on_the_fly_match_glyph_render(glyph, server, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "x", "text": "' + "The pass key is 7. " * 1000 + '"}\n')
    rendered = glyph("render", str(docs), "--preset", "glyph")
    assert rendered.returncode == 0, rendered.stderr
    piped = glyph("ask", "-q", "Key?", "--base-url", server.base_url, input=rendered.stdout)
    on_the_fly = glyph("ask", str(docs), "--preset", "glyph", "-q", "Key?", "--base-url", server.base_url)
    assert piped.returncode == on_the_fly.returncode == 0, on_the_fly.stderr
    first, second = (r["body"]["messages"][0]["content"] for r in server.requests)
    assert first == second  # the same pages, byte for byte
    pages = [orjson.loads(line) for line in rendered.stdout.splitlines()][0]["pages"]
    assert pages >= 2 and len(first) == pages + 1
    assert lines(on_the_fly.stdout)[0]["pages"] == pages


def test_ctrl_c_exits_130_and_leaves_no_output_file(server, tmp_path):
    import signal
    import subprocess
    import time

    from conftest import popen_glyph

    server.hang_s = 60
    server.plan("Q", "hang")
    out = tmp_path / "answers.jsonl"
    proc = popen_glyph("ask", "--base-url", server.base_url, "-q", "Q", "-o", str(out), stdin=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    proc.stdin.write(page_stream(DOCS[:1]))
    proc.stdin.close()
    deadline = time.monotonic() + 20
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.requests, "the request never arrived"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=50) == 130
    assert server.in_flight == 1  # ended with its request still hanging on the server: it did not wait for it
    assert b"Traceback" not in proc.stderr.read()
    assert list(tmp_path.iterdir()) == []


def test_a_bundle_is_read_like_the_page_stream_it_holds(glyph, server, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "x", "text": "The key is 7."}\n{"id": "y", "text": "The key is 8.\\nSecond line."}\n')
    stream = glyph("render", str(docs), check=True).stdout
    bundle = tmp_path / "docs.glyph"
    glyph("pack", "-o", str(bundle), input=stream, check=True)
    answers = {}
    for name, args, stdin in [("stream", [], stream), ("bundle file", [str(bundle)], None),
                              ("bundle on stdin", [], bundle.read_bytes())]:
        proc = glyph("ask", *args, "-q", "Key?", "--base-url", server.base_url, input=stdin)
        assert proc.returncode == 0, (name, proc.stderr)
        answers[name] = [(r["doc"], r["pages"], r["answer"]) for r in lines(proc.stdout)]
    assert answers["stream"] == answers["bundle file"] == answers["bundle on stdin"]
    assert [doc for doc, _, _ in answers["bundle file"]] == ["x", "y"]
    # the server saw the same images either way
    images = sorted(str(r["body"]["messages"][0]["content"][:-1]) for r in server.requests)
    assert images[0::3] == images[1::3] == images[2::3]


def test_a_damaged_bundle_fails_with_what_is_damaged(glyph, server, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(f'{{"id": "d{i}", "text": "document {i} " }}\n' for i in range(3)))
    bundle = tmp_path / "docs.glyph"
    glyph("pack", "-o", str(bundle), input=glyph("render", str(docs), check=True).stdout, check=True)
    data = bundle.read_bytes()
    (tmp_path / "cut.glyph").write_bytes(data[: len(data) // 2])
    proc = glyph("ask", str(tmp_path / "cut.glyph"), "-q", "Key?", "--base-url", server.base_url)
    assert proc.returncode == 1
    assert b"cut.glyph" in proc.stderr


def test_the_readmes_as_text_example_runs_as_written(glyph, server, tmp_path):
    import shlex

    from conftest import REPO

    [line] = [ln for ln in (REPO / "README.md").read_text().splitlines()
              if ln.startswith("glyph ask ") and "--as-text" in ln]
    args = shlex.split(line.replace("http://HOST:8000/v1", server.base_url))[1:]
    (tmp_path / "docs.jsonl").write_text('{"id": "a", "text": "Alpha."}\n{"id": "b", "text": "Bravo."}\n')
    (tmp_path / "qa.jsonl").write_text('{"id": "q1", "doc": "b", "question": "Which?"}\n')
    proc = glyph(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [rec] = lines(proc.stdout)
    assert (rec["id"], rec["doc"]) == ("q1", "b") and server.requests[-1]["images"] == 0
