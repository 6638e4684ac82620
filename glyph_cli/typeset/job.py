"""The render stage as a job: read documents, apply the error policy and shard, render (in
worker processes if asked), write the page stream or a directory of PNGs, summarise on stderr."""

from __future__ import annotations

import hashlib
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from glyph_cli import log
from glyph_cli.errors import GlyphError, InputError
from glyph_cli.streams.documents import Document, read_documents
from glyph_cli.streams.io import AtomicFile, dumps, ensure_dir, write_bytes_atomic
from glyph_cli.streams.pages import page_png
from glyph_cli.typeset.config import RenderConfig

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample.txt"


def sample_path() -> Path:
    return SAMPLE


def make_renderer(cfg: RenderConfig, tokenizer: str):
    from glyph_cli.tokens.text import get_tokenizer
    from glyph_cli.tokens.visual import page_visual_tokens
    from glyph_cli.typeset.render import Renderer

    tok = get_tokenizer(tokenizer)
    return Renderer(cfg, tok.count, tok.name, page_visual_tokens)


_worker_renderer = None


def _worker_init(cfg: RenderConfig, tokenizer: str) -> None:
    global _worker_renderer
    _worker_renderer = make_renderer(cfg, tokenizer)


def render_failure(doc: Document, exc: Exception) -> InputError:
    """A crash while rendering one document, as that record's error."""
    return InputError(doc.source, doc.line, f"document {doc.id!r} failed to render: {type(exc).__name__}: {exc}")


def render_records(renderer, doc: Document) -> list[dict] | GlyphError:
    """All of one document's records, or the error that stopped it: a crash in one document is
    that record's failure, never the whole run's."""
    try:
        return list(renderer.render(doc))
    except GlyphError as exc:
        return exc
    except Exception as exc:
        return render_failure(doc, exc)


def _worker_render(doc: Document) -> list[dict] | GlyphError:
    return render_records(_worker_renderer, doc)


@dataclass
class Totals:
    docs: int = 0
    pages: int = 0
    chars: int = 0
    text_tokens: int = 0
    visual_tokens: dict = field(default_factory=dict)


def in_shard(doc_id: str, shard: tuple[int, int]) -> bool:
    """Whether a document belongs to shard K of N: stable across runs and machines, as it depends
    only on the id (sha1, so ids spread evenly whatever their form)."""
    digest = hashlib.sha1(doc_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shard[1] == shard[0]


_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def doc_dirname(doc_id: str) -> str:
    """A file-system-safe, collision-free directory name for a document id."""
    safe = _SAFE.sub("_", doc_id)[:80].lstrip(".") or "_"
    if safe != doc_id:
        safe += "-" + hashlib.sha1(doc_id.encode()).hexdigest()[:8]
    return safe


@dataclass
class RenderJob:
    cfg: RenderConfig
    inputs: list[str]
    input_format: str = "auto"
    text_field: str = "text"
    id_field: str = "id"
    on_error: str = "fail"
    tokenizer: str = "qwen2.5"
    workers: int = 1
    shard: tuple[int, int] | None = None
    out_dir: Path | None = None

    def _documents(self, policy: log.ErrorPolicy) -> Iterator[Document]:
        for item in read_documents(self.inputs, fmt=self.input_format, text_field=self.text_field,
                                   id_field=self.id_field):
            if isinstance(item, InputError):
                policy.record_failed(item)
                continue
            if self.shard is None or in_shard(item.id, self.shard):
                yield item

    def _rendered(self, policy: log.ErrorPolicy) -> Iterator[list[dict] | Iterator[dict]]:
        """Per document, its records (a lazy iterator in-process, a list from a worker)."""
        from glyph_cli.parallel import ordered_map

        docs = self._documents(policy)
        if self.workers <= 1:
            renderer = make_renderer(self.cfg, self.tokenizer)
            for doc in docs:
                yield _guarded(renderer.render(doc), doc)
            return
        for result in ordered_map(_worker_render, docs, self.workers, processes=True, initializer=_worker_init,
                                  initargs=(self.cfg, self.tokenizer)):
            if isinstance(result, Exception):
                policy.record_failed(result)
                continue
            yield result

    def run(self) -> Totals:
        policy = log.ErrorPolicy(self.on_error)
        totals = Totals()
        start = time.perf_counter()
        bar = log.progress(desc="render", unit="doc")
        out = sys.stdout.buffer
        index = None
        if self.out_dir is not None:
            ensure_dir(self.out_dir)
            index_file = AtomicFile(self.out_dir / "index.jsonl")
            index = index_file.__enter__()
        try:
            for records in self._rendered(policy):
                try:
                    for rec in records:
                        if rec["type"] == "doc":
                            self._count_doc(rec, totals)
                        else:
                            totals.pages += 1
                        if index is not None:
                            index.write(dumps(self._save_page(rec)))
                        else:
                            out.write(dumps(rec))
                except _RecordFailed as failed:
                    policy.record_failed(failed.error)
                    continue
                bar.update(1)
                bar.set_postfix(pages=totals.pages, refresh=False)
            out.flush()
        except BaseException as exc:
            if index is not None:
                index_file.__exit__(type(exc), exc, exc.__traceback__)
            raise
        finally:
            bar.close()
        if index is not None:
            index_file.__exit__(None, None, None)
        self._summary(totals, time.perf_counter() - start, policy)
        return totals

    def _count_doc(self, rec: dict, totals: Totals) -> None:
        totals.docs += 1
        totals.chars += rec["chars"]
        totals.text_tokens += rec["text_tokens"]
        for family, n in rec["visual_tokens"].items():
            totals.visual_tokens[family] = totals.visual_tokens.get(family, 0) + n
        missing = rec["missing_glyphs"]
        if missing["count"]:
            shown = missing["chars"][:20]
            log.warn(f"document {rec['id']!r}: {missing['count']} character(s) have no glyph in any installed "
                     f"font and show as boxes: {shown!r}")

    def _save_page(self, rec: dict) -> dict:
        """In --out mode a page's PNG goes to a file and the index names it."""
        if rec["type"] != "page":
            return rec
        name = f"{doc_dirname(rec['doc'])}/page-{rec['index']:05d}.png"
        path = self.out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, page_png(rec))
        saved = {k: v for k, v in rec.items() if k != "image"}
        saved["file"] = name
        return saved

    def _summary(self, t: Totals, seconds: float, policy: log.ErrorPolicy) -> None:
        from glyph_cli.tokens.visual import DEFAULT_FAMILY

        vis = t.visual_tokens.get(DEFAULT_FAMILY, 0)
        ratio = f"{t.text_tokens / vis:.2f}x" if vis else "n/a"
        rate = f"{t.chars / seconds / 1000:.0f}K chars/s" if seconds > 0 else ""
        log.info(f"rendered {t.docs} document(s), {t.pages} page(s), {t.chars} chars in {seconds:.2f}s ({rate}); "
                 f"text tokens {t.text_tokens} ({self.tokenizer}), visual tokens {vis} ({DEFAULT_FAMILY}); "
                 f"compression {ratio} (pooled: all text tokens / all visual tokens)")
        if policy.summary():
            log.info(policy.summary())


class _RecordFailed(Exception):
    def __init__(self, error: Exception):
        self.error = error


def _guarded(records: Iterator[dict], doc: Document) -> Iterator[dict]:
    """Turn a crash while rendering one document into that record's failure.

    Once its doc record is out, a document cannot be skipped without leaving a stream whose doc
    record promises pages that never come, so a failure after that point stops the run.
    """
    started = False
    try:
        for rec in records:
            started = True
            yield rec
    except Exception as exc:
        error = exc if isinstance(exc, GlyphError) else render_failure(doc, exc)
        if started:
            raise error from exc
        raise _RecordFailed(error) from exc
