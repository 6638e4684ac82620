"""`glyph render` through the real entry point, as a user runs it."""

import gzip
import json
import subprocess
import sys

import orjson
import pytest
import zstandard

from conftest import glyph_env, popen_glyph, run_glyph
from glyph_cli.streams.pages import iter_records, page_png

DOCS = [
    {"id": "a", "text": "Alpha document. " * 200, "lang": "en"},
    {"id": 7, "text": "第二个文件，中文内容。" * 50},
    {"id": "c", "text": "short\nwith\nlines"},
]


def jsonl(records):
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def parse(stdout: bytes):
    return [orjson.loads(line) for line in stdout.splitlines()]


def test_help_is_light_and_lists_the_commands():
    code = ("import sys\nfrom glyph_cli.app import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'transformers', 'gi', 'cairo', 'numpy') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, env=glyph_env(), timeout=60)
    assert b"render" in proc.stdout
    assert b"HEAVY []" in proc.stdout


def test_render_stdin_jsonl_gives_a_valid_page_stream(tmp_path):
    proc = run_glyph("render", input=jsonl(DOCS), check=True)
    out = tmp_path / "pages.jsonl"
    out.write_bytes(proc.stdout)
    recs = [r for r, _, _ in iter_records([str(out)])]
    docs = [r for r in recs if r["type"] == "doc"]
    assert [d["id"] for d in docs] == ["a", "7", "c"]
    assert docs[0]["meta"] == {"lang": "en"} and docs[0]["text"] == DOCS[0]["text"]
    for d in docs:
        pages = [r for r in recs if r["type"] == "page" and r["doc"] == d["id"]]
        assert pages[0]["span"][0] == 0 and pages[-1]["span"][1] == len(d["text"])
        assert all(p["visual_tokens"]["glm4v"] > 0 for p in pages)
        assert page_png(pages[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"compression" in proc.stderr


def test_stdout_carries_only_data():
    proc = run_glyph("render", input=jsonl(DOCS), check=True)
    for line in proc.stdout.splitlines():
        assert isinstance(orjson.loads(line), dict)
    assert proc.stderr and not proc.stderr.startswith(b"{")


def test_plain_text_files_gz_zst_and_several_inputs(tmp_path):
    (tmp_path / "one.txt").write_text("plain text document\n")
    with gzip.open(tmp_path / "two.jsonl.gz", "wb") as fh:
        fh.write(jsonl(DOCS[:1]))
    (tmp_path / "three.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(jsonl(DOCS[2:])))
    proc = run_glyph("render", str(tmp_path / "one.txt"), str(tmp_path / "two.jsonl.gz"),
                     str(tmp_path / "three.jsonl.zst"), check=True)
    ids = [r["id"] for r in parse(proc.stdout) if r["type"] == "doc"]
    assert ids == [str(tmp_path / "one.txt"), "a", "c"]  # a plain-text file's id is its path as given


def test_other_field_names():
    proc = run_glyph("render", "--text-field", "body", "--id-field", "key",
                     input=jsonl([{"key": "k1", "body": "hello", "x": 1}]), check=True)
    doc = parse(proc.stdout)[0]
    assert (doc["id"], doc["text"], doc["meta"]) == ("k1", "hello", {"x": 1})


BAD = (b'{"id": "ok1", "text": "fine"}\n'
       b'{"id": "bad-json", "text": \n'
       b'{"id": "no-text"}\n'
       b'{"id": "wrong-type", "text": 42}\n'
       b'{"id": "bad-utf8", "text": "\xff\xfe"}\n'
       b'["not", "an", "object"]\n'
       b'{"id": "ok2", "text": "also fine"}\n')


def test_bad_record_fails_with_file_and_line(tmp_path):
    (tmp_path / "in.jsonl").write_bytes(BAD)
    proc = run_glyph("render", str(tmp_path / "in.jsonl"))
    assert proc.returncode == 1
    assert b"in.jsonl:2: malformed JSON" in proc.stderr
    assert [r["id"] for r in parse(proc.stdout) if r["type"] == "doc"] == ["ok1"]


def test_bad_records_skipped_and_counted(tmp_path):
    (tmp_path / "in.jsonl").write_bytes(BAD)
    proc = run_glyph("render", "--on-error", "skip", str(tmp_path / "in.jsonl"))
    assert proc.returncode == 1  # skipped records: never exit 0
    err = proc.stderr.decode()
    for line, what in [(2, "malformed JSON"), (3, "no 'text' field"), (4, "field 'text' is int, not a string"),
                       (5, "invalid UTF-8"), (6, "expected a JSON object")]:
        assert f"in.jsonl:{line}: {what}" in err
    assert "5 record(s) skipped" in err
    assert [r["id"] for r in parse(proc.stdout) if r["type"] == "doc"] == ["ok1", "ok2"]


def test_invalid_config_is_a_usage_error_before_any_output():
    proc = run_glyph("render", "--dpi", "5", input=jsonl(DOCS))
    assert proc.returncode == 2 and proc.stdout == b""
    assert b"ConfigError: dpi must be between 30 and 600" in proc.stderr


def test_missing_input_file():
    proc = run_glyph("render", "/nonexistent/x.jsonl")
    assert proc.returncode == 2 and b"no such file" in proc.stderr


def test_print_config_shows_the_resolved_config():
    proc = run_glyph("render", "--preset", "dpi96", "--align", "justify", "--set", "tab_width=8", "--print-config",
                     check=True)
    cfg = json.loads(proc.stdout)
    assert (cfg["dpi"], cfg["alignment"], cfg["tab_width"], cfg["page_size"]) == (96, "justify", 8, [595, 842])


def test_out_dir_writes_pngs_and_an_index(tmp_path):
    run_glyph("render", "-d", str(tmp_path / "out"), input=jsonl(DOCS), check=True)
    index = [json.loads(line) for line in (tmp_path / "out" / "index.jsonl").read_text().splitlines()]
    pages = [r for r in index if r["type"] == "page"]
    assert pages and all("image" not in p for p in pages)
    for p in pages:
        data = (tmp_path / "out" / p["file"]).read_bytes()
        import hashlib
        assert hashlib.sha256(data).hexdigest() == p["sha256"]
    assert not list((tmp_path / "out").rglob("*.part"))


def test_sample_renders():
    proc = run_glyph("render", "--sample", check=True)
    assert parse(proc.stdout)[0]["id"] == "sample.txt"


def test_workers_keep_order_and_output_identical():
    docs = [{"id": f"d{i}", "text": f"document {i} " * (50 + 40 * i)} for i in range(8)]
    one = run_glyph("render", input=jsonl(docs), check=True).stdout
    two = run_glyph("render", "--workers", "2", input=jsonl(docs), check=True).stdout
    assert one == two


def test_shards_partition_the_documents():
    docs = [{"id": f"d{i}", "text": "x"} for i in range(20)]
    seen = []
    for k in range(3):
        out = run_glyph("render", "--shard", f"{k}/3", input=jsonl(docs), check=True).stdout
        seen.append({r["id"] for r in parse(out) if r["type"] == "doc"})
    assert set().union(*seen) == {d["id"] for d in docs}
    assert sum(len(s) for s in seen) == 20
    assert run_glyph("render", "--shard", "3/3", input=b"").returncode == 2


def test_quiet_in_a_pipe_to_head():
    proc = subprocess.run(f"{sys.executable} -m glyph_cli render --sample | head -c 10", shell=True,
                          capture_output=True, env=glyph_env(), timeout=120)
    assert proc.returncode == 0 and len(proc.stdout) == 10
    assert b"Traceback" not in proc.stderr and b"BrokenPipe" not in proc.stderr


def test_deterministic_output():
    a = run_glyph("render", "--sample", check=True).stdout
    b = run_glyph("render", "--sample", check=True).stdout
    assert a == b


def test_empty_control_emoji_cjk_rtl_records():
    docs = [{"id": "empty", "text": ""}, {"id": "ctl", "text": "a\x00b\x1bc\x7f"},
            {"id": "emoji", "text": "👩‍👩‍👧 family 🎉"}, {"id": "rtl", "text": "שלום עולם مرحبا"},
            {"id": "cjk", "text": "日本語のテキストと한국어"}]
    recs = parse(run_glyph("render", input=jsonl(docs), check=True).stdout)
    assert [r["id"] for r in recs if r["type"] == "doc"] == [d["id"] for d in docs]


@pytest.mark.slow
def test_a_single_10mb_record(tmp_path):
    text = ("A long record line with words and numbers 12345. " * 20 + "\n") * 10300
    assert len(text) > 10_000_000
    (tmp_path / "big.jsonl").write_bytes(jsonl([{"id": "big", "text": text}]))
    proc = run_glyph("render", "--set", "bit_depth=1", str(tmp_path / "big.jsonl"), timeout=600)
    assert proc.returncode == 0, proc.stderr
    first = orjson.loads(proc.stdout[:proc.stdout.index(b"\n")])
    assert first["chars"] == len(text) and first["pages"] > 1000
    assert proc.stdout.count(b'"type":"page"') == first["pages"]


def test_ctrl_c_exits_130_and_says_so():
    import signal
    import time

    proc = popen_glyph("render", "-", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"Interrupted" in err and out == b""
