"""`glyph search`: search render configs for the best accuracy/compression trade-off (docs/SEARCH.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from glyph_cli.commands import options as opt

search = typer.Typer(
    name="search",
    help="LLM-driven genetic search over render configs (Optuna NSGA-II, resumable journal file).",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _default_best(study: str) -> Path:
    if "://" in study:
        from glyph_cli.errors import UsageError

        raise UsageError("with a storage URL, name the best-config file with --best")
    return Path(study).with_suffix(".best.json")


def _emit(study, fmt: str, best_path: Optional[Path], report: Optional[Path]) -> None:
    from glyph_cli import log
    from glyph_cli.search import report as rep
    from glyph_cli.search.study import best, candidates, pareto_front
    from glyph_cli.streams.io import dumps

    rows = candidates(study)
    top = best(rows)
    if best_path is not None and top is not None:
        rep.write_best(top, best_path)
        log.info(f"best: trial {top['trial']}, accuracy {top['accuracy']:.4f}, compression "
                 f"{top['compression']:.3f}x -> {best_path}")
    elif top is None:
        log.warn("no candidate meets the constraints: no best config written")
    if report is not None:
        rep.write_report(rows, report)
        log.info(f"report: {report}/report.md")
    s = rep.summary(rows)
    log.info(f"{s['candidates']} candidates ({s['evaluations']} evaluated, {s['cache_hits']} cache hits); "
             f"rendering {s['render_s']} s, reading {s['read_s']} s")
    out = sys.stdout.buffer
    if fmt == "table":
        out.write(rep.table(rows).encode())
    else:
        for row in pareto_front(rows):
            out.write(dumps(row))


@search.command("run")
def run(
    inputs: List[str] = typer.Argument(None, help="Validation set: documents (JSONL or text) for an OCR reader, "
                                                  "task files (`glyph bench tasks`) for --reader vlm; none: the embedded sample."),
    study: str = typer.Option("search.journal", "--study", "-s", help="Journal file, or an Optuna storage URL (sqlite:///x.db)."),
    resume: bool = typer.Option(False, "--resume", help="Continue (or join) the search in --study."),
    budget: List[str] = typer.Option(["50"], "--budget", help="Trials in the study (50) and/or minutes of this run (20m, 90s, 2h)."),
    budget_old: List[str] = opt.deprecated("-b", default=[]),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Evaluation processes sharing the study."),
    proposer: str = typer.Option("nsga", "--proposer", help="random | nsga | llm (an LLM proposes NSGA-II's children)."),
    population: int = typer.Option(8, "--population", min=2, help="Candidates per generation."),
    seed: int = typer.Option(0, "--seed", help="Seed: a finished run reproduces from it (one worker)."),
    preset: str = typer.Option("glyph", "--preset", "-p", help="Base config, enqueued first."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Base config file (over --preset)."),
    space: Optional[Path] = typer.Option(None, "--space", help="JSON file narrowing/widening/fixing the search space."),
    reader: str = typer.Option("tesseract", "--reader", help="Accuracy from: tesseract | rapidocr (character accuracy) or vlm (task scores)."),
    family: str = typer.Option("glm4v", "--family", help="VLM family whose visual tokens count."),
    tokenizer: str = typer.Option("qwen2.5", "--tokenizer", help="Tokenizer that counts text tokens."),
    accuracy_weight: float = typer.Option(1.0, "--accuracy-weight", help="Score = this x accuracy + ..."),
    compression_weight: float = typer.Option(0.1, "--compression-weight", help="... + this x compression."),
    min_accuracy: Optional[float] = typer.Option(None, "--min-accuracy", help="Constraint: accuracy at least this."),
    min_compression: Optional[float] = typer.Option(None, "--min-compression", help="Constraint: compression at least this."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="--reader vlm: the VLM's OpenAI-compatible server."),
    model: Optional[str] = typer.Option(None, "--model", help="--reader vlm: model name (default: the server's first)."),
    llm_base_url: Optional[str] = typer.Option(None, "--llm-base-url", help="--proposer llm: the LLM's OpenAI-compatible server."),
    llm_model: Optional[str] = typer.Option(None, "--llm-model", help="--proposer llm: model name."),
    llm_prompt: Optional[Path] = typer.Option(None, "--llm-prompt", help="--proposer llm: prompt file (default: the packaged one)."),
    llm_temperature: float = typer.Option(0.7, "--llm-temperature", help="--proposer llm: sampling temperature."),
    llm_timeout: float = typer.Option(300.0, "--llm-timeout", help="--proposer llm: seconds per request."),
    llm_retries: int = typer.Option(3, "--llm-retries", help="--proposer llm: retries per request."),
    best_path: Optional[Path] = typer.Option(None, "--best", help="Best config file [STUDY.best.json]; `glyph render --config` takes it."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write report.md, trials/front JSONL and plots here."),
    output_format: opt.OutputFormat = typer.Option(opt.OutputFormat.jsonl, "--format", help="stdout: jsonl (the Pareto front), "
                                         "table, or auto: a table on a terminal, JSONL when piped."),
) -> None:
    """Search render configs; print the Pareto front (JSONL) and write the best config.

    Examples:

      glyph search run docs.jsonl --budget 20m --report search-report/

      glyph search run --study s.journal --resume --budget 200

      glyph search run tasks.jsonl --reader vlm --base-url http://gpu:8000/v1 --proposer llm --llm-base-url http://llm:8001/v1
    """
    from glyph_cli.errors import UsageError
    from glyph_cli.search.objectives import OcrObjectiveFactory, TaskObjectiveFactory
    from glyph_cli.search.proposer import PROPOSERS, LlmSettings
    from glyph_cli.search.space import SearchSpace
    from glyph_cli.search.study import SearchSettings, parse_budget, run_search
    from glyph_cli.typeset.config import resolve_config

    if proposer not in PROPOSERS:
        raise UsageError(f"--proposer {proposer!r}: choose one of {', '.join(PROPOSERS)}")
    budget = opt.renamed(budget, budget_old, "--budget", "-b", ["50"], why="-b is --backend in ask and bench")
    if proposer == "llm" and not llm_base_url:
        raise UsageError("--proposer llm needs --llm-base-url")
    trials, minutes = parse_budget(budget)
    base = resolve_config(preset, config)
    search_space = SearchSpace.build(base, space)
    if reader == "vlm":
        if not base_url or not inputs:
            raise UsageError("--reader vlm needs --base-url and task files")
        factory = TaskObjectiveFactory(tuple(inputs), base_url, model, family, tokenizer)
    elif reader in ("tesseract", "rapidocr"):
        factory = OcrObjectiveFactory(tuple(inputs or ()), reader, family, tokenizer)
    else:
        raise UsageError(f"--reader {reader!r}: choose tesseract, rapidocr or vlm")
    objective = factory()
    llm = None
    if proposer == "llm":
        llm = LlmSettings(llm_base_url, llm_model, str(llm_prompt) if llm_prompt else None, llm_temperature,
                          timeout=llm_timeout, retries=llm_retries)
        llm.prompt_text()
    settings = SearchSettings(storage=study, space=search_space, objective=objective.describe(), proposer=proposer,
                              population=population, seed=seed, budget_trials=trials, budget_minutes=minutes,
                              accuracy_weight=accuracy_weight, compression_weight=compression_weight,
                              min_accuracy=min_accuracy, min_compression=min_compression, llm=llm)
    result = run_search(settings, factory if workers > 1 else (lambda: objective), resume=resume, workers=workers)
    _emit(result, opt.output_format(output_format), best_path or _default_best(study), report)


@search.command("show")
def show(
    study: str = typer.Argument(..., help="Journal file or Optuna storage URL of a search."),
    output_format: opt.OutputFormat = typer.Option(opt.OutputFormat.jsonl, "--format", help="jsonl (the Pareto front), table, "
                                         "or auto: a table on a terminal, JSONL when piped."),
    best_path: Optional[Path] = typer.Option(None, "--best", help="Also write the best config here."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write report.md, trials/front JSONL and plots here."),
) -> None:
    """Print the Pareto front of an existing search (it may still be running)."""
    from glyph_cli.errors import UsageError
    from glyph_cli.search.study import load_study

    if "://" not in study and not Path(study).is_file():
        raise UsageError(f"{study}: no such search journal")
    _emit(load_study(study), opt.output_format(output_format), best_path, report)
