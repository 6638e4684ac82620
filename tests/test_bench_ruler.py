"""RULER generators: deterministic, needles where they were asked for, lengths on target."""

from __future__ import annotations

import collections
import re

import pytest

from glyph_cli.bench.tasks import ruler, task_from_record
from glyph_cli.errors import GlyphError, UsageError
from glyph_cli.typeset.job import sample_path


def words(text: str) -> int:
    """A stand-in tokenizer: whitespace-separated words."""
    return len(text.split())


ESSAY = ruler.Essay(sample_path().read_text(encoding="utf-8"), "sample")


def test_same_seed_same_task_and_seed_changes_it():
    a = ruler.generate("niah_multikey_1", 2000, words, seed=7, index=3, essay=ESSAY)
    b = ruler.generate("niah_multikey_1", 2000, words, seed=7, index=3, essay=ESSAY)
    assert a == b
    c = ruler.generate("niah_multikey_1", 2000, words, seed=8, index=3, essay=ESSAY)
    d = ruler.generate("niah_multikey_1", 2000, words, seed=7, index=4, essay=ESSAY)
    assert c.answers != a.answers and d.answers != a.answers
    assert a.id == "ruler-niah_multikey_1-2000-0003"


@pytest.mark.parametrize("name", [n for n in ruler.TASKS])
def test_every_task_fits_its_target_within_two_percent(name):
    for target in (1500, 6000):
        task = ruler.generate(name, target, words, essay=ESSAY)
        assert task.length == words(task.prompt_text() + task.answer_prefix) + task.max_new_tokens
        assert 0.98 * target <= task.length <= target, (name, target, task.length)
        for answer in task.answers:
            assert answer in task.context


@pytest.mark.parametrize("depth", [0, 10, 25, 50, 77, 100])
def test_needle_sits_at_the_requested_depth(depth):
    task = ruler.generate("niah_single_1", 4130, words, depths=[depth])  # 207 sentences: fractional cuts
    (needle,) = task.details["needles"]
    n = task.details["haystack_units"]
    before = task.context[: needle["offset"]]
    assert task.context[needle["offset"]:].startswith(needle["text"])
    assert before.count(ruler.NOISE) == int(n * depth / 100) == needle["position"]
    assert task.answers[0] in needle["text"]
    # as a fraction of the characters, within one noise sentence of the depth
    sentence = len(ruler.NOISE) + 1
    assert abs(needle["offset"] - depth / 100 * (len(task.context) - len(needle["text"]))) <= sentence


def test_multi_needles_go_to_their_depths_in_order():
    task = ruler.generate("niah_multivalue", 5000, words, depths=[80, 10, 40, 60], essay=ESSAY)
    placed = task.details["needles"]
    assert [p["depth"] for p in placed] == [10, 40, 60, 80]
    offsets = [p["offset"] for p in placed]
    assert offsets == sorted(offsets)
    for p in placed:
        assert task.context[p["offset"]:].startswith(p["text"])
    assert sorted(task.answers) == sorted(re.search(r"is: (\d+)\.", p["text"]).group(1) for p in placed)
    assert task.question.startswith("\nWhat are all the special magic numbers for ")


def test_default_depths_come_from_rulers_grid():
    task = ruler.generate("niah_multikey_1", 3000, words, essay=ESSAY)
    assert all(p["depth"] in ruler.DEPTHS for p in task.details["needles"])
    assert len(ruler.DEPTHS) == 40 and ruler.DEPTHS[0] == 0 and ruler.DEPTHS[-1] == 100 and ruler.DEPTHS[1] == 3


def test_single_needle_wording_and_needle_haystack():
    task = ruler.generate("niah_multikey_2", 3000, words)
    key = task.details["queries"][0]
    assert task.instruction.startswith("A special magic number is hidden within the following text.")
    assert task.question == f"\nWhat is the special magic number for {key} mentioned in the provided text?"
    assert task.answer_prefix == f" The special magic number for {key} mentioned in the provided text is"
    lines = task.context.split("\n")
    assert all(line.startswith("One of the special magic numbers for ") for line in lines)
    assert sum(1 for line in lines if f" for {key} is:" in line) == 1  # distractors never reuse the key


def test_multiquery_asks_for_four_keys():
    task = ruler.generate("niah_multiquery", 4000, words, essay=ESSAY)
    assert len(task.details["queries"]) == 4 and len(task.answers) == 4
    assert ", and " in task.question


def test_variable_tracking_chain_in_order():
    task = ruler.generate("vt", 3000, words)
    chain = task.details["chains"][0]
    variables, value = chain["variables"], chain["value"]
    assert task.answers == variables and len(variables) == 5
    first = task.context.index(f"VAR {variables[0]} = {value}")
    positions = [task.context.index(f"VAR {b} = VAR {a} ") for a, b in zip(variables, variables[1:])]
    assert first < positions[0] and positions == sorted(positions)
    assert f"assigned the value {value}" in task.question


def test_common_words_are_repeated_as_ruler_does():
    task = ruler.generate("cwe", 6000, words)
    listed = re.findall(r"\d+\. (\S+)", task.context)
    counts = collections.Counter(listed)
    assert all(counts[w] == 30 for w in task.answers) and len(task.answers) == 10
    assert all(c == 3 for w, c in counts.items() if w not in task.answers)
    short = ruler.generate("cwe", 2000, words)  # below 4K tokens RULER uses 6 and 1
    short_counts = collections.Counter(re.findall(r"\d+\. (\S+)", short.context))
    assert {short_counts[w] for w in short.answers} == {6}


def test_frequent_words_answers_are_ranks_two_to_four():
    task = ruler.generate("fwe", 6000, words)
    counts = collections.Counter(task.context.split())
    ranked = [w for w, _ in counts.most_common()]
    assert ranked[0] == "..."
    assert task.answers == ranked[1:4]


def test_errors_name_what_to_do():
    with pytest.raises(UsageError, match="below"):
        ruler.generate("niah_single_1", 50, words)
    with pytest.raises(UsageError, match="unknown RULER task"):
        ruler.generate("qa_1", 4000, words)
    with pytest.raises(UsageError, match="--essay"):
        ruler.generate("niah_single_2", 4000, words)
    with pytest.raises(UsageError, match="depths"):
        ruler.generate("niah_multivalue", 4000, words, depths=[50], essay=ESSAY)
    with pytest.raises(GlyphError, match="short of the target"):
        ruler.generate("cwe", 500_000, words)  # the word list cannot fill half a million words


def test_haystack_override_and_record_round_trip():
    task = ruler.generate("niah_single_2", 3000, words, haystack="noise")
    assert task.details["haystack"] == "noise" and ruler.NOISE in task.context
    record = task.to_record("words")
    assert record["text"] == task.context and record["metric"] == "string_match_all"
    assert task_from_record(record) == task
