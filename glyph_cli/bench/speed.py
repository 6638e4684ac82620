"""`glyph bench speed`: render, pack and unpack throughput on this machine, and prefill/decode time
of a model reading the same context as text and as pages.

Render rounds draw and encode every page (the work `glyph render` does, without writing it). The
pages of the last round are then packed into a bundle and unpacked again, each timed on one thread
(the work `glyph pack` and `glyph unpack` do, files on a temporary directory). Model
timing goes through a backend: prefill is the time to the first token, decode the rate after it.
A model with random weights (a real architecture, for timing only) must be labelled so with
`weights="random"`; the label is in every row and in the table.
"""

from __future__ import annotations

import statistics
import time
from typing import Iterable, Iterator

from glyph_cli.bench.compression import Variant
from glyph_cli.streams.documents import Document

SPEED_QUESTION = "Summarise the text above in one sentence."


def render_throughput(docs: list[Document], variants: list[Variant], tokenizer: str, rounds: int = 3) -> list[dict]:
    """Per variant: the median round's pages/s and characters/s (every page drawn and PNG-encoded),
    then pack and unpack pages/s and bundle bytes per page for those pages."""
    from glyph_cli.typeset.job import make_renderer

    rows = []
    chars = sum(len(d.text) for d in docs)
    for variant in variants:
        renderer = make_renderer(variant.cfg, tokenizer)
        times, pages, png_bytes, stream = [], 0, 0, []
        for _ in range(rounds):
            pages = png_bytes = 0
            stream = []
            started = time.perf_counter()
            for doc in docs:
                for rec in renderer.render(doc):
                    stream.append(rec)
                    if rec["type"] == "page":
                        pages += 1
                        png_bytes += len(rec["image"]) * 3 // 4  # base64 -> bytes
            times.append(time.perf_counter() - started)
        seconds = statistics.median(times)
        row = {"type": "render_speed", "variant": variant.label, "dpi": variant.cfg.dpi, "docs": len(docs),
               "pages": pages, "chars": chars, "rounds": rounds, "seconds_median": round(seconds, 4),
               "seconds_all": [round(t, 4) for t in times],
               "pages_per_s": round(pages / seconds, 2), "chars_per_s": round(chars / seconds, 1),
               "png_mb": round(png_bytes / 1e6, 3)}
        row.update(pack_throughput(stream, pages))
        rows.append(row)
    return rows


def pack_throughput(records: list[dict], pages: int) -> dict:
    """Pack a page stream into a bundle and unpack it again, one thread each, timed."""
    import os
    import tempfile
    from pathlib import Path

    from glyph_cli.bundle.pack import Packer
    from glyph_cli.bundle.unpack import Unpacker
    from glyph_cli.bundle.writer import BundleWriter, PackOptions
    from glyph_cli.streams.io import dumps

    with tempfile.TemporaryDirectory() as tmp:
        stream, bundle = Path(tmp) / "pages.jsonl", Path(tmp) / "pages.glyph"
        from glyph_cli.streams.pages import end_record

        docs = sum(r["type"] == "doc" for r in records)
        stream.write_bytes(b"".join(dumps(r) for r in records) + dumps(end_record(docs, len(records) - docs)))
        started = time.perf_counter()
        with open(bundle, "wb") as fh:
            Packer(BundleWriter(fh, PackOptions(threads=1))).run([str(stream)])
        pack_s = time.perf_counter() - started
        started = time.perf_counter()
        with open(os.devnull, "wb") as out:
            Unpacker(str(bundle), threads=1).run(out)
        unpack_s = time.perf_counter() - started
        size = bundle.stat().st_size
    return {"pack_pages_per_s": round(pages / pack_s, 2), "unpack_pages_per_s": round(pages / unpack_s, 2),
            "bundle_kb_per_page": round(size / pages / 1e3, 2)}


def model_jobs(docs: Iterable[Document], variant: Variant, tokenizer: str, question: str = SPEED_QUESTION):
    """For each document, the same question asked over its text and over its pages."""
    from glyph_cli.models.backend import Job
    from glyph_cli.models.prompts import default_template
    from glyph_cli.typeset.job import make_renderer

    renderer = make_renderer(variant.cfg, tokenizer)
    index = 0
    for doc in docs:
        records = list(renderer.render(doc))
        head, pages = records[0], records[1:]
        meta = {"text_tokens": head["text_tokens"], "visual_tokens": head["visual_tokens"]}
        # The prompts `glyph ask` sends by default, with and without --as-text.
        yield Job(index, f"{doc.id}|text", doc.id, question,
                  default_template(True).parts(question, context_text=doc.text), "text", 0, meta)
        yield Job(index + 1, f"{doc.id}|pages", doc.id, question,
                  default_template(False).parts(question, images=[p["image"] for p in pages]), "pages", len(pages), meta)
        index += 2


def model_timing(backend, jobs: Iterable, weights: str) -> Iterator[dict]:
    """Prefill (time to first token) and decode (tokens/s after it) per job, as the backend measured them."""
    for job, gen in backend.generate(jobs, ordered=True):
        if isinstance(gen, Exception):
            raise gen
        decode_s = None if gen.ttft_s is None else gen.latency_s - gen.ttft_s
        new = gen.completion_tokens
        yield {"type": "model_speed", "doc": job.doc_id, "mode": job.mode, "pages": job.pages, "weights": weights,
               "text_tokens": job.meta["text_tokens"], "visual_tokens": job.meta["visual_tokens"],
               "prompt_tokens": gen.prompt_tokens, "completion_tokens": new,
               "prefill_s": None if gen.ttft_s is None else round(gen.ttft_s, 4),
               "decode_tokens_per_s": (round((new - 1) / decode_s, 2)
                                       if decode_s and new and new > 1 else None),
               "latency_s": round(gen.latency_s, 4)}


def model_summary(rows: list[dict]) -> dict:
    """Text over pages: how much longer prefill takes on text than on the same context's pages."""
    def mean(mode: str, key: str):
        values = [r[key] for r in rows if r["mode"] == mode and r[key] is not None]
        return statistics.fmean(values) if values else None

    out = {"type": "model_speed_summary", "weights": rows[0]["weights"] if rows else None}
    for key in ("prefill_s", "decode_tokens_per_s", "prompt_tokens"):
        out[key] = {"text": mean("text", key), "pages": mean("pages", key)}
    t, p = out["prefill_s"]["text"], out["prefill_s"]["pages"]
    out["prefill_speedup"] = round(t / p, 3) if t and p else None
    t, p = out["decode_tokens_per_s"]["text"], out["decode_tokens_per_s"]["pages"]
    out["decode_speedup"] = round(p / t, 3) if t and p else None
    return out


def markdown(render_rows: list[dict], model_rows: list[dict], summary: dict | None) -> str:
    lines = ["| variant | dpi | docs | pages | median s | render pages/s | chars/s | PNG MB | pack pages/s | "
             "unpack pages/s | bundle KB/page |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in render_rows:
        lines.append(f"| {r['variant']} | {r['dpi']:g} | {r['docs']} | {r['pages']} | {r['seconds_median']:.3f} | "
                     f"{r['pages_per_s']:.1f} | {r['chars_per_s']:.0f} | {r['png_mb']:.2f} | "
                     f"{r['pack_pages_per_s']:.1f} | {r['unpack_pages_per_s']:.1f} | {r['bundle_kb_per_page']:.2f} |")
    text = "\n".join(lines) + "\n"
    if model_rows and summary:
        weights = summary["weights"]
        text += (f"\nModel ({weights} weights{': timing only, answers meaningless' if weights == 'random' else ''})\n\n"
                 "| mode | prompt tokens | prefill s | decode tok/s |\n|---|---|---|---|\n")
        for mode in ("text", "pages"):
            pt, pf, dc = (summary[k][mode] for k in ("prompt_tokens", "prefill_s", "decode_tokens_per_s"))
            text += (f"| {mode} | {'-' if pt is None else f'{pt:.0f}'} | {'-' if pf is None else f'{pf:.3f}'} | "
                     f"{'-' if dc is None else f'{dc:.1f}'} |\n")
        text += f"\nprefill speedup (text / pages): {summary['prefill_speedup']}\n"
    return text
