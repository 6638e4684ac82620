"""The transformers backend end to end on a tiny random GLM-4.1V laid out like zai-org/Glyph."""

from __future__ import annotations

import importlib.util
import json
import shutil

import orjson
import pytest

from glm4v_fixture import build_glm4v_dir
from glyph_cli.errors import ConfigError, GlyphError, UsageError
from glyph_cli.log import ErrorPolicy
from glyph_cli.models.ask import Question, ask, cli_questions
from glyph_cli.models.backend import Job, Sampling
from glyph_cli.models.prompts import default_template
from page_streams import documents, page_stream, png_url

DOCS = [("a", "Alpha text.", 1), ("b", "Bravo text is longer.", 2), ("c", "Charlie.", 3)]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return build_glm4v_dir(tmp_path_factory.mktemp("glyph-tiny"))


@pytest.fixture(scope="session")
def tiny(model_dir):
    from glyph_cli.models.transformers_backend import TransformersBackend

    return TransformersBackend.load(model_dir, sampling=Sampling(max_new_tokens=6), device="cpu")


def test_fixture_has_the_released_layout(model_dir):
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "generation_config.json", "preprocessor_config.json", "tokenizer.json",
            "tokenizer_config.json", "chat_template.jinja", "model.safetensors"} <= names
    assert "video_preprocessor_config.json" not in names
    config = json.loads((model_dir / "config.json").read_text())
    assert config["architectures"] == ["Glm4vForConditionalGeneration"] and config["model_type"] == "glm4v"


def test_processor_loads_without_torchvision(model_dir):
    from transformers.utils import is_torchvision_available

    from glyph_cli.models.transformers_backend import load_processor

    processor = load_processor(model_dir)
    assert type(processor).__name__ == "Glm4vProcessor"
    assert not hasattr(processor, "video_processor")
    if not is_torchvision_available():  # the case this loader exists for
        assert type(processor.image_processor).__name__ == "Glm4vImageProcessorPil"
    assert processor.tokenizer.padding_side == "left"
    prompt = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q?"}]}],
        add_generation_prompt=True, tokenize=False)
    assert prompt == "[gMASK]<sop><|user|>\n<|begin_of_image|><|image|><|end_of_image|>Q?<|assistant|>\n"


def test_answers_for_pages_and_text(tiny):
    recs = list(ask(documents(DOCS), tiny, cli_questions(["Q?"])))
    assert [r["id"] for r in recs] == ["a:0", "b:0", "c:0"]
    for rec in recs:
        assert rec["finish"] in ("stop", "length") and 1 <= rec["completion_tokens"] <= 6
        assert rec["latency_s"] >= rec["ttft_s"] > 0
        assert rec["run"]["backend"] == "transformers" and rec["run"]["dtype"] == "float32"
    # each 56 x 84 page costs the same visual tokens plus its begin/end markers
    per_page = recs[1]["prompt_tokens"] - recs[0]["prompt_tokens"]
    assert recs[2]["prompt_tokens"] - recs[1]["prompt_tokens"] == per_page
    patches = tiny.processor.image_processor.get_number_of_image_patches(84, 56, {})
    assert per_page == patches // 4 + 2
    # one page: the template's text tokens (one per byte here) plus that page
    text_only = len(tiny.processor.tokenizer(
        "[gMASK]<sop><|user|>\n<|begin_of_image|><|end_of_image|>Q?<|assistant|>\n", add_special_tokens=False).input_ids)
    assert recs[0]["prompt_tokens"] == text_only + patches // 4

    text_recs = list(ask(documents(DOCS), tiny, cli_questions(["Q?"]), as_text=True))
    for rec, (_, text, _) in zip(text_recs, DOCS):
        assert rec["mode"] == "text"
        chat = f"[gMASK]<sop><|user|>\n{text}\n\nQ?<|assistant|>\n"
        assert rec["prompt_tokens"] == len(tiny.processor.tokenizer(chat, add_special_tokens=False).input_ids)


def test_batches_give_the_answers_of_single_questions(tiny):
    tpl = default_template(False)
    jobs = [Job(i, f"q{i}", "d", "Q?", tpl.parts("Q" + "?" * i, images=[png_url(label=str(j)) for j in range(i + 1)]),
                "pages", i + 1) for i in range(3)]
    single = [(g.raw, g.prompt_tokens, g.completion_tokens) for _, g in tiny.generate(jobs)]
    tiny.batch_size = 3
    try:
        batched = [(g.raw, g.prompt_tokens, g.completion_tokens) for _, g in tiny.generate(jobs)]
    finally:
        tiny.batch_size = 1
    assert batched == single
    assert len({p for _, p, _ in single}) == 3  # different prompt lengths: left padding was exercised


@pytest.fixture
def constant(model_dir):
    """The tiny model with its output layer zeroed: every logit ties, so it says token 0 forever."""
    from glyph_cli.models.transformers_backend import TransformersBackend

    def make(sampling: Sampling, end_token_zero: bool = False):
        backend = TransformersBackend.load(model_dir, sampling=sampling, device="cpu")
        backend.model.lm_head.weight.data.zero_()
        if end_token_zero:
            backend.model.generation_config.eos_token_id = [0]
            backend.end_ids = {0}
        return backend

    return make


def test_finish_reasons_and_the_repetition_guard(constant):
    jobs = lambda: [Job(0, "q", "d", "Q?", default_template(False).parts("Q?", images=[png_url()]), "pages", 1)]
    [(_, looped)] = constant(Sampling(max_new_tokens=200, repeat_window=32)).generate(jobs())
    assert looped.finish == "repetition"
    assert looped.completion_tokens == 32  # stopped at the first check with a full window
    assert looped.raw == "!" * 32  # token 0 is the byte "!"
    [(_, long)] = constant(Sampling(max_new_tokens=40, repeat_window=0)).generate(jobs())
    assert (long.finish, long.completion_tokens, long.raw) == ("length", 40, "!" * 40)
    [(_, stopped)] = constant(Sampling(max_new_tokens=40), end_token_zero=True).generate(jobs())
    assert (stopped.finish, stopped.completion_tokens, stopped.raw) == ("stop", 1, "")


def test_failed_generation_is_that_questions_error(tiny):
    policy = ErrorPolicy("skip")
    docs = documents(DOCS[:2])
    docs[0][1][0]["image"] = "data:image/png;base64,bm90IGEgcG5n"  # "not a png"
    recs = list(ask(docs, tiny, [Question("x", "Q?", "a"), Question("y", "Q?", "b")], policy=policy))
    assert [r["id"] for r in recs] == ["y"] and policy.failed == 1


def test_out_of_memory_is_that_batchs_error_with_a_hint(tiny, monkeypatch):
    import torch

    def no_memory(**kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(tiny.model, "generate", no_memory)
    tpl = default_template(False)
    jobs = [Job(i, f"q{i}", "d", "Q?", tpl.parts("Q?", images=[png_url()] * 2), "pages", 2) for i in range(2)]
    tiny.batch_size = 2
    try:
        results = [g for _, g in tiny.generate(jobs)]
    finally:
        tiny.batch_size = 1
    assert len(results) == 2 and all(isinstance(r, GlyphError) for r in results)
    assert "out of cpu memory with 2 question(s) and 4 page(s)" in str(results[0])
    assert "--batch-size" in results[0].hint


def test_a_prompt_longer_than_the_model_reads_fails_alone(tiny):
    limit = tiny.model.config.text_config.max_position_embeddings
    assert tiny.context_limit == limit == 8192
    tpl = default_template(True)
    jobs = [Job(0, "short", "d", "Q?", tpl.parts("Q?", context_text="brief"), "text", None),
            Job(1, "long", "d", "Q?", tpl.parts("Q?", context_text="x" * limit), "text", None),
            Job(2, "short2", "d", "Q?", tpl.parts("Q??", context_text="brief too"), "text", None)]
    single = [g for _, g in tiny.generate([jobs[0], jobs[2]])]
    tiny.batch_size = 3
    try:
        results = [g for _, g in tiny.generate(jobs)]
    finally:
        tiny.batch_size = 1
    assert isinstance(results[1], GlyphError)
    assert f"longer than the model's context of {limit:,} tokens" in str(results[1])
    # the others ran as a batch of two, unpadded by the long one
    assert [(g.raw, g.prompt_tokens) for g in (results[0], results[2])] == [(g.raw, g.prompt_tokens) for g in single]


def test_attention_kernel_is_chosen_or_refused(model_dir):
    from glyph_cli.models.transformers_backend import TransformersBackend, load_model

    backend = TransformersBackend.load(model_dir, device="cpu", attn="eager")
    assert backend.model.config._attn_implementation == "eager"
    assert backend.describe()["attention"] == "eager"
    assert TransformersBackend.load(model_dir, device="cpu").describe()["attention"] == "sdpa"  # transformers' pick
    with pytest.raises(UsageError, match="--attn must be one of"):
        load_model(model_dir, device="cpu", attn="fastest")
    if importlib.util.find_spec("flash_attn") is None:  # a kernel whose package is missing: an error, not a crash
        with pytest.raises(ConfigError, match="FlashAttention2"):
            load_model(model_dir, device="cpu", attn="flash_attention_2")


def test_remote_code_is_not_run_without_the_flag(model_dir, tmp_path):
    from glyph_cli.models.transformers_backend import load_model, load_processor

    d = tmp_path / "m"
    shutil.copytree(model_dir, d)
    marker = tmp_path / "ran"
    (d / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('x')\nfrom transformers import *\n")
    config = json.loads((d / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.Glm4vConfig", "AutoModelForImageTextToText": "evil.Model",
                          "AutoProcessor": "evil.Processor"}
    (d / "config.json").write_text(json.dumps(config))
    load_processor(d)
    load_model(d, device="cpu")
    assert not marker.exists()


def test_missing_model_dir(tmp_path):
    from glyph_cli.models.transformers_backend import load_processor

    with pytest.raises(UsageError, match="no such directory"):
        load_processor(tmp_path / "nope")
    with pytest.raises(UsageError, match="no config.json"):
        load_processor(tmp_path)


@pytest.mark.slow
def test_cli_end_to_end(glyph, model_dir, tmp_path):
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"id": "q-c", "doc": "c", "question": "Third?"}\n{"id": "q-a", "doc": "a", "question": "First?"}\n')
    proc = glyph("ask", "-m", str(model_dir), "--questions", str(qa), "--max-new-tokens", "3", "--batch-size", "2",
                 input=page_stream(DOCS))
    assert proc.returncode == 0, proc.stderr
    recs = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["id"], r["doc"], r["pages"]) for r in recs] == [("q-a", "a", 1), ("q-c", "c", 3)]
    assert all(r["completion_tokens"] <= 3 and r["run"]["batch_size"] == 2 for r in recs)
    assert b"answered 2 question(s)" in proc.stderr
    assert b"Loading weights" not in proc.stderr  # transformers' bar follows --progress
