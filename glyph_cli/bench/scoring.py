"""The official scoring rules of RULER, OpenAI MRCR and LongBench, written from their published definitions.

Every metric scores one prediction against one task and returns a number in [0, 1]; suites report
the mean times 100, as the official scripts do. Where an official script has a quirk that changes
numbers, it is kept and says so. Chinese is tokenised with jieba (precise mode), as LongBench's
metrics.py does. tests/data/golden_scores.json holds the reference implementations' own values
on a set of edge cases (scripts/golden_scores.py makes it from their code), and tests compare.
"""

from __future__ import annotations

import difflib
import re
import string
from collections import Counter
from typing import Callable, Sequence

from glyph_cli.errors import UsageError

# ---------------------------------------------------------------------------------------------- RULER

_CONTROL = re.compile(r"[\x00-\x1f]")


def ruler_postprocess(prediction: str) -> str:
    """RULER's postprocess_pred: control characters become newlines, then strip."""
    return _CONTROL.sub("\n", prediction.strip()).strip()


def string_match_all(prediction: str, references: Sequence[str]) -> float:
    """Fraction of the references found in the prediction (case-insensitive substring)."""
    pred = prediction.lower()
    return sum(1.0 for r in references if r.lower() in pred) / len(references)


def string_match_part(prediction: str, references: Sequence[str]) -> float:
    """1 if any reference is found in the prediction (case-insensitive substring), else 0."""
    pred = prediction.lower()
    return max(1.0 if r.lower() in pred else 0.0 for r in references)


# ---------------------------------------------------------------------------------------------- MRCR


def mrcr_score(response: str, answer: str, prefix: str) -> float:
    """OpenAI MRCR's grade(): 0 unless the response starts with the random prefix; otherwise the
    difflib SequenceMatcher ratio of response and answer, each with the prefix removed. As Glyph's
    post_api_mrcr.py grades, a GLM end-of-turn token `<|user|>` left in the response is removed
    first (it never is part of an answer)."""
    if not response.startswith(prefix):
        return 0.0
    response = response.removeprefix(prefix).replace("<|user|>", "")
    answer = answer.removeprefix(prefix)
    return float(difflib.SequenceMatcher(None, response, answer).ratio())


# ---------------------------------------------------------------------------------------------- LongBench

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_EN_PUNCT = set(string.punctuation)
_ZH_PUNCT = set(string.punctuation) | set(
    "！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏.")


def normalize_answer(s: str) -> str:
    """LongBench (from SQuAD): lowercase, drop punctuation, drop articles, collapse whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _EN_PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def normalize_zh_answer(s: str) -> str:
    """LongBench for Chinese: lowercase, drop English and Chinese punctuation, drop all whitespace."""
    return "".join("".join(ch for ch in s.lower() if ch not in _ZH_PUNCT).split())


def zh_tokens(s: str) -> list[str]:
    """Chinese text as LongBench's metrics see it: jieba's precise-mode words (`jieba.cut(s,
    cut_all=False)`), spaces and punctuation included as jieba returns them."""
    return list(_jieba().cut(s, cut_all=False))


def _jieba():
    try:
        import jieba
    except ImportError:
        raise UsageError("LongBench's Chinese metrics tokenise with jieba, which is not installed",
                         "pip install 'glyph-cli[bench]'") from None
    if not getattr(_jieba, "quiet", False):
        import logging

        jieba.setLogLevel(logging.WARNING)  # its dictionary-loading messages are not glyph's to print
        _jieba.quiet = True
    return jieba


def _f1(prediction: Sequence[str], ground_truth: Sequence[str]) -> float:
    common = Counter(prediction) & Counter(ground_truth)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(prediction)
    recall = same / len(ground_truth)
    return 2 * precision * recall / (precision + recall)


def qa_f1_score(prediction: str, ground_truth: str, **_: object) -> float:
    return _f1(normalize_answer(prediction).split(), normalize_answer(ground_truth).split())


def qa_f1_zh_score(prediction: str, ground_truth: str, **_: object) -> float:
    pred = [t for t in (normalize_zh_answer(t) for t in zh_tokens(prediction)) if t]
    gold = [t for t in (normalize_zh_answer(t) for t in zh_tokens(ground_truth)) if t]
    return _f1(pred, gold)


def _lcs_words(x: list[str], y: list[str]) -> set[str]:
    """The words of one longest common subsequence of x and y, reconstructed as the `rouge` package
    does (ties step back along y), but iteratively so that long sentences cannot overflow the stack."""
    n, m = len(x), len(y)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        xi, row, prev = x[i - 1], table[i], table[i - 1]
        for j in range(1, m + 1):
            row[j] = prev[j - 1] + 1 if xi == y[j - 1] else max(prev[j], row[j - 1])
    found: set[str] = set()
    i, j = n, m
    while i > 0 and j > 0:
        if x[i - 1] == y[j - 1]:
            found.add(x[i - 1])
            i, j = i - 1, j - 1
        elif table[i - 1][j] > table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return found


def rouge_l(prediction: str, ground_truth: str) -> float:
    """ROUGE-L F as LongBench gets it from the `rouge` package (pltrdy/rouge 1.0.1, `rouge-l` "f").

    That implementation is summary-level ROUGE-L over sentences split at "." with word *sets*
    (its default exclusive mode): the union of the LCS words of each reference sentence against
    every predicted sentence, divided by the distinct words on each side. An empty side scores 0
    (the package raises and LongBench catches it).
    """
    hyp = [" ".join(s.split()) for s in prediction.split(".") if len(s) > 0]
    ref = [" ".join(s.split()) for s in ground_truth.split(".") if len(s) > 0]
    if not hyp or not ref:
        return 0.0
    hyp_words = [s.split(" ") for s in hyp]
    ref_words = [s.split(" ") for s in ref]
    m = len({w for s in ref_words for w in s})
    n = len({w for s in hyp_words for w in s})
    union: set[str] = set()
    overlap = 0
    for reference in ref_words:
        before = len(union)
        for candidate in hyp_words:
            union |= _lcs_words(reference, candidate)
        overlap += len(union) - before
    recall, precision = overlap / m, overlap / n
    return 2.0 * (precision * recall) / (precision + recall + 1e-8)


def rouge_score(prediction: str, ground_truth: str, **_: object) -> float:
    return rouge_l(prediction, ground_truth)


def rouge_zh_score(prediction: str, ground_truth: str, **_: object) -> float:
    return rouge_l(" ".join(zh_tokens(prediction)), " ".join(zh_tokens(ground_truth)))


def classification_score(prediction: str, ground_truth: str, *, all_classes: Sequence[str] = (), **_: object) -> float:
    """LongBench's classification_score with its quirks, which change numbers and so are kept: a
    class name inside the ground truth (but not equal to it) is removed from the matches *while the
    list is iterated*, so the name after it is never checked; and its fallback branch
    (`em_match_list != 0`, always true) never runs."""
    matches = [name for name in all_classes if name in prediction]
    for term in matches:  # mutating while iterating, exactly as the official loop does
        if term in ground_truth and term != ground_truth:
            matches.remove(term)
    if ground_truth in matches:
        return 1.0 / len(matches)
    return 0.0


def retrieval_score(prediction: str, ground_truth: str, **_: object) -> float:
    return _id_share(prediction, re.findall(r"Paragraph (\d+)", ground_truth)[0])


def retrieval_zh_score(prediction: str, ground_truth: str, **_: object) -> float:
    return _id_share(prediction, re.findall(r"段落(\d+)", ground_truth)[0])


def count_score(prediction: str, ground_truth: str, **_: object) -> float:
    return _id_share(prediction, str(ground_truth))


def _id_share(prediction: str, wanted: str) -> float:
    """The share of the numbers in the prediction that equal the wanted one."""
    numbers = re.findall(r"\d+", prediction)
    return 0.0 if not numbers else sum(1 for x in numbers if x == wanted) / len(numbers)


def fuzz_ratio(a: str, b: str) -> int:
    """fuzzywuzzy's fuzz.ratio on its pure-Python path (difflib): equal -> 100, one empty -> 0."""
    if a == b:
        return 100
    if not a or not b:
        return 0
    return int(round(100 * difflib.SequenceMatcher(None, a, b).ratio()))


def code_sim_score(prediction: str, ground_truth: str, **_: object) -> float:
    """The first line without a code fence or comment marker, fuzzy-matched to the reference line."""
    chosen = ""
    for line in prediction.lstrip("\n").split("\n"):
        if "`" not in line and "#" not in line and "//" not in line:
            chosen = line
            break
    return fuzz_ratio(chosen, ground_truth) / 100


LONGBENCH_METRICS: dict[str, Callable[..., float]] = {
    "narrativeqa": qa_f1_score,
    "qasper": qa_f1_score,
    "multifieldqa_en": qa_f1_score,
    "multifieldqa_zh": qa_f1_zh_score,
    "hotpotqa": qa_f1_score,
    "2wikimqa": qa_f1_score,
    "musique": qa_f1_score,
    "dureader": rouge_zh_score,
    "gov_report": rouge_score,
    "qmsum": rouge_score,
    "multi_news": rouge_score,
    "vcsum": rouge_zh_score,
    "trec": classification_score,
    "triviaqa": qa_f1_score,
    "samsum": rouge_score,
    "lsht": classification_score,
    "passage_retrieval_en": retrieval_score,
    "passage_count": count_score,
    "passage_retrieval_zh": retrieval_zh_score,
    "lcc": code_sim_score,
    "repobench-p": code_sim_score,
}
# Few-shot datasets whose answer is the first line of the output (LongBench's scorer).
FIRST_LINE_DATASETS = {"trec", "triviaqa", "samsum", "lsht"}


def longbench_score(dataset: str, prediction: str, answers: Sequence[str], all_classes: Sequence[str] = ()) -> float:
    """LongBench's per-sample score: the best over the reference answers."""
    metric = LONGBENCH_METRICS[dataset]
    if dataset in FIRST_LINE_DATASETS:
        prediction = prediction.lstrip("\n").split("\n")[0]
    return max((metric(prediction, gt, all_classes=all_classes) for gt in answers), default=0.0)


# ---------------------------------------------------------------------------------------------- dispatch

METRICS = ("string_match_all", "string_match_part", "mrcr", "longbench")


def score_task(record: dict, prediction: str) -> float:
    """Score one prediction against one task record (docs/BENCH.md) with the record's metric.

    The prediction is scored as given: removing a thinking block is the caller's choice (the
    evaluation protocol's, glyph_cli/bench/protocol.py), made with glyph_cli.models.parse.split_thinking.
    """
    metric = record["metric"]
    answers = record["answers"]
    if metric == "string_match_all":
        return string_match_all(ruler_postprocess(prediction), answers)
    if metric == "string_match_part":
        return string_match_part(ruler_postprocess(prediction), answers)
    if metric == "mrcr":
        return mrcr_score(prediction, answers[0], record["details"]["random_string_to_prepend"])
    if metric == "longbench":
        details = record.get("details") or {}
        return longbench_score(details["dataset"], prediction, answers, details.get("all_classes") or ())
    raise ValueError(f"unknown metric {metric!r}")
