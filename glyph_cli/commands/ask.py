"""`glyph ask`: ask a vision-language model questions about rendered pages; answers as JSONL."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from glyph_cli import log
from glyph_cli.commands import options as opt
from glyph_cli.errors import UsageError


def _answers_expected(asked, inputs: list[str], wanted: bool) -> int | None:
    """The bar's total where it is known: a questions file's questions that name their document,
    or -q questions times the documents of bundle files (from their index)."""
    if not wanted:
        return None
    if all(q.doc is not None for q in asked):
        return len(asked)
    from glyph_cli.inputs import document_count

    docs = document_count(inputs)
    return None if docs is None else docs * len(asked)


@opt.backend_parameters(after="questions")
def ask(
    inputs: Optional[List[str]] = typer.Argument(
        None, help="Page streams (glyph render output) or bundles (glyph pack output), or input documents "
                   "with --preset/--config. '-' or none: stdin."),
    question: Optional[List[str]] = typer.Option(None, "--question", "-q", help="Ask this of every document (repeatable)."),
    questions: Optional[str] = typer.Option(None, "--questions", help='JSONL of {"id", "doc", "question", ...}: '
                                                                      "each question asked of its document."),
    max_new_tokens: int = typer.Option(8192, "--max-new-tokens", help="Token limit per answer."),
    temperature: float = typer.Option(0.0, "--temperature", help="0: greedy, as Glyph is evaluated."),
    top_k: int = typer.Option(1, "--top-k", help="1: greedy; 0: off."),
    top_p: float = typer.Option(1.0, "--top-p"),
    repetition_penalty: float = typer.Option(1.1, "--repetition-penalty"),
    seed: int = typer.Option(0, "--seed", help="Sampling seed (used when sampling)."),
    repeat_window: int = typer.Option(256, "--repeat-window", help="Stop an answer whose last N tokens are one "
                                      "short unit repeated (finish: repetition); 0: off."),
    template: Optional[Path] = typer.Option(None, "--template", help="Prompt template file with {context} and "
                                            "{question}."),
    as_text: bool = typer.Option(False, "--as-text", help="Send the document's text instead of its pages "
                                 "(the text baseline)."),
    unordered: bool = typer.Option(False, "--unordered", help="Write answers as they finish, not in input order."),
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="Inputs are documents: render them with this "
                                         "preset (glyph, dpi72, dpi96, dpi120), as glyph render does."),
    config: Optional[Path] = typer.Option(None, "--config", "-c",
                                          help="Inputs are documents: render them with this config file."),
    config_old: Optional[Path] = opt.deprecated("--render-config"),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="KEY=VALUE render setting for documents (repeatable)."),
    input_format: opt.InputFormat = opt.INPUT_FORMAT,
    format_old: Optional[opt.InputFormat] = opt.deprecated("--format"),
    tokenizer: str = typer.Option("qwen2.5", "--tokenizer", help="Text tokenizer for rendered doc records."),
    text_field: str = typer.Option("text", "--text-field", help="Documents' text field."),
    id_field: str = typer.Option("id", "--id-field", help="Documents' id field."),
    output: Optional[Path] = opt.output_file("Write answers here (atomically), not stdout."),
    on_error: opt.OnError = opt.on_error("fail: stop at the first failed question; skip: report it on stderr "
                                         "and go on (exit 1 at the end)."),
    backend_params: Optional[dict] = None,
) -> int:
    """Ask a vision-language model about documents' pages (or, with --as-text, their text).

    Writes one JSON answer record per question to stdout: ids, answer, thinking, raw output,
    token counts and latency. Examples:

      glyph render docs.jsonl | glyph ask -m ./Glyph -q "Who wrote the letter?"

      glyph ask docs.jsonl -p glyph --questions qa.jsonl --base-url http://gpu:8000/v1
    """
    from glyph_cli.models.ask import Summary, ask as ask_questions, cli_questions, read_questions
    from glyph_cli.models.backend import Sampling
    from glyph_cli.models.prompts import Template
    from glyph_cli.streams.io import AtomicFile, dumps, stdout_binary
    from glyph_cli.inputs import iter_inputs

    render_config = opt.renamed(config, config_old, "-c/--config", "--render-config")
    input_format = opt.renamed(input_format, format_old, "--input-format", "--format", opt.InputFormat.auto)
    policy = opt.policy(on_error)
    if bool(question) == bool(questions):
        raise UsageError("give questions with -q TEXT or --questions FILE (one of the two)")
    if questions == "-" and (not inputs or "-" in inputs):
        raise UsageError("stdin cannot hold both the documents and --questions")
    backend_options = opt.backend_from(backend_params)
    sampling = Sampling(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                        repetition_penalty=repetition_penalty, seed=seed, repeat_window=repeat_window)
    prompt_template = Template.load(template) if template else None
    render = None
    if preset or render_config or set_:
        from glyph_cli.typeset.config import resolve_config

        overrides = {}
        for item in set_ or []:
            key, sep, value = item.partition("=")
            if not sep:
                raise UsageError(f"--set {item!r}: expected KEY=VALUE")
            overrides[key.strip()] = value
        render = resolve_config(preset or "glyph", render_config, overrides)  # as glyph render resolves it
    asked = cli_questions(question) if question else read_questions(questions, policy)

    from glyph_cli.models.registry import build

    engine = build(backend_options, sampling)
    documents = iter_inputs(inputs or [], render=render, text_only=as_text, policy=policy, tokenizer=tokenizer,
                            input_format=input_format.value, text_field=text_field, id_field=id_field)
    summary = Summary()
    records = ask_questions(documents, engine, asked, template=prompt_template, as_text=as_text,
                            ordered=not unordered, policy=policy, summary=summary)
    bar = log.progress(total=_answers_expected(asked, inputs or [], log.progress_enabled()), desc="ask", unit="q")
    try:
        if output is not None:
            with AtomicFile(output) as out:
                for rec in records:
                    out.write(dumps(rec))
                    bar.update(1)
        else:
            out = stdout_binary()
            for rec in records:
                out.write(dumps(rec))
                out.flush()  # answers are slow to come; a reader downstream sees each at once
                bar.update(1)
    finally:
        bar.close()
        engine.close()
    log.info(summary.line())
    if policy.summary():
        log.info(policy.summary())
    return 1 if policy.failed else 0
