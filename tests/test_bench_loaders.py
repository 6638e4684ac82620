"""MRCR and LongBench loaders, on tiny files written here in the shape of the public ones."""

from __future__ import annotations

import json

import pytest

from glyph_cli.bench import scoring
from glyph_cli.bench.tasks import longbench, mrcr
from glyph_cli.errors import InputError, UsageError


def _mrcr_row(prefix="aB3x9", needles=2):
    messages = [
        {"role": "user", "content": "write a poem about tapirs"},
        {"role": "assistant", "content": "Tapirs walk\nin the rain."},
        {"role": "user", "content": "write a poem about tapirs"},
        {"role": "assistant", "content": "Second tapir poem."},
        {"role": "user", "content": f"Prepend {prefix} to the 2nd (1 indexed) poem about tapirs. "
                                    "Do not include any other text in your response."},
    ]
    return {"prompt": json.dumps(messages), "answer": prefix + "Second tapir poem.",
            "random_string_to_prepend": prefix, "n_needles": needles, "desired_msg_index": 3,
            "total_messages": 5, "n_chars": 80}


def test_mrcr_context_is_the_conversation_and_question_the_last_request(tmp_path):
    path = tmp_path / "2needle.jsonl"
    path.write_text(json.dumps(_mrcr_row()) + "\n\n" + json.dumps(_mrcr_row("Zz1", 2)) + "\n")
    tasks = list(mrcr.load([str(path)], count=lambda s: len(s)))
    assert len(tasks) == 2
    task = tasks[0]
    assert task.context == ("User: write a poem about tapirs\n\nAssistant: Tapirs walk\nin the rain.\n\n"
                            "User: write a poem about tapirs\n\nAssistant: Second tapir poem.")
    assert task.question.startswith("\n\nUser: Prepend aB3x9 to the 2nd")
    assert task.length == len(task.prompt_text())
    assert task.id == "mrcr-2needle-2needle-00001" and tasks[1].id.endswith("-00003")
    record = task.to_record()
    assert scoring.score_task(record, "aB3x9Second tapir poem.") == 1.0
    assert scoring.score_task(record, "Second tapir poem.") == 0.0


def test_mrcr_filters_by_length_and_names_bad_rows(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(_mrcr_row()) + "\n")
    assert list(mrcr.load([str(path)], count=len, max_length=10)) == []
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "[]", "answer": "x"}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl:1: not an MRCR row: no random_string_to_prepend"):
        list(mrcr.load([str(bad)]))


def test_mrcr_parquet_without_pyarrow_says_what_to_do(tmp_path):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(UsageError, match="pyarrow"):
            list(mrcr.load([str(tmp_path / "2needle.parquet")]))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist([_mrcr_row()]), tmp_path / "2needle.parquet")
        assert len(list(mrcr.load([str(tmp_path / "2needle.parquet")]))) == 1


def test_longbench_prompt_split_around_the_context(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "trec.jsonl").write_text(json.dumps({
        "input": "What city is the capital of France?", "context": "Question: Who was X?\nType: Human\n",
        "answers": ["Location"], "length": 12, "dataset": "trec", "language": "en",
        "all_classes": ["Location", "Human", "Description"], "_id": "abc"}) + "\n")
    (folder / "passage_retrieval_en.jsonl").write_text(json.dumps({
        "input": "An abstract.", "context": "Paragraph 1: x\n\nParagraph 2: y", "answers": ["Paragraph 2"],
        "length": 5, "dataset": "passage_retrieval_en", "language": "en", "all_classes": None, "_id": "p1"}) + "\n")
    tasks = {t.task: t for t in longbench.load([str(folder)], count=len)}
    trec = tasks["trec"]
    assert trec.instruction == ("Please determine the type of the question below. "
                                "Here are some examples of questions.\n\n")
    assert trec.question == "\nWhat city is the capital of France?"
    assert trec.prompt_text() == longbench.config()["prompts"]["trec"].format(
        context=trec.context, input="What city is the capital of France?")
    assert trec.max_new_tokens == 64 and trec.id == "longbench-trec-abc"
    assert scoring.score_task(trec.to_record(), "Location\nbecause it names a place") == 1.0
    retrieval = tasks["passage_retrieval_en"]
    assert retrieval.question.endswith('"Paragraph 2", etc.\n\nThe answer is: ')
    assert scoring.score_task(retrieval.to_record(), "Paragraph 2") == 1.0


def test_longbench_dataset_filter_limit_and_errors(tmp_path):
    path = tmp_path / "qasper.jsonl"
    row = {"input": "q?", "context": "c", "answers": ["a"], "dataset": "qasper", "_id": "1"}
    path.write_text((json.dumps(row) + "\n") * 3)
    assert len(list(longbench.load([str(path)], limit=2))) == 2
    assert list(longbench.load([str(path)], datasets=["trec"])) == []
    (tmp_path / "odd.jsonl").write_text(json.dumps({**row, "dataset": "nope"}) + "\n")
    with pytest.raises(InputError, match="unknown LongBench dataset 'nope'"):
        list(longbench.load([str(tmp_path / "odd.jsonl")]))
    with pytest.raises(UsageError, match="no LongBench files"):
        list(longbench.load([]))


def test_longbench_config_covers_every_dataset():
    cfg = longbench.config()
    assert set(cfg["prompts"]) == set(cfg["max_new_tokens"]) == set(scoring.LONGBENCH_METRICS)
    assert all(p.count("{context}") == 1 for p in cfg["prompts"].values())
