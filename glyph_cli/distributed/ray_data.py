"""Render a corpus on Ray Data: one typesetter per actor, pages into a bundle or Parquet shards.

    import ray
    from glyph_cli.distributed.ray_data import read_jsonl, render_dataset, write_bundle
    ds = render_dataset(read_jsonl(["s3://bucket/docs-*.jsonl"]), preset="glyph", actors=16)
    write_bundle(ds, "corpus.glyph")

`RenderDocuments` is the callable class for `Dataset.map_batches`: each actor builds one Renderer
(fonts and tables once) and turns each input row, one JSONL line, into that document's page-stream
records, the very bytes `glyph render` writes for it. Order is preserved, so the bundle equals
`glyph render | glyph pack` on the same input (a test checks this on a local Ray instance).
As a script it is what `ray job submit` runs (docs/CLUSTER.md):

    python -m glyph_cli.distributed.ray_data docs.jsonl --bundle out.glyph --actors 2
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Iterable, Iterator

from glyph_cli.errors import GlyphError, InputError, UsageError


class RenderDocuments:
    """map_batches callable: rows `{"text": JSONL line}` -> rows `{"id", "stream", "error"}`, one per
    document: `stream` is its doc and page records as page-stream JSONL, `error` a message when it
    failed (then `stream` is empty). Documents need an id: without one the CLI names a document by
    its line number, which a distributed read does not know."""

    def __init__(self, config: dict | None = None, preset: str | None = "glyph", tokenizer: str = "qwen2.5",
                 text_field: str = "text", id_field: str = "id"):
        from glyph_cli.typeset.config import config_from_dict, resolve_config
        from glyph_cli.typeset.job import make_renderer

        cfg = config_from_dict(config) if config is not None else resolve_config(preset)
        self.renderer = make_renderer(cfg, tokenizer)
        self.text_field, self.id_field = text_field, id_field

    def _document(self, raw: bytes):
        import orjson

        from glyph_cli.streams.documents import parse_record

        doc = parse_record(raw, "ray", None, self.text_field, self.id_field)
        if isinstance(doc, InputError):
            return doc
        if self.id_field not in orjson.loads(raw):
            return InputError("ray", None, f"document without an {self.id_field!r} field: {raw[:60]!r}",
                              "give every document an id to render it on Ray")
        return doc

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from glyph_cli.streams.io import dumps
        from glyph_cli.typeset.job import render_records

        ids, streams, errors = [], [], []
        for line in batch["text"]:
            raw = line.encode("utf-8") if isinstance(line, str) else bytes(line)
            if not raw.strip():
                continue
            doc = self._document(raw)
            records = doc if isinstance(doc, GlyphError) else render_records(self.renderer, doc)
            ids.append(None if isinstance(doc, GlyphError) else doc.id)
            if isinstance(records, GlyphError):
                streams.append(b"")
                errors.append(str(records))
            else:
                streams.append(b"".join(dumps(rec) for rec in records))
                errors.append(None)
        return {"id": ids, "stream": streams, "error": errors}


READ_CPUS = 0.25  # reading lines is cheap next to typesetting them


def read_jsonl(paths: Iterable[str], cpus: float = READ_CPUS):
    """A Dataset of JSONL lines (column `text`), in file and line order. Read tasks reserve only
    `cpus` each, so they still run while the render actors hold the rest of the CPUs."""
    import ray.data

    return ray.data.read_text(list(paths), num_cpus=cpus)


def render_dataset(lines, *, config: dict | None = None, preset: str | None = "glyph", tokenizer: str = "qwen2.5",
                   actors: int = 2, batch_size: int = 16, cpus: float = 1.0, text_field: str = "text",
                   id_field: str = "id"):
    """The rendered Dataset (rows id, stream, error), `actors` renderers each reserving `cpus`. On
    a machine with as many CPUs as actors, give them a little less than 1 (e.g. 0.75) so the read
    tasks find room: a typesetter uses one core whatever it reserves."""
    # the output must come in input order (a bundle equals `glyph render | glyph pack`); the
    # setting lives in the context a Dataset captured when it was made, so set it there
    lines.context.execution_options.preserve_order = True
    return lines.map_batches(RenderDocuments, fn_constructor_kwargs={
        "config": config, "preset": preset, "tokenizer": tokenizer, "text_field": text_field, "id_field": id_field},
        batch_size=batch_size, concurrency=actors, num_cpus=cpus, batch_format="numpy")


def documents(rendered, on_error: str = "fail") -> Iterator[tuple[dict, list[dict]]]:
    """(doc record, page records) per document of a rendered Dataset, in input order; failed
    documents go to the error policy (`fail` raises the first)."""
    from glyph_cli import log
    from glyph_cli.streams.io import loads

    policy = log.ErrorPolicy(on_error)
    for row in rendered.iter_rows():
        if row["error"]:
            policy.record_failed(GlyphError(row["error"]))
            continue
        records = [loads(line) for line in bytes(row["stream"]).splitlines()]
        yield records[0], records[1:]


def write_bundle(rendered, path: str | os.PathLike, on_error: str = "fail", **pack_options: Any) -> int:
    """Pack a rendered Dataset into one bundle, as `glyph pack` would; returns its size in bytes."""
    from glyph_cli.api import BundleWriter

    with BundleWriter(path, **pack_options) as out:
        for doc, pages in documents(rendered, on_error):
            out.add(doc, pages)
    return out.size


def write_parquet(rendered, directory: str | os.PathLike, to: str = "parquet", shard_rows: int = 1000,
                  on_error: str = "fail"):
    """Export a rendered Dataset as page-row shards (glyph export's writer)."""
    from glyph_cli.export.run import export_documents

    return export_documents(documents(rendered, on_error), directory, to, params={"source": "ray"},
                            shard_rows=shard_rows, resumable=False, overwrite=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m glyph_cli.distributed.ray_data",
                                     description="Render JSONL documents on a Ray cluster into a bundle or Parquet.")
    parser.add_argument("inputs", nargs="+", help="JSONL files (any path Ray Data reads: local, s3://, ...)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--bundle", help="write one bundle file")
    target.add_argument("--parquet", help="write Parquet page shards into this directory")
    parser.add_argument("--preset", default="glyph")
    parser.add_argument("--actors", type=int, default=2, help="renderers (one CPU each)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--cpus", type=float, default=1.0, help="CPUs each renderer reserves")
    parser.add_argument("--address", default=None, help="Ray address (default: RAY_ADDRESS or a local instance)")
    args = parser.parse_args(argv)
    import ray

    ray.init(address=args.address, include_dashboard=False, log_to_driver=False)
    try:
        rendered = render_dataset(read_jsonl(args.inputs), preset=args.preset, actors=args.actors,
                                  batch_size=args.batch_size, cpus=args.cpus)
        if args.bundle:
            size = write_bundle(rendered, args.bundle)
            print(f"wrote {args.bundle}: {size} bytes", file=sys.stderr)
        else:
            result = write_parquet(rendered, args.parquet)
            print(f"wrote {result.rows} page(s) in {result.shards} shard(s) to {args.parquet}", file=sys.stderr)
    except (GlyphError, UsageError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
