"""`glyph train data` as a job: read pages, build examples, write the dataset and its manifest."""

from __future__ import annotations

from pathlib import Path

from glyph_cli import log
from glyph_cli.models.prompts import Template
from glyph_cli.streams.io import display_name
from glyph_cli.train.data import DataOptions, ExampleBuilder, build_examples
from glyph_cli.train.writer import write_dataset


def make_dataset(inputs: list[str], output: str | Path, *, tasks: tuple[str, ...] = ("ocr",),
                 questions: str | None = None, ocr_ratio: float = 0.0, style_sampling: bool = False,
                 style_max_dpi: int = 150, seed: int = 0, max_target_chars: int = 4000,
                 template: str | Path | None = None, shard_size: int = 256, tokenizer: str = "qwen2.5",
                 overwrite: bool = False, policy: log.ErrorPolicy | None = None) -> Path:
    from glyph_cli.inputs import iter_inputs

    policy = policy or log.ErrorPolicy("fail")
    asked = []
    if questions:
        from glyph_cli.models.ask import read_questions

        asked = read_questions(questions, policy)
    tmpl = Template.load(template) if template else None
    options = DataOptions(tasks=tasks, seed=seed, ocr_ratio=ocr_ratio, max_target_chars=max_target_chars,
                          template=tmpl, style_sampling=style_sampling, style_max_dpi=style_max_dpi,
                          tokenizer=tokenizer, questions=asked)
    builder = ExampleBuilder(options)
    sources = [display_name(p) for p in inputs] or ["<stdin>"]
    bar = log.progress(desc="train data", unit="ex")
    try:
        out = write_dataset(build_examples(iter_inputs(inputs), builder, policy), output,
                            manifest={}, shard_size=shard_size, overwrite=overwrite,
                            on_example=lambda ex: bar.update(1), finish=lambda: {
                                "sources": sources, "tasks": list(tasks), "seed": seed, "ocr_ratio": ocr_ratio,
                                "style_sampling": style_sampling, "style_max_dpi": style_max_dpi,
                                "questions": questions, "max_target_chars": max_target_chars,
                                "template": builder.template.describe(), "counts": builder.counts,
                                "configs": builder.configs, "skipped": policy.failed})
    finally:
        bar.close()
    counts = ", ".join(f"{n} {t}" for t, n in builder.counts.items() if n)
    log.info(f"wrote {sum(builder.counts.values())} example(s) ({counts}) to {out}")
    if policy.summary():
        log.info(policy.summary())
    return out
