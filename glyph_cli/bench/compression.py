"""`glyph bench compression`: text tokens against visual tokens over a document set and several configs.

For each document and each rendering variant (a preset or config file, optionally at several dpis)
the document is rendered and one row records its pages, characters per page, text tokens (in the
named tokenizer), visual tokens per VLM family and the compression ratio per family. With a reader,
every page is read back by OCR and scored against the exact text it shows (glyph_cli.bench.ocr).
A summary per variant gives the ratio's mean, median, min and max over documents, and the ratio
pooled over the corpus (all text tokens / all visual tokens, where long documents weigh more).
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from glyph_cli import log
from glyph_cli.bench import ocr
from glyph_cli.errors import UsageError
from glyph_cli.streams.documents import Document
from glyph_cli.streams.pages import page_png
from glyph_cli.typeset.config import RenderConfig, load_config_file, resolve_config


@dataclass(frozen=True)
class Variant:
    label: str
    cfg: RenderConfig


def parse_numbers(values: Iterable[str], what: str) -> list[float]:
    """`--dpi 72,96 --dpi 120` -> [72, 96, 120]."""
    out: list[float] = []
    for value in values:
        for piece in str(value).split(","):
            if piece.strip():
                try:
                    out.append(float(piece))
                except ValueError:
                    raise UsageError(f"{what}: {piece!r} is not a number") from None
    return out


def variants(presets: Iterable[str], config_files: Iterable[str], dpis: Iterable[float]) -> list[Variant]:
    """Each preset and config file, at each dpi if dpis are given (the default preset if none)."""
    bases: list[tuple[str, str | None, str | None]] = [(p, p, None) for p in presets]
    bases += [(Path(f).stem, None, f) for f in config_files]
    if not bases:
        bases = [("glyph", "glyph", None)]
    dpis = list(dpis)
    out: list[Variant] = []
    for label, preset, config_file in bases:
        if config_file is not None:
            load_config_file(config_file)  # fail on a bad file before any work
        for dpi in dpis or [None]:
            cfg = resolve_config(preset, config_file, {"dpi": dpi} if dpi is not None else None)
            name = label if dpi is None else f"{label}@{dpi:g}dpi"
            out.append(Variant(name, cfg))
    labels = [v.label for v in out]
    if len(set(labels)) != len(labels):
        raise UsageError("two variants have the same name", "give each config file a different name")
    return out


def sample_document() -> Document:
    from glyph_cli.typeset.job import sample_path

    path = sample_path()
    return Document(id="sample", text=path.read_text(encoding="utf-8"), meta={}, source=str(path))


def documents(inputs: list[str], policy: log.ErrorPolicy, text_field: str = "text",
              id_field: str = "id") -> Iterator[Document]:
    """Documents from input files (documents, or the page streams and bundles glyph writes, whose
    texts are rendered again); the embedded sample when there are none."""
    from glyph_cli.inputs import texts

    if not inputs:
        yield sample_document()
        return
    yield from texts(inputs, policy, text_field, id_field)


def _ratio(text_tokens: int, visual: int) -> float | None:
    return round(text_tokens / visual, 4) if visual else None


class CompressionBench:
    def __init__(self, variants: list[Variant], tokenizer: str = "qwen2.5", reader: str | None = None,
                 ocr_workers: int = 1):
        from glyph_cli.typeset.job import make_renderer

        self.variants = variants
        self.tokenizer = tokenizer
        self.renderers = {v.label: make_renderer(v.cfg, tokenizer) for v in variants}
        self.reader = ocr.make_reader(reader) if reader else None
        self.ocr_workers = max(1, ocr_workers)

    def describe(self) -> dict:
        any_renderer = next(iter(self.renderers.values()))
        return {
            "tokenizer": any_renderer.tokenizer_name,
            "variants": [{"label": v.label, "config": v.cfg.to_dict(), "config_sha256": v.cfg.sha256()}
                         for v in self.variants],
            "reader": None if self.reader is None else {"name": self.reader.name, "version": self.reader.version()},
            "tool": any_renderer.tool,
        }

    def rows(self, docs: Iterable[Document]) -> Iterator[dict]:
        """One row per (document, variant), documents in input order, variants in the order given."""
        for doc in docs:
            for variant in self.variants:
                yield self._measure(doc, variant)

    def _measure(self, doc: Document, variant: Variant) -> dict:
        renderer = self.renderers[variant.label]
        records = renderer.render(doc)
        started = time.perf_counter()
        head = next(records)
        render_s = time.perf_counter() - started
        pages: list[dict] = []
        spans: list[list[int]] = []
        pngs: list[bytes] = []
        while True:
            started = time.perf_counter()
            page = next(records, None)
            render_s += time.perf_counter() - started
            if page is None:
                break
            spans.append(page["span"])
            if self.reader is not None:
                pngs.append(page_png(page))
            pages.append({"index": page["index"], "width": page["width"], "height": page["height"]})
        visual = head["visual_tokens"]
        row = {
            "type": "compression", "doc": head["id"], "variant": variant.label, "dpi": variant.cfg.dpi,
            "config_sha256": head["config_sha256"], "chars": head["chars"], "text_tokens": head["text_tokens"],
            "tokenizer": head["tokenizer"], "pages": head["pages"],
            "chars_per_page": round(head["chars"] / head["pages"], 1) if head["pages"] else 0.0,
            "visual_tokens": visual,
            "compression": {family: _ratio(head["text_tokens"], n) for family, n in visual.items()},
            "render_s": round(render_s, 4),
        }
        if self.reader is not None:
            row["ocr"] = self._read(doc, variant.cfg, spans, pngs)
        return row

    def _read(self, doc: Document, cfg: RenderConfig, spans: list[list[int]], pngs: list[bytes]) -> dict:
        started = time.perf_counter()
        if self.ocr_workers > 1:
            with ThreadPoolExecutor(self.ocr_workers) as pool:
                texts = list(pool.map(self.reader.read, pngs))
        else:
            texts = [self.reader.read(png) for png in pngs]
        scores = [ocr.score_page(ocr.page_reference(doc.text, span, cfg.newline, cfg.marker_text), text)
                  for span, text in zip(spans, texts)]
        edits = sum(s.edits for s in scores)
        chars = sum(s.ref_chars for s in scores)
        return {
            "reader": self.reader.name,
            "cer": round(edits / chars, 5) if chars else 0.0,
            "edits": edits, "ref_chars": chars,
            "pages": [{"index": i, "cer": round(s.cer, 5), "edits": s.edits, "ref_chars": s.ref_chars}
                      for i, s in enumerate(scores)],
            "ocr_s": round(time.perf_counter() - started, 3),
        }


def _stats(values: list[float]) -> dict:
    if not values:
        return {"mean": None, "median": None, "min": None, "max": None}
    return {"mean": round(statistics.fmean(values), 4), "median": round(statistics.median(values), 4),
            "min": round(min(values), 4), "max": round(max(values), 4)}


def summarise(rows: list[dict], variant_order: list[str]) -> list[dict]:
    """Per variant: totals, characters per page, compression statistics per family, CER."""
    out = []
    for label in variant_order:
        mine = [r for r in rows if r["variant"] == label]
        if not mine:
            continue
        families = list(mine[0]["visual_tokens"])
        pages = sum(r["pages"] for r in mine)
        chars = sum(r["chars"] for r in mine)
        summary = {
            "type": "summary", "variant": label, "dpi": mine[0]["dpi"], "docs": len(mine), "pages": pages,
            "chars": chars, "text_tokens": sum(r["text_tokens"] for r in mine),
            "visual_tokens": {f: sum(r["visual_tokens"][f] for r in mine) for f in families},
            "chars_per_page": round(chars / pages, 1) if pages else 0.0,
            "compression": {f: _stats([r["compression"][f] for r in mine if r["compression"][f] is not None])
                            for f in families},
            # the corpus as one text: all text tokens over all visual tokens (long documents weigh more)
            "compression_pooled": {f: _ratio(sum(r["text_tokens"] for r in mine),
                                             sum(r["visual_tokens"][f] for r in mine)) for f in families},
            "render_s": round(sum(r["render_s"] for r in mine), 4),
        }
        if "ocr" in mine[0]:
            edits = sum(r["ocr"]["edits"] for r in mine)
            ref = sum(r["ocr"]["ref_chars"] for r in mine)
            summary["ocr"] = {"reader": mine[0]["ocr"]["reader"], "cer": round(edits / ref, 5) if ref else 0.0,
                              "char_accuracy": round(1 - edits / ref, 5) if ref else 1.0,
                              "edits": edits, "ref_chars": ref}
        out.append(summary)
    return out


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def markdown_table(summaries: list[dict], family: str, tokenizer: str) -> str:
    """The per-variant table a researcher pastes into a note."""
    has_ocr = any("ocr" in s for s in summaries)
    head = ["variant", "dpi", "docs", "pages", "chars/page", f"text tokens ({tokenizer})",
            f"visual tokens ({family})", "compression: mean over docs", "median", "min", "max",
            "compression: pooled over corpus"]
    if has_ocr:
        reader = next(s["ocr"]["reader"] for s in summaries if "ocr" in s)
        head += [f"CER ({reader})", "char accuracy"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for s in summaries:
        c = s["compression"].get(family) or _stats([])
        cells = [s["variant"], f"{s['dpi']:g}", str(s["docs"]), str(s["pages"]), f"{s['chars_per_page']:.0f}",
                 str(s["text_tokens"]), str(s["visual_tokens"].get(family, "-")),
                 _fmt(c["mean"]), _fmt(c["median"]), _fmt(c["min"]), _fmt(c["max"]),
                 _fmt((s.get("compression_pooled") or {}).get(family))]
        if has_ocr:
            o = s.get("ocr")
            cells += [_fmt(o["cer"], 4) if o else "-", f"{o['char_accuracy']:.2%}" if o else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def family_table(summaries: list[dict]) -> str:
    """Mean compression of each variant for every VLM family."""
    families = list(summaries[0]["visual_tokens"]) if summaries else []
    lines = ["| variant (compression: mean over docs) | " + " | ".join(families) + " |", "|---|" + "|".join("---" for _ in families) + "|"]
    for s in summaries:
        lines.append(f"| {s['variant']} | " + " | ".join(_fmt(s["compression"][f]["mean"]) for f in families) + " |")
    return "\n".join(lines) + "\n"
