"""Golden values for glyph's scorers, produced by the reference implementations themselves.

Runs, on the prediction / answer pairs below (English and Chinese, edge cases), the official code:

- LongBench (THUDM/LongBench): LongBench/metrics.py, and LongBench/eval.py's dataset2metric and
  scorer() (first-line rule, best over the answers, mean x 100 rounded to 2 places);
- Glyph's LongBench metrics (thu-coai/Glyph evaluation/longbench/scripts/metrics.py);
- RULER (NVIDIA/RULER): scripts/eval/synthetic/constants.py's string_match_all / string_match_part
  after scripts/eval/evaluate.py's postprocess_pred;
- Glyph's RULER scoring (evaluation/ruler/scripts/post_api_ruler.py: postprocess_pred, the
  per-item recalls of its string_match_*) and MRCR grading (evaluation/mrcr/scripts/post_api_mrcr.py:
  grade_response, the SequenceMatcher ratio after the random prefix).

Only the functions named are taken from each file (its module-level code, which loads models or
reads command lines, is not run). Each repository is given as a bare git mirror or a checkout:

    PYTHONPATH=/tmp/refdeps python benchmarks/golden_scores.py \\
        --longbench /work/.mirror/THUDM+LongBench/repo --ruler /work/.mirror/NVIDIA+RULER/repo \\
        --glyph /work/.mirror/thu-coai+Glyph/repo -o tests/data/golden_scores.json

The reference code needs jieba, fuzzywuzzy 0.18 (without python-Levenshtein, as LongBench's
requirements install it) and rouge 1.0.1 importable (`pip install --target /tmp/refdeps
fuzzywuzzy==0.18.0 rouge==1.0.1`). The output holds the inputs and the values only.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

# --------------------------------------------------------------------------------------- the inputs

# (dataset, prediction, answers, all_classes)
LONGBENCH = [
    ("narrativeqa", "The cat sat on the mat.", ["a cat on a mat"], []),
    ("narrativeqa", "", ["anything"], []),
    ("narrativeqa", "the", ["The"], []),  # articles only: nothing left on either side
    ("narrativeqa", "PARIS, France!!", ["paris", "Lyon, France"], []),
    ("narrativeqa", "An apple a day keeps the doctor away", ["the doctor", "an apple"], []),
    ("hotpotqa", "yes", ["Yes"], []),
    ("qasper", "unanswerable", ["Unanswerable", "no"], []),
    ("2wikimqa", "It was 1,024 people (roughly).", ["1024 people"], []),
    ("multifieldqa_zh", "北京大学", ["北京"], []),
    ("multifieldqa_zh", "今天天气好", ["今天天气很好"], []),
    ("multifieldqa_zh", "答案是：中华人民共和国成立于1949年。", ["1949年", "一九四九年"], []),
    ("multifieldqa_zh", "", ["北京"], []),
    ("multifieldqa_zh", "用GPT-4写代码，很快！", ["用 GPT-4 写代码"], []),
    ("gov_report", "The report finds costs rose. It recommends review.",
     ["Costs rose sharply in the report. A review is recommended."], []),
    ("gov_report", "...", ["anything at all"], []),
    ("gov_report", "", ["anything at all"], []),
    ("qmsum", "the the the meeting", ["The meeting discussed the budget"], []),
    ("samsum", "\nAnna will bring cake.\nBob agrees.", ["Anna brings the cake"], []),
    ("samsum", "Anna will bring cake. Bob agrees", ["Anna brings the cake. Bob is fine with it"], []),
    ("dureader", "北京是中国的首都，有很多名胜古迹。", ["北京是首都"], []),
    ("vcsum", "会议讨论了预算。决定下周再议。", ["会议讨论预算，下周再议"], []),
    ("trec", "Location\nbecause it names a place", ["Location"], ["Location", "Description", "Entity"]),
    ("trec", "\n\nEntity", ["Entity"], ["Location", "Description", "Entity"]),
    ("trec", "Description or Location", ["Location"], ["Location", "Description", "Entity"]),
    ("trec", "City, not Country", ["City"], ["City", "Country", "Location", "Description"]),
    ("trec", "Location City", ["City"], ["Location", "City", "Country"]),
    ("lsht", "体育新闻", ["体育"], ["体育", "财经", "体育新闻"]),
    ("triviaqa", "Mount Everest\nIt is the highest.", ["Everest", "Mt. Everest"], []),
    ("passage_retrieval_en", "Paragraph 3", ["Paragraph 3"], []),
    ("passage_retrieval_en", "Paragraph 3 or Paragraph 12", ["Paragraph 3"], []),
    ("passage_retrieval_en", "none", ["Paragraph 3"], []),
    ("passage_retrieval_zh", "段落5", ["段落5"], []),
    ("passage_retrieval_zh", "我认为是段落5和段落7", ["段落5"], []),
    ("passage_count", "There are 7 unique paragraphs.", ["7"], []),
    ("passage_count", "7 or 8", ["7"], []),
    ("passage_count", "", ["7"], []),
    ("lcc", "    return x + 1\n", ["return x + 1"], []),
    ("lcc", "```python\n# comment\nreturn x+1\n```", ["return x + 1"], []),
    ("lcc", "", ["return x + 1"], []),
    ("repobench-p", "// c\nfoo(bar);", ["foo(bar);"], []),
]

# (metric, prediction, references)
RULER = [
    ("string_match_all", "The special magic number is 1234567.", ["1234567"]),
    ("string_match_all", "", ["1234567"]),
    ("string_match_all", "  APPLE-TREE and pear\x00tree ", ["apple-tree", "pear-tree", "Pear"]),
    ("string_match_all", "1. foo 2. bar", ["foo", "bar", "baz"]),
    ("string_match_all", "\tKWXYZ\nABCDE\x1fFGHIJ", ["kwxyz", "ABCDE", "fghij"]),
    ("string_match_all", "北京 上海", ["北京", "广州"]),
    ("string_match_part", "The answer is Paris.", ["paris", "Lyon"]),
    ("string_match_part", "", ["paris"]),
    ("string_match_part", "Marseille", ["paris", "Lyon"]),
]

# (response, answer, random_string_to_prepend)
MRCR = [
    ("aB3x9Second tapir poem.", "aB3x9Second tapir poem.", "aB3x9"),
    ("Second tapir poem.", "aB3x9Second tapir poem.", "aB3x9"),
    ("aB3x9Second tapir poems, badly.", "aB3x9Second tapir poem.", "aB3x9"),
    ("aB3x9", "aB3x9Second tapir poem.", "aB3x9"),
    ("", "aB3x9Second tapir poem.", "aB3x9"),
    ("aB3x9Second tapir poem.<|user|>", "aB3x9Second tapir poem.", "aB3x9"),
    ("aB3x9Second tapir poem.", "Second tapir poem.", "aB3x9"),
    (" aB3x9Second tapir poem.", "aB3x9Second tapir poem.", "aB3x9"),
]


# --------------------------------------------------------------------------------------- the code


def read(repo: str, path: str) -> str:
    """A file of a repository given as a bare git mirror or as a checkout."""
    root = Path(repo)
    if (root / path).is_file():
        return (root / path).read_text(encoding="utf-8")
    return subprocess.run(["git", f"--git-dir={root}", "show", f"HEAD:{path}"], check=True,
                          capture_output=True, text=True).stdout


def load(source: str, names: list[str], namespace: dict) -> dict:
    """Run the imports, the named functions and the named assignments of a file into `namespace`."""
    tree = ast.parse(source)
    keep = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            keep.append(node)
        elif isinstance(node, ast.FunctionDef) and node.name in names:
            keep.append(node)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in names for t in node.targets):
            keep.append(node)
    found = {n.name for n in keep if isinstance(n, ast.FunctionDef)}
    found |= {t.id for n in keep if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    missing = set(names) - found
    if missing:
        raise SystemExit(f"not found in the reference file: {', '.join(sorted(missing))}")
    # Imports the chosen code does not need (requests, torch, nemo, ...) may be absent: skip them.
    module = ast.Module(body=[], type_ignores=[])
    for node in keep:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            try:
                exec(compile(ast.Module(body=[node], type_ignores=[]), "<import>", "exec"), namespace)
            except ImportError:
                continue
        else:
            module.body.append(node)
    exec(compile(module, "<reference>", "exec"), namespace)
    return namespace


def longbench(repo: str, metrics_path: str, eval_path: str | None) -> tuple[dict, dict | None]:
    metrics = load(read(repo, metrics_path), [
        "normalize_answer", "normalize_zh_answer", "count_score", "retrieval_score", "retrieval_zh_score",
        "code_sim_score", "classification_score", "rouge_score", "rouge_zh_score", "f1_score", "qa_f1_score",
        "qa_f1_zh_score"], {})
    if eval_path is None:
        return metrics, None
    namespace = dict(metrics)
    sys.modules.setdefault("metrics", type(sys)("metrics")).__dict__.update(metrics)
    load(read(repo, eval_path), ["dataset2metric", "scorer"], namespace)
    return metrics, namespace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--longbench", required=True, help="THUDM/LongBench mirror or checkout")
    ap.add_argument("--ruler", required=True, help="NVIDIA/RULER mirror or checkout")
    ap.add_argument("--glyph", required=True, help="thu-coai/Glyph mirror or checkout")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()

    metrics, lb_eval = longbench(args.longbench, "LongBench/metrics.py", "LongBench/eval.py")
    glyph_metrics, _ = longbench(args.glyph, "evaluation/longbench/scripts/metrics.py", None)
    lb_rows = []
    for dataset, pred, answers, classes in LONGBENCH:
        metric = lb_eval["dataset2metric"][dataset]
        name = metric.__name__
        # The reference cuts the first line inside scorer(); the per-answer values here are the
        # metric on the prediction as scorer() passes it.
        cut = pred.lstrip("\n").split("\n")[0] if dataset in ["trec", "triviaqa", "samsum", "lsht"] else pred
        per_answer = [float(metric(cut, gt, all_classes=classes)) for gt in answers]
        glyph_values = [float(glyph_metrics[name](cut, gt, all_classes=classes)) for gt in answers]
        if glyph_values != per_answer:
            raise SystemExit(f"Glyph's and LongBench's {name} disagree on {pred!r}: {glyph_values} vs {per_answer}")
        lb_rows.append({"dataset": dataset, "metric": name, "prediction": pred, "answers": answers,
                        "all_classes": classes, "per_answer": per_answer,
                        "scorer": lb_eval["scorer"](dataset, [pred], [answers], classes)})

    constants = load(read(args.ruler, "scripts/eval/synthetic/constants.py"),
                     ["string_match_all", "string_match_part"], {})
    evaluate = load(read(args.ruler, "scripts/eval/evaluate.py"), ["postprocess_pred"], {})
    glyph_ruler = load(read(args.glyph, "evaluation/ruler/scripts/post_api_ruler.py"),
                       ["postprocess_pred", "string_match_all", "string_match_part"], {})
    ruler_rows = []
    for metric, pred, refs in RULER:
        clean = evaluate["postprocess_pred"](pred, {})
        _, recalls = glyph_ruler[metric]([glyph_ruler["postprocess_pred"](pred)], [refs])
        ruler_rows.append({"metric": metric, "prediction": pred, "references": refs,
                           "ruler_score": constants[metric]([clean], [refs]), "glyph_recall": recalls[0]})
    aggregate = {m: constants[m]([evaluate["postprocess_pred"](p, {}) for mm, p, _ in RULER if mm == m],
                                 [r for mm, _, r in RULER if mm == m]) for m in ("string_match_all", "string_match_part")}

    mrcr = load(read(args.glyph, "evaluation/mrcr/scripts/post_api_mrcr.py"), ["grade_response"], {})
    mrcr_rows = [{"response": r, "answer": a, "random_string_to_prepend": p, "grade": mrcr["grade_response"](r, a, p)}
                 for r, a, p in MRCR]

    out = {
        "about": "Values from the reference implementations, made by benchmarks/golden_scores.py; do not edit.",
        "sources": {"longbench": ["LongBench/metrics.py", "LongBench/eval.py"],
                    "glyph": ["evaluation/longbench/scripts/metrics.py", "evaluation/ruler/scripts/post_api_ruler.py",
                              "evaluation/mrcr/scripts/post_api_mrcr.py"],
                    "ruler": ["scripts/eval/synthetic/constants.py", "scripts/eval/evaluate.py"],
                    "commits": {name: _commit(path) for name, path in
                                (("longbench", args.longbench), ("ruler", args.ruler), ("glyph", args.glyph))}},
        "longbench": lb_rows,
        "ruler": ruler_rows,
        "ruler_aggregate": aggregate,
        "mrcr": mrcr_rows,
    }
    Path(args.output).write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{args.output}: {len(lb_rows)} LongBench, {len(ruler_rows)} RULER, {len(mrcr_rows)} MRCR values")


def _commit(repo: str) -> str | None:
    proc = subprocess.run(["git", f"--git-dir={repo}", "rev-parse", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() or None


if __name__ == "__main__":
    main()
