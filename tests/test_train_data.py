"""glyph train data: examples cut from pages' exact spans, the dataset on disk, style sampling."""

from __future__ import annotations

import json

import pytest

from conftest import run_glyph
from glyph_cli.errors import InputError, UsageError
from glyph_cli.log import ErrorPolicy
from glyph_cli.models.ask import Question
from glyph_cli.train.data import DataOptions, ExampleBuilder, build_examples
from glyph_cli.train.styles import sample_config
from glyph_cli.train.writer import MARKER, load_dataset, read_manifest
from train_kit import PROSE, make_set, rendered, write_jsonl

LONG = " ".join(f"Line {i}: {PROSE}" for i in range(50))


@pytest.fixture(scope="module")
def pairs():
    return rendered([("long", LONG), ("short", "A short note about foxes.")])


def test_ocr_targets_are_exactly_the_text_each_page_shows(pairs):
    doc, pages = pairs[0]
    assert len(pages) >= 3
    examples = list(ExampleBuilder(DataOptions(tasks=("ocr",))).examples(doc, pages))
    assert [ex["target"] for ex in examples] == [doc["text"][p["span"][0]:p["span"][1]] for p in pages]
    # the pages tile the text: nothing lost, nothing shown twice
    assert "".join(ex["target"] for ex in examples) == doc["text"]
    assert all(len(ex["images"]) == 1 and ex["images"][0].startswith(b"\x89PNG") for ex in examples)


def test_interleave_and_generate_predict_the_text_after_what_is_shown(pairs):
    doc, pages = pairs[0]
    builder = ExampleBuilder(DataOptions(tasks=("interleave", "generate"), seed=3, max_target_chars=50))
    inter, gen = list(builder.examples(doc, pages))
    last = doc["text"][pages[-1]["span"][0]:pages[-1]["span"][1]]
    assert last.startswith(inter["target"]) and len(inter["target"]) <= 50
    runs = inter["meta"]["runs"]
    assert runs[0] == "page" and runs[-1] == "target"
    texts = [p["value"] for p in inter["parts"] if p["kind"] == "text"]
    for page, run in zip(pages, runs[:-1]):  # a run shown as text is that page's exact text
        if run == "text":
            assert any(doc["text"][page["span"][0]:page["span"][1]] in t for t in texts)
    k = gen["meta"]["pages_shown"]
    assert len(gen["images"]) == k
    assert doc["text"][pages[k]["span"][0]:].startswith(gen["target"])


def test_instruct_mixes_ocr_at_the_ratio_and_keeps_the_think_block(pairs):
    questions = [Question(f"q{i}", f"Question {i}?", "long", {"answer": f"answer {i}", "thinking": "because"}, "qa", i)
                 for i in range(6)]
    builder = ExampleBuilder(DataOptions(tasks=("instruct",), ocr_ratio=0.25, questions=questions))
    examples = list(build_examples(pairs, builder, ErrorPolicy("fail")))
    tasks = [ex["task"] for ex in examples]
    assert tasks.count("instruct") == 6 and tasks.count("ocr") == 2  # 2 / 8 = 0.25
    first = next(ex for ex in examples if ex["task"] == "instruct")
    assert first["target"] == "<think>because</think>answer 0"
    assert first["parts"][-1] == {"kind": "text", "value": "Question 0?"}  # glyph ask's template: pages, then question
    assert len({ex["id"] for ex in examples}) == len(examples)


def test_a_question_about_a_missing_document_names_its_line(pairs):
    builder = ExampleBuilder(DataOptions(tasks=("instruct",), questions=[Question("q", "Q?", "nope", {"answer": "a"}, "qa.jsonl", 7)]))
    with pytest.raises(InputError, match="qa.jsonl:7"):
        list(build_examples(pairs, builder, ErrorPolicy("fail")))


def test_options_are_checked_before_work():
    with pytest.raises(UsageError):
        DataOptions(tasks=("ocr",), ocr_ratio=0.3)
    with pytest.raises(UsageError):
        DataOptions(tasks=("poetry",))


def test_style_sampling_is_seeded_per_document_and_varied():
    a = [sample_config(1, f"d{i}").sha256() for i in range(12)]
    assert a == [sample_config(1, f"d{i}").sha256() for i in range(12)]
    assert a != [sample_config(2, f"d{i}").sha256() for i in range(12)]
    assert len(set(a)) == 12
    for i in range(40):
        cfg = sample_config(0, str(i), max_dpi=120)
        assert cfg.line_height >= cfg.font_size and 45 <= cfg.dpi <= 120 and 0.75 <= cfg.horizontal_scale <= 1


def test_style_sampling_draws_from_the_search_space_in_both_flows():
    from glyph_cli.search.space import SearchSpace, contrast_ratio
    from glyph_cli.typeset.config import resolve_config

    configs = [sample_config(3, f"doc-{i}") for i in range(60)]
    assert {c.wrap for c in configs} == {"words", "pango"}  # the released layout and Pango's flow
    assert len({c.page_size for c in configs}) > 3 and len({c.theme for c in configs}) > 2
    assert all(contrast_ratio(c.fg_color, c.bg_color) >= 4.5 for c in configs)
    narrow = SearchSpace.build(resolve_config("glyph"), None)
    narrow.params["font_size"] = narrow.params["font_size"].__class__("font_size", "float", 8, 9, 0.5)
    assert {sample_config(3, f"doc-{i}", space=narrow).font_size for i in range(30)} <= {8.0, 8.5, 9.0}
    assert sample_config(0, "x", max_dpi=40).dpi == 40


def test_dataset_on_disk_loads_with_images_and_a_manifest(tmp_path, pairs):
    out = make_set(tmp_path / "set", pairs, tasks=("ocr",), style_sampling=True, style_max_dpi=40, seed=5)
    manifest = read_manifest(out)
    assert (out / MARKER).is_file() and not (tmp_path / "set.partial").exists()
    assert manifest["counts"]["ocr"] == manifest["examples"] and manifest["seed"] == 5
    assert len(manifest["configs"]) == 2  # each document re-rendered in its own sampled style
    ds = load_dataset(out, cache_dir=tmp_path / "cache")
    row = ds[0]
    assert row["images"][0].size[0] > 0 and row["task"] == "ocr"
    assert json.loads(row["parts"])[0]["kind"] == "image"


def test_cli_pipe_writes_a_dataset_and_a_failed_run_leaves_none(tmp_path):
    docs = write_jsonl(tmp_path / "docs.jsonl", [{"id": "a", "text": LONG}])
    pages = run_glyph("render", str(docs), "--set", "dpi=30", "--set", "page_size=A5", check=True).stdout
    proc = run_glyph("train", "data", "-", "-d", str(tmp_path / "set"), "-t", "ocr", "-t", "generate", input=pages)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b""
    assert read_manifest(tmp_path / "set")["sources"] == ["<stdin>"]
    write_jsonl(tmp_path / "qa.jsonl", [{"id": "q", "doc": "missing", "question": "Q?", "answer": "A"}])
    bad = run_glyph("train", "data", "-", "-d", str(tmp_path / "bad"), "-t", "instruct",
                    "--questions", str(tmp_path / "qa.jsonl"), input=pages)
    assert bad.returncode == 1 and b"qa.jsonl:1" in bad.stderr
    assert not (tmp_path / "bad").exists() and not (tmp_path / "bad.partial").exists()


def test_the_set_is_written_by_the_export_shard_writer_and_a_failure_mid_way_leaves_none(tmp_path, pairs):
    from glyph_cli.train.data import DataOptions, ExampleBuilder, build_examples
    from glyph_cli.train.writer import write_dataset

    examples = list(build_examples(pairs, ExampleBuilder(DataOptions(tasks=("ocr",))), ErrorPolicy("fail")))
    assert len(examples) >= 3
    out = write_dataset(iter(examples), tmp_path / "set", {"sources": ["test"]}, shard_size=2)
    manifest = read_manifest(out)
    shards = json.loads((out / "_manifest.json").read_text())["shards"]
    assert manifest["shards"] == [s["name"] for s in shards] == sorted(p.name for p in out.glob("part-*.parquet"))
    assert [s["rows"] for s in shards][:-1] == [2] * (len(shards) - 1) and manifest["examples"] == len(examples)
    assert not list(out.glob(".*"))  # no temporary shard left behind
    assert [r["id"] for r in load_dataset(out, cache_dir=tmp_path / "cache")] == [ex["id"] for ex in examples]

    def dying():
        yield from examples[:3]  # one whole shard written, then the input fails
        raise InputError("pages.jsonl", 9, "broken")

    with pytest.raises(InputError):
        write_dataset(dying(), tmp_path / "dead", {}, shard_size=2)
    assert not (tmp_path / "dead").exists() and not (tmp_path / "dead.partial").exists()
    with pytest.raises(Exception, match="no training examples"):
        write_dataset(iter([]), tmp_path / "empty", {})
    assert not (tmp_path / "empty").exists() and not (tmp_path / "empty.partial").exists()
