"""The openai backend against a local server that checks requests and misbehaves on demand."""

from __future__ import annotations

import threading
import time
import types

import pytest

from fake_openai_server import FakeServer
from glyph_cli.errors import GlyphError, UsageError
from glyph_cli.log import ErrorPolicy
from glyph_cli.models.ask import Question, ask, cli_questions
from glyph_cli.models.backend import Sampling
from glyph_cli.models.openai_backend import OpenAIBackend, parallel
from page_streams import documents

DOCS = [("a", "Alpha text.", 1), ("b", "Bravo text.", 2), ("c", "Charlie text.", 3)]


def backend(srv: FakeServer, **kwargs) -> OpenAIBackend:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("timeout", 5)
    return OpenAIBackend(srv.base_url, **kwargs)


def run(srv, questions, docs=DOCS, policy=None, **kwargs):
    ask_kwargs = {k: kwargs.pop(k) for k in ("as_text", "ordered", "template") if k in kwargs}
    return list(ask(documents(docs), backend(srv, **kwargs), questions, policy=policy, **ask_kwargs))


def file_questions(*pairs: tuple[str, str]) -> list[Question]:
    return [Question(f"q{i}", text, doc, {"ref": f"r{i}"}) for i, (doc, text) in enumerate(pairs)]


def test_request_has_glyphs_shape(server):
    recs = run(server, cli_questions(["What is it?"]), sampling=Sampling(max_new_tokens=99, seed=7))
    assert [r["id"] for r in recs] == ["a:0", "b:0", "c:0"]
    requests = sorted(server.requests, key=lambda r: r["images"])  # they arrive in any order
    for rec, req, (_, _, pages) in zip(recs, requests, DOCS):
        content = req["body"]["messages"][0]["content"]
        # every page as a base64 PNG image_url, in page order, then the question as text
        assert [p["type"] for p in content] == ["image_url"] * pages + ["text"]
        assert content[-1]["text"] == "What is it?"
        assert req["images"] == pages
        body = req["body"]
        assert body["model"] == "fake-glyph"  # discovered from /v1/models
        assert (body["temperature"], body["top_k"], body["repetition_penalty"]) == (0.0, 1, 1.1)
        assert (body["max_tokens"], body["seed"], body["stream"]) == (99, 7, True)
        assert rec["answer"] == f"ANSWER[What is it?] pages={pages}"
        assert rec["thinking"] == f"{pages} page(s) read"
        assert rec["raw"] == f"<think>{pages} page(s) read</think>ANSWER[What is it?] pages={pages}"
        assert rec["prompt_tokens"] == 100 + 630 * pages and rec["completion_tokens"] == 4
        assert rec["finish"] == "stop" and rec["attempts"] == 1 and rec["mode"] == "pages"
        assert rec["latency_s"] >= rec["ttft_s"] > 0
        assert rec["run"]["backend"] == "openai" and rec["run"]["model"] == "fake-glyph"
    # the page images are the page records' own data URLs, unchanged
    sent = requests[2]["body"]["messages"][0]["content"][1]["image_url"]["url"]
    assert sent == documents(DOCS)[2][1][1]["image"]


def test_as_text_sends_the_documents_text_and_no_images(server):
    recs = run(server, cli_questions(["Q?"]), as_text=True)
    sent = sorted(req["body"]["messages"][0]["content"][0]["text"] for req in server.requests)
    assert sent == [f"{text}\n\nQ?" for _, text, _ in DOCS]
    assert all(len(req["body"]["messages"][0]["content"]) == 1 for req in server.requests)
    assert [r["mode"] for r in recs] == ["text"] * 3 and [r["pages"] for r in recs] == [1, 2, 3]


def test_separate_reasoning_and_plain_json_replies():
    srv = FakeServer(think="separate").start()
    try:
        srv.plan("json please", "json")
        recs = run(srv, cli_questions(["streamed", "json please"]), docs=DOCS[:1])
    finally:
        srv.stop()
    for rec in recs:
        assert rec["thinking"] == "1 page(s) read"
        assert rec["answer"] == rec["raw"] == f"ANSWER[{rec['question']}] pages=1"
        assert rec["finish"] == "stop"
    assert recs[1]["completion_tokens"] == 20  # the JSON body's usage


@pytest.mark.parametrize("failures", [("429",), ("500", "503"), ("drop",), ("garbage",), ("nochoice", "500")])
def test_transient_failures_are_retried(server, failures):
    server.plan("Q?", *failures)
    [rec] = run(server, cli_questions(["Q?"]), docs=DOCS[:1])
    assert rec["answer"] == "ANSWER[Q?] pages=1"
    assert rec["attempts"] == len(failures) + 1
    assert len(server.requests) == len(failures) + 1


def test_a_timeout_is_retried(server):
    server.plan("Q?", "hang")
    [rec] = run(server, cli_questions(["Q?"]), docs=DOCS[:1], timeout=0.3)
    assert rec["attempts"] == 2 and rec["answer"] == "ANSWER[Q?] pages=1"


def recorded_sleeps(monkeypatch) -> list[float]:
    """The backend's retry delays, recorded instead of slept (no clock in the assertion)."""
    import glyph_cli.models.openai_backend as backend_module

    delays: list[float] = []
    clock = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
    clock.sleep = delays.append  # the backend module's own `time` only: the fake server's threads still sleep
    monkeypatch.setattr(backend_module, "time", clock)
    return delays


def test_backoff_grows_and_then_gives_up(server, monkeypatch):
    server.plan("Q?", "500", "500", "500", "500")
    delays = recorded_sleeps(monkeypatch)
    with pytest.raises(GlyphError, match=r"gave up after 3 attempt\(s\): HTTP 500: injected 500"):
        run(server, cli_questions(["Q?"]), docs=DOCS[:1], retries=2, backoff=0.1)
    # two sleeps: 0.1 x [0.5, 1] then 0.2 x [0.5, 1]
    assert len(delays) == 2 and 0.05 <= delays[0] <= 0.1 and 0.1 <= delays[1] <= 0.2, delays
    assert len(server.requests) == 3


def test_retry_after_is_honoured(server, monkeypatch):
    server.plan("Q?", "429")  # Retry-After: 0 overrides a long backoff
    delays = recorded_sleeps(monkeypatch)
    [rec] = run(server, cli_questions(["Q?"]), docs=DOCS[:1], backoff=30)
    assert rec["attempts"] == 2 and delays == [0.0]


def test_client_errors_are_not_retried_and_name_the_question(server):
    server.plan("Q?", "400")
    with pytest.raises(GlyphError, match=r"question 'q0' on document 'b': HTTP 400 .*At most 2 image\(s\)"
                                         r".*see --max-images"):
        run(server, file_questions(("b", "Q?")))
    assert len(server.requests) == 1


def test_max_images_refuses_long_documents_before_sending(server):
    policy = ErrorPolicy("skip")
    recs = run(server, cli_questions(["Q?"]), policy=policy, max_images=2)
    assert [r["doc"] for r in recs] == ["a", "b"]
    assert policy.failed == 1
    assert sorted(r["images"] for r in server.requests) == [1, 2]  # document c (3 pages) never went out
    with pytest.raises(GlyphError, match=r"document 'c' has 3 pages, more than --max-images 2 allows"):
        run(server, cli_questions(["Q?"]), max_images=2)


def test_runaway_generation_is_cut_off_and_flagged(server):
    server.plan("Q?", "loop")
    [rec] = run(server, cli_questions(["Q?"]), docs=DOCS[:1], sampling=Sampling(repeat_window=64))
    assert rec["finish"] == "repetition"
    assert rec["raw"].startswith("all work and no play all work")
    # hung up soon after the window (256 characters) filled, far short of the server's 2,000 chunks
    assert 256 <= len(rec["raw"]) < 256 + 200
    assert rec["completion_tokens"] is None  # the server never sent its usage


def test_concurrency_is_bounded_and_used():
    srv = FakeServer(delay_s=0.15).start()
    try:
        docs = [(f"d{i}", f"text {i}", 1) for i in range(12)]
        recs = run(srv, cli_questions(["Q?"]), docs=docs, concurrency=4)
    finally:
        srv.stop()
    assert srv.max_in_flight == 4  # four requests were on the server at once: the bound, reached
    assert [r["doc"] for r in recs] == [f"d{i}" for i in range(12)]


def test_ordered_and_unordered_output(server):
    server.slow_s = 0.4
    questions = file_questions(("a", "slow one"), ("b", "fast one"), ("c", "fast two"))
    server.plan("slow one", "slow")
    ordered = run(server, questions, concurrency=3)
    assert [r["id"] for r in ordered] == ["q0", "q1", "q2"]
    assert [r["meta"] for r in ordered] == [{"ref": "r0"}, {"ref": "r1"}, {"ref": "r2"}]
    server.plan("slow one", "slow")
    unordered = run(server, questions, concurrency=3, ordered=False)
    assert [r["id"] for r in unordered][-1] == "q0" and len(unordered) == 3


def test_questions_go_to_their_documents_and_missing_documents_are_errors(server):
    policy = ErrorPolicy("skip")
    questions = file_questions(("c", "about c"), ("a", "about a"), ("zz", "about nothing"), ("c", "more on c"))
    recs = run(server, questions, policy=policy)
    # document order, then each document's questions in file order
    assert [(r["doc"], r["question"]) for r in recs] == [("a", "about a"), ("c", "about c"), ("c", "more on c")]
    assert policy.failed == 1
    with pytest.raises(GlyphError, match="document 'zz' is not in the inputs"):
        run(server, questions)


def test_api_key_comes_from_the_environment(server, monkeypatch):
    monkeypatch.setenv("GLYPH_TEST_KEY", "sekret")
    run(server, cli_questions(["Q?"]), docs=DOCS[:1], api_key_env="GLYPH_TEST_KEY")
    assert server.requests[-1]["authorization"] == "Bearer sekret"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    run(server, cli_questions(["Q?"]), docs=DOCS[:1])
    assert server.requests[-1]["authorization"] is None
    assert "sekret" not in str(backend(server, api_key_env="GLYPH_TEST_KEY").describe())
    monkeypatch.delenv("GLYPH_TEST_KEY")
    with pytest.raises(UsageError, match="GLYPH_TEST_KEY"):
        backend(server, api_key_env="GLYPH_TEST_KEY")


def test_unreachable_server_fails_with_a_clear_message():
    srv = FakeServer()
    url = srv.base_url
    srv.server_close()  # nothing listens there now
    with pytest.raises(GlyphError, match=r"models: gave up after 2 attempt\(s\).*is the server at .* up"):
        OpenAIBackend(url, retries=1, backoff=0.01).resolve_model()


@pytest.mark.parametrize("url", ["localhost:8000", "ftp://x/v1", "http://"])
def test_bad_base_url(url):
    with pytest.raises(UsageError, match="not an http"):
        OpenAIBackend(url)


def test_parallel_turns_a_crash_into_that_items_result():
    def fragile(i):
        if i == 2:
            raise KeyError("bug")
        return i

    results = list(parallel(fragile, range(5), workers=2, ordered=True))
    assert [r for _, r in results if not isinstance(r, Exception)] == [0, 1, 3, 4]
    assert isinstance(results[2][1], KeyError)


def test_both_reasoning_fields_are_not_counted_twice():
    from glyph_cli.models.openai_backend import _Reply

    reply = _Reply()
    reply.add_payload({"choices": [{"delta": {"reasoning_content": "think", "reasoning": "think"}}]}, "delta")
    reply.add_payload({"choices": [{"delta": {"reasoning": " more"}}]}, "delta")
    reply.add_payload({"choices": [{"delta": {"content": "answer"}, "finish_reason": "stop"}]}, "delta")
    assert ("".join(reply.reasoning), "".join(reply.content), reply.finish) == ("think more", "answer", "stop")


def test_parallel_is_lazy_bounded_and_reraises_input_errors():
    pulled = []

    def items():
        for i in range(100):
            pulled.append(i)
            yield i
        raise ValueError("input broke")

    gate = threading.Event()

    def slow(i):
        gate.wait(2)
        return i * 2

    results = parallel(slow, items(), workers=2, ordered=True)
    first = []
    t = threading.Thread(target=lambda: first.append(next(results)))
    t.start()
    time.sleep(0.2)
    assert len(pulled) <= 2 * 4 + 1  # the window (4 per worker) holds the feeder back
    gate.set()
    t.join()
    assert first == [(0, 0)]
    with pytest.raises(ValueError, match="input broke"):
        list(results)
    assert pulled == list(range(100))
