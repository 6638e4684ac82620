"""GRPO rewards: bench's scorers after the think block, format, OCR fidelity, the judge."""

from __future__ import annotations

import pytest

from glyph_cli.models.backend import Backend, Generation
from glyph_cli.train.rewards import (correctness_reward, format_reward, judge_reward, ocr_reward,
                                     reward_functions)

CHAT = lambda text: [{"role": "assistant", "content": text}]  # noqa: E731  trl's conversational completions


def test_correctness_scores_the_answer_after_the_think_block_and_skips_other_tasks():
    outs = [CHAT("<think>maybe Paris</think>Lyon"), CHAT("<think>x</think> The Lyon."), "Lyon", CHAT("Lyon")]
    tasks = ["instruct", "instruct", "instruct", "ocr"]
    refs = [["Lyon"]] * 4
    assert correctness_reward("exact")(None, outs, tasks, refs) == [1.0, 1.0, 1.0, None]
    assert correctness_reward("exact")(None, [CHAT("<think>Lyon</think>Paris")], ["instruct"], [["Lyon"]]) == [0.0]
    assert correctness_reward("contains")(None, [CHAT("It is lyon, France")], ["instruct"], [["Lyon"]]) == [1.0]
    f1 = correctness_reward("f1")(None, [CHAT("the city of Lyon")], ["instruct"], [["Lyon France"]])[0]
    assert 0 < f1 < 1


def test_format_wants_one_closed_think_block_then_an_answer():
    outs = ["<think>a</think>b", "<think>a</think>", "<think>a", "b", "<think>a</think>b</think>c", "x"]
    assert format_reward(None, outs, ["instruct"] * 5 + ["ocr"]) == [1.0, 0.0, 0.0, 0.0, 0.0, None]


def test_ocr_reward_is_one_minus_normalised_edit_distance():
    got = ocr_reward(None, ["abcd", "abcx", "", "q"], ["ocr", "ocr", "ocr", "instruct"], ["abcd"] * 4)
    assert got == [1.0, 0.75, 0.0, None]


class Judge(Backend):
    name = "judge"

    def describe(self):
        return {}

    def generate(self, jobs, ordered=True):
        for job in jobs:  # says yes when the candidate matches the reference
            ref = job.question.split("Reference answer: ")[1].split("\n")[0]
            cand = job.question.split("Candidate answer: ")[1].split("\n")[0]
            yield job, Generation("<think>hmm</think>Yes." if ref == cand else "No")


def test_judge_reward_asks_the_backend_per_instruct_completion():
    fn = judge_reward(Judge())
    got = fn(None, [CHAT("<think>t</think>Lyon"), CHAT("Paris"), CHAT("Lyon")], ["instruct", "instruct", "ocr"],
             [["Lyon"]] * 3, ["Where?"] * 3)
    assert got == [1.0, 0.0, None]


def test_reward_weights_follow_the_config():
    funcs, weights = reward_functions({"correctness": "exact", "answer": 1.0, "format": 0.5, "ocr": 0})
    assert [f.__name__ for f in funcs] == ["answer_correctness", "format_reward"] and weights == [1.0, 0.5]
    with pytest.raises(ValueError):
        correctness_reward("bleu")(None, ["x"], ["instruct"], [["x"]])
