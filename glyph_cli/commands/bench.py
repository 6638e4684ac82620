"""`glyph bench`: compression, readability, task suites, accuracy and speed, with their provenance."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from glyph_cli import log
from glyph_cli.commands import options as opt

bench = typer.Typer(
    name="bench",
    help="Benchmarks: compression over configs, OCR readability, RULER/MRCR/LongBench suites, speed.",
    no_args_is_help=True,
    suggest_commands=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class ProtocolName(str, Enum):
    glyph = "glyph"
    ruler = "ruler"


@bench.command("compression")
def compression(
    inputs: List[str] = typer.Argument(None, help="Documents (JSONL or text), page streams or bundles; none: the embedded sample."),
    preset: List[str] = typer.Option([], "--preset", "-p", help="A preset to measure (repeatable)."),
    config: List[str] = typer.Option([], "--config", "-c", help="A render config file to measure (repeatable)."),
    dpi: List[str] = typer.Option([], "--dpi", help="Measure every preset/config at these dpis, e.g. 72,96,120."),
    tokenizer: str = typer.Option("qwen2.5", "--tokenizer", help="Tokenizer that counts text tokens."),
    family: str = typer.Option("glm4v", "--family", help="VLM family of the table's visual tokens."),
    reader: Optional[str] = typer.Option(None, "--reader", help="Read pages back by OCR: tesseract or rapidocr."),
    ocr_workers: int = typer.Option(1, "--ocr-workers", help="Pages read at once (tesseract runs one process each)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write results.jsonl, table.md and PNG plots here."),
    output_format: opt.ReportFormat = opt.REPORT_FORMAT,
    jsonl_old: bool = typer.Option(False, "--jsonl", hidden=True),
    text_field: str = typer.Option("text", "--text-field", help="JSONL field holding the text."),
    id_field: str = typer.Option("id", "--id-field", help="JSONL field holding the id."),
    on_error: opt.OnError = opt.on_error("fail | skip a bad input record."),
) -> None:
    """Compression (text tokens / visual tokens) per document and config, optionally OCR readability."""
    from glyph_cli.bench import compression as cb
    from glyph_cli.bench import provenance
    from glyph_cli.errors import UsageError
    from glyph_cli.streams.io import dumps
    from glyph_cli.tokens.visual import FAMILIES

    jsonl = opt.jsonl_output(output_format, jsonl_old)
    if family not in FAMILIES:
        raise UsageError(f"--family {family!r} is not one of {', '.join(FAMILIES)}")
    policy = opt.policy(on_error)
    variants = cb.variants(preset, config, cb.parse_numbers(dpi, "--dpi"))
    run = cb.CompressionBench(variants, tokenizer=tokenizer, reader=reader, ocr_workers=ocr_workers)
    prov = provenance.record("compression", inputs=list(inputs or []) or ["<embedded sample>"], **run.describe())
    rows = []
    bar = log.progress(desc="bench compression", unit="doc")
    out = sys.stdout.buffer
    if jsonl:
        out.write(dumps(prov))
    for row in run.rows(cb.documents(list(inputs or []), policy, text_field, id_field)):
        rows.append(row)
        if jsonl:
            out.write(dumps(row))
        bar.update(1)
    bar.close()
    summaries = cb.summarise(rows, [v.label for v in variants])
    tables = (cb.markdown_table(summaries, family, prov["parameters"]["tokenizer"]) + "\n"
              + cb.family_table(summaries))
    if jsonl:
        for s in summaries:
            out.write(dumps(s))
    else:
        out.write(tables.encode("utf-8"))
    out.flush()
    if report is not None:
        from glyph_cli.bench.report import write_report

        written = write_report(report, prov, rows, summaries, tables, family)
        log.info(f"report: {', '.join(str(p) for p in written)}")
    if policy.summary():
        log.info(policy.summary())
        raise typer.Exit(1)


@bench.command("tasks")
def tasks(
    suite: str = typer.Argument(..., help="ruler (generated), mrcr or longbench (read from your files)."),
    inputs: List[str] = typer.Argument(None, help="MRCR parquet/JSONL files; LongBench JSONL files or folder."),
    task: List[str] = typer.Option([], "--task", "-t", help="RULER tasks, e.g. niah_single_1,vt (default: all)."),
    length: List[str] = typer.Option([], "--length", "-l", help="RULER target lengths in tokens, e.g. 4k,8k."),
    samples: int = typer.Option(1, "--samples", "-n", help="RULER tasks per (task, length)."),
    seed: int = typer.Option(42, "--seed", help="Seed of the generated tasks."),
    tokenizer: str = typer.Option("qwen2.5", "--tokenizer", help="Tokenizer that measures lengths."),
    essay: Optional[str] = typer.Option(None, "--essay", help="Prose for RULER's essay haystack (default: the embedded sample)."),
    haystack: Optional[str] = typer.Option(None, "--haystack", help="Override RULER's needle-task haystack: noise, needle or essay."),
    dataset: List[str] = typer.Option([], "--dataset", help="LongBench datasets to keep (default: all)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most this many tasks (per dataset for LongBench)."),
    max_length: Optional[int] = typer.Option(None, "--max-length", help="MRCR: skip tasks longer than this many tokens."),
    output: Optional[Path] = opt.output_file("Write here (atomically) instead of stdout."),
    protocol: ProtocolName = typer.Option(
        ProtocolName.glyph, "--protocol", help="RULER: the protocol the tasks are sized for; ruler leaves room in "
        "vt and cwe for RULER's in-context example, which then counts toward the length as RULER counts it."),
) -> None:
    """Write a suite as task records: input documents for `glyph render`, questions and answers as metadata."""
    from glyph_cli.bench import suites
    from glyph_cli.streams.io import AtomicFile, dumps
    from glyph_cli.tokens.text import get_tokenizer

    if samples < 1:
        from glyph_cli.errors import UsageError

        raise UsageError("--samples must be at least 1")
    produced = suites.build(suite, inputs=list(inputs or []), tokenizer=tokenizer, tasks=suites.split_names(task),
                            lengths=suites.parse_lengths(length), samples=samples, seed=seed, essay=essay,
                            haystack=haystack, datasets=suites.split_names(dataset), limit=limit,
                            max_length=max_length, fewshot_room=protocol is ProtocolName.ruler)
    name = get_tokenizer(tokenizer).name
    bar = log.progress(desc=f"{suite} tasks", unit="task")
    written = 0

    def write_all(fh) -> None:
        nonlocal written
        for item in produced:
            fh.write(dumps(item.to_record(name)))
            written += 1
            bar.update(1)

    if output is not None:
        with AtomicFile(output) as fh:
            write_all(fh)
    else:
        write_all(sys.stdout.buffer)
        sys.stdout.buffer.flush()
    bar.close()
    log.info(f"wrote {written} {suite} task(s)")


@bench.command("accuracy")
@opt.backend_parameters(after="results")
def accuracy(
    task_files: List[str] = typer.Argument(..., help="Task files written by `glyph bench tasks`."),
    results: Path = typer.Option(..., "--results", "-r", help="Results JSONL: appended to, and resumed from."),
    protocol: ProtocolName = typer.Option(
        ProtocolName.glyph, "--protocol", help="glyph: the Glyph paper's evaluation (pages then question, greedy, "
        "repetition penalty 1.1, 8192 tokens, thinking stripped); ruler: RULER's (answer prefix, vt/cwe few-shot "
        "example, per-task token budgets, greedy without repetition penalty), comparable with RULER's tables."),
    max_new_tokens: Optional[int] = typer.Option(
        None, "--max-new-tokens", help="Token limit per answer, overriding the protocol's (glyph: 8192; ruler: "
        "the task's)."),
    preset: List[str] = typer.Option([], "--preset", "-p", help="Render the contexts with this preset (repeatable)."),
    config: List[str] = typer.Option([], "--config", "-c", help="Render the contexts with this config (repeatable)."),
    dpi: List[str] = typer.Option([], "--dpi", help="Every preset/config at these dpis, e.g. 72,96,120."),
    as_text: bool = typer.Option(False, "--as-text", help="Also ask the plain-text prompt (the text baseline)."),
    text_only: bool = typer.Option(False, "--text-only", help="Ask only the plain-text prompt."),
    tokenizer: str = typer.Option("qwen2.5", "--tokenizer", help="Tokenizer of the compression ratios."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the summary table and JSONL here too."),
    on_error: opt.OnError = opt.on_error("fail | skip a question the backend failed."),
    backend_params: Optional[dict] = None,
) -> int:
    """Ask every task through a backend, score it officially, report score and compression per length."""
    from glyph_cli.bench import accuracy as acc
    from glyph_cli.bench import compression as cb
    from glyph_cli.bench import provenance
    from glyph_cli.models.backend import Sampling
    from glyph_cli.streams.io import AtomicFile, dumps, ensure_dir

    policy = opt.policy(on_error)
    arms = [] if text_only else [acc.Arm(v.label, v.cfg) for v in cb.variants(preset, config, cb.parse_numbers(dpi, "--dpi"))]
    if as_text or text_only:
        arms.append(acc.Arm(acc.TEXT_ARM, None))
    backend_options = opt.backend_from(backend_params)
    tasks = acc.read_tasks(task_files)
    store = acc.ResultsFile(results)  # a damaged results file fails before the backend is reached
    from glyph_cli.models.registry import build

    engine = build(backend_options, Sampling(max_new_tokens=max_new_tokens if max_new_tokens is not None else 8192))
    try:
        run = acc.AccuracyRun(engine, arms, tokenizer, protocol.value, max_new_tokens)
        bar = log.progress(total=len(tasks) * len(arms), desc="bench accuracy", unit="answer")
        for _ in run.run(tasks, store, policy, task_files=list(task_files)):
            bar.update(1)
        bar.close()
        prov = store.provenance[-1] if store.provenance else run.provenance(list(task_files))
    finally:
        engine.close()
    summaries = acc.summarise(store.done.values(), [a.label for a in arms], protocol.value)
    table = provenance.markdown(prov) + "\n" + acc.markdown_table(summaries, protocol.value)
    sys.stdout.write(table)
    if report is not None:
        folder = ensure_dir(report)
        with AtomicFile(folder / "summary.jsonl") as fh:
            for s in [prov, *summaries]:
                fh.write(dumps(s))
        with AtomicFile(folder / "table.md") as fh:
            fh.write(table.encode("utf-8"))
    if policy.summary():
        log.info(policy.summary())
    return 1 if policy.failed else 0


@bench.command("speed")
@opt.backend_parameters(after="backend", exclude=("backend", "concurrency"))
def speed(
    inputs: List[str] = typer.Argument(None, help="Documents or page streams; none: the embedded sample."),
    preset: List[str] = typer.Option([], "--preset", "-p", help="A preset to time (repeatable)."),
    config: List[str] = typer.Option([], "--config", "-c", help="A render config file to time (repeatable)."),
    dpi: List[str] = typer.Option([], "--dpi", help="Every preset/config at these dpis, e.g. 72,96,120."),
    repeat: int = typer.Option(1, "--repeat", help="Join each document with itself this many times (longer contexts)."),
    rounds: int = typer.Option(3, "--rounds", help="Render rounds; the median is reported."),
    tokenizer: str = typer.Option("qwen2.5", "--tokenizer", help="Tokenizer of the text token counts."),
    backend: Optional[opt.BackendName] = typer.Option(
        None, "--backend", "-b", help="Also time a model (default: openai when --base-url is given)."),
    weights: str = typer.Option("trained", "--weights", help="trained, or random: a random-weight model of a real "
                                "config, labelled so in the results."),
    new_tokens: int = typer.Option(32, "--new-tokens", help="Tokens decoded per answer (fixed, for comparable decode)."),
    output_format: opt.ReportFormat = opt.REPORT_FORMAT,
    jsonl_old: bool = typer.Option(False, "--jsonl", hidden=True),
    backend_params: Optional[dict] = None,
) -> None:
    """Render throughput on this machine; with a backend, prefill and decode of text vs pages."""
    from glyph_cli.bench import compression as cb
    from glyph_cli.bench import provenance
    from glyph_cli.bench import speed as sp
    from glyph_cli.errors import UsageError
    from glyph_cli.streams.documents import Document
    from glyph_cli.streams.io import dumps

    jsonl = opt.jsonl_output(output_format, jsonl_old)
    if weights not in ("trained", "random"):
        raise UsageError("--weights must be trained or random")
    if repeat < 1 or rounds < 1:
        raise UsageError("--repeat and --rounds must be at least 1")
    backend_options = None
    if backend or backend_params["base_url"]:  # one request at a time: requests in flight together time badly
        backend_options = opt.backend_from({**backend_params, "backend": backend}, concurrency=1)
    policy = log.ErrorPolicy("fail")
    docs = [Document(d.id, "\n\n".join([d.text] * repeat), d.meta, d.source)
            for d in cb.documents(list(inputs or []), policy)]
    variants = cb.variants(preset, config, cb.parse_numbers(dpi, "--dpi"))
    render_rows = sp.render_throughput(docs, variants, tokenizer, rounds)
    model_rows: list[dict] = []
    summary = None
    described = None
    if backend_options is not None:
        from glyph_cli.models.backend import Sampling
        from glyph_cli.models.registry import build

        engine = build(backend_options, Sampling(max_new_tokens=new_tokens, min_new_tokens=new_tokens, repeat_window=0))
        try:
            model_rows = list(sp.model_timing(engine, sp.model_jobs(docs, variants[0], tokenizer), weights))
            described = engine.describe()
        finally:
            engine.close()
        summary = sp.model_summary(model_rows)
    prov = provenance.record("speed", inputs=list(inputs or []) or ["<embedded sample>"], repeat=repeat,
                             rounds=rounds, tokenizer=tokenizer,
                             variants=[{"label": v.label, "config_sha256": v.cfg.sha256()} for v in variants],
                             backend=described, weights=weights if described else None)
    out = sys.stdout.buffer
    if jsonl:
        for rec in [prov, *render_rows, *model_rows, *([summary] if summary else [])]:
            out.write(dumps(rec))
    else:
        out.write((provenance.markdown(prov) + "\n" + sp.markdown(render_rows, model_rows, summary)).encode("utf-8"))
    out.flush()
