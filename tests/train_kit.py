"""Small pages and training sets for the glyph train tests: tiny pages (A5 at 30 dpi, ~50 visual
tokens each) so a tiny GLM-4.1V trains on them in seconds."""

from __future__ import annotations

from pathlib import Path

import orjson

from glyph_cli.streams.documents import Document
from glyph_cli.typeset.config import resolve_config

SMALL = {"dpi": 30, "page_size": "A5", "font_size": 12, "line_height": 13}

PROSE = ("Glyph renders long text into page images. A vision-language model reads the pages instead of "
         "the text tokens, so one visual token covers many characters. ")


def rendered(docs: list[tuple[str, str]], **overrides) -> list[tuple[dict, list[dict]]]:
    from glyph_cli.typeset.job import make_renderer

    renderer = make_renderer(resolve_config("glyph", None, {**SMALL, **overrides}), "qwen2.5")
    out = []
    for doc_id, text in docs:
        records = list(renderer.render(Document(doc_id, text)))
        out.append((records[0], records[1:]))
    return out


def make_set(out: Path, pairs, **options) -> Path:
    """A training set from rendered (doc, pages) pairs, as glyph train data writes it."""
    from glyph_cli.log import ErrorPolicy
    from glyph_cli.train.data import DataOptions, ExampleBuilder, build_examples
    from glyph_cli.train.writer import write_dataset

    builder = ExampleBuilder(DataOptions(**options))
    return write_dataset(build_examples(pairs, builder, ErrorPolicy("fail")), out,
                         {"sources": ["test"], "seed": options.get("seed", 0)},
                         finish=lambda: {"counts": builder.counts, "configs": builder.configs})


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def metrics(run: Path) -> list[dict]:
    return [orjson.loads(line) for line in (run / "metrics.jsonl").read_bytes().splitlines()]


def losses(run: Path) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in metrics(run) if "loss" in m}
