"""GRPO rewards, as trl reward functions: `f(prompts, completions, **columns) -> [float | None]`.

None means "does not apply to this example" (trl skips it for that row): the answer rewards
score instruct examples, the OCR reward scores the auxiliary OCR examples.
- answer correctness: bench's scorers on the answer after the `<think>` block is stripped:
  exact (normalised exact match), contains (a reference appears in the answer: RULER's
  string_match_part), f1 (LongBench's QA F1); or a judge model through ask's openai backend;
- format: 1 when the output is one closed `<think>...</think>` block followed by a non-empty answer;
- ocr: 1 - normalised edit distance between the output and the page's exact text.
"""

from __future__ import annotations

from glyph_cli.bench.scoring import normalize_answer, qa_f1_score, string_match_part
from glyph_cli.models.parse import THINK_CLOSE, split_thinking


def answer_of(completion) -> str:
    """The answer after the thinking block (glyph's one parser, glyph_cli.models.parse)."""
    return split_thinking(completion_text(completion)).answer


def completion_text(completion) -> str:
    """trl hands conversational completions as a list of messages, plain ones as a string."""
    if isinstance(completion, str):
        return completion
    texts = []
    for message in completion:
        content = message.get("content", "")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        texts.append(content or "")
    return "".join(texts)


def _score(metric: str, prediction: str, answers: list[str]) -> float:
    if metric == "exact":
        return float(any(normalize_answer(prediction) == normalize_answer(a) for a in answers))
    if metric == "contains":
        return string_match_part(prediction, answers)
    if metric == "f1":
        return max(qa_f1_score(prediction, a) for a in answers)
    raise ValueError(f"unknown correctness metric {metric!r}")


def correctness_reward(metric: str):
    def answer_correctness(prompts, completions, task, answers, **_):
        return [_score(metric, answer_of(c), refs) if t == "instruct" else None
                for c, t, refs in zip(completions, task, answers)]

    return answer_correctness


def judge_reward(backend, judge_prompt: str = (
        "Question: {question}\nReference answer: {reference}\nCandidate answer: {answer}\n"
        "Is the candidate answer correct? Reply with yes or no.")):
    """A judge model (ask's openai backend) says yes or no; yes scores 1."""
    from glyph_cli.models.backend import Job
    from glyph_cli.models.prompts import Part

    def answer_judge(prompts, completions, task, answers, question, **_):
        jobs, rows = [], []
        for i, (c, t, refs, q) in enumerate(zip(completions, task, answers, question)):
            if t != "instruct":
                continue
            text = judge_prompt.format(question=q, reference=refs[0], answer=answer_of(c))
            jobs.append(Job(len(jobs), str(i), str(i), text, [Part("text", text)], "text", None))
            rows.append(i)
        scores: list[float | None] = [None] * len(completions)
        for job, result in backend.generate(jobs):
            if isinstance(result, Exception):
                raise result
            scores[rows[job.index]] = 1.0 if split_thinking(result.raw).answer.strip().lower().startswith("yes") else 0.0
        return scores

    return answer_judge


def format_reward(prompts, completions, task, **_):
    out = []
    for c, t in zip(completions, task):
        if t != "instruct":
            out.append(None)
            continue
        text = completion_text(c)
        parsed = split_thinking(text)
        ok = parsed.thinking is not None and parsed.thinking_closed and text.count(THINK_CLOSE) == 1 and bool(parsed.answer)
        out.append(1.0 if ok else 0.0)
    return out


def ocr_reward(prompts, completions, task, target, **_):
    from rapidfuzz.distance import Levenshtein

    return [1.0 - Levenshtein.normalized_distance(completion_text(c), ref) if t == "ocr" else None
            for c, t, ref in zip(completions, task, target)]


def reward_functions(rewards: dict, judge: dict | None = None) -> tuple[list, list[float]]:
    """The reward functions and their weights from a run config's `grpo.rewards` (weight 0 drops one)."""
    funcs, weights = [], []
    if rewards.get("answer", 0):
        if rewards["correctness"] == "judge":
            from glyph_cli.models.openai_backend import OpenAIBackend
            from glyph_cli.models.backend import Sampling

            backend = OpenAIBackend(judge["base_url"], judge.get("model"), sampling=Sampling(max_new_tokens=16),
                                    api_key_env=judge.get("api_key_env") or "OPENAI_API_KEY")
            funcs.append(judge_reward(backend))
        else:
            funcs.append(correctness_reward(rewards["correctness"]))
        weights.append(float(rewards["answer"]))
    if rewards.get("format", 0):
        funcs.append(format_reward)
        weights.append(float(rewards["format"]))
    if rewards.get("ocr", 0):
        funcs.append(ocr_reward)
        weights.append(float(rewards["ocr"]))
    return funcs, weights
