"""The render stage as a job: read documents, apply the error policy and shard, render (in
worker processes if asked), write the page stream or a directory of PNGs, summarise on stderr."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from glyph_cli import log
from glyph_cli.errors import GlyphError, InputError
from glyph_cli.streams.documents import Document, read_documents
from glyph_cli.streams.io import dumps
from glyph_cli.streams.pages import end_record, page_png
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


_worker_error: GlyphError | None = None


def _worker_init(cfg: RenderConfig, tokenizer: str, parent_pid: int | None = None) -> None:
    global _worker_renderer, _worker_error
    _ignore_sigint()
    if parent_pid is not None:
        _watch_parent(parent_pid)
    try:
        _worker_renderer = make_renderer(cfg, tokenizer)
    except GlyphError as exc:  # a bad font or tokenizer: reported by the parent, as with -j 1
        _worker_error = exc


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
    if _worker_error is not None:
        return _SetupFailed(_worker_error)
    return render_records(_worker_renderer, doc)


class _SetupFailed(Exception):
    """A worker could not build its renderer: the whole run's error, not one document's."""

    def __init__(self, error: GlyphError):
        super().__init__(str(error))
        self.error = error

    def __reduce__(self):
        return (_SetupFailed, (self.error,))


_worker_drawer = None
FLOW_BATCH = 8  # pages per task: a worker holds at most this many pages of a document


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool: a worker interrupted inside
    GI/cairo code would print a traceback (or worse) for every process in the group."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _watch_parent(pid: int) -> None:
    """End this worker when the glyph process that started it is gone (SIGKILL, a closed pipe):
    a worker blocked writing a result nobody reads would otherwise live on, holding stderr open."""
    import os
    import threading

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        try:  # a killed parent stays a zombie until its own parent reaps it
            with open(f"/proc/{pid}/stat", "rb") as fh:
                return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
        except (OSError, IndexError):
            return False

    def watch() -> None:
        while True:
            time.sleep(0.25)
            if gone():
                os._exit(1)

    threading.Thread(target=watch, name="glyph-parent-watch", daemon=True).start()


def _drawer_init(cfg: RenderConfig, parent_pid: int | None = None) -> None:
    global _worker_drawer, _worker_error
    _ignore_sigint()
    if parent_pid is not None:
        _watch_parent(parent_pid)
    try:
        from glyph_cli.typeset.render import PageDrawer

        _worker_drawer = PageDrawer(cfg)
    except GlyphError as exc:
        _worker_error = exc


def _draw_batch(pages: list, last_index: int):
    if _worker_error is not None:
        return _SetupFailed(_worker_error)
    return _worker_drawer.draw(pages, last_index)


class _DocEntry:
    """One document in flight: its layout (or the error that stopped it) and its page batches."""

    def __init__(self, doc: Document | None = None):
        import collections

        self.doc = doc
        self.error: Exception | None = None  # this document's failure
        self.raise_later: Exception | None = None  # the input's error, raised in its turn
        self.prep = self.page_tokens = self.doc_record = None
        self.batches: Iterator | None = None
        self.last = 0
        self.futures: collections.deque = collections.deque()


class _PageWorkers:
    """Pages of the words flow drawn by worker processes in bounded batches, in order.

    The parent lays documents out (line breaking and pagination, no shaping) a few documents ahead,
    and hands their pages to the workers FLOW_BATCH at a time, at most `2 * workers` batches in
    flight: one document of any size is spread over all workers, no process holds a whole one, and
    the workers draw the next documents while the parent writes this one.
    """

    def __init__(self, cfg: RenderConfig, renderer, workers: int):
        import concurrent.futures as cf
        import multiprocessing

        from glyph_cli.interrupts import start_forkserver

        start_forkserver()
        self.renderer = renderer
        self.window = 2 * workers
        self.lookahead = 4 * workers
        self.executor = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                                               initializer=_drawer_init, initargs=(cfg, os.getpid()))
        self._src_done = False

    def run(self, docs: Iterator[Document]) -> Iterator[Iterator[dict]]:
        """Per document, in input order, an iterator of its records (consume each before the next)."""
        import collections

        entries: collections.deque = collections.deque()
        src = iter(docs)
        while True:
            self._fill(entries, src)
            if not entries:
                return
            head = entries[0]
            if head.raise_later is not None:
                raise head.raise_later
            yield _guarded(self._records(head, entries, src), head.doc)
            entries.popleft()

    def _layout(self, doc: Document) -> _DocEntry:
        e = _DocEntry(doc)
        try:
            e.prep = self.renderer.prepare(doc)
            layouts, _, e.page_tokens, e.doc_record = self.renderer.flow_layout(doc, e.prep)
        except GlyphError as exc:
            e.error = exc
            return e
        except Exception as exc:
            e.error = render_failure(doc, exc)
            return e
        e.last = len(layouts) - 1
        e.batches = (layouts[i:i + FLOW_BATCH] for i in range(0, len(layouts), FLOW_BATCH))
        return e

    def _fill(self, entries, src) -> None:
        inflight = sum(len(e.futures) for e in entries)
        for e in entries:
            inflight = self._submit(e, inflight)
            if inflight >= self.window:
                return
        while inflight < self.window and len(entries) < self.lookahead and not self._src_done:
            try:
                doc = next(src)
            except StopIteration:
                self._src_done = True
                return
            except Exception as exc:  # the input's error comes out after the documents before it
                late = _DocEntry()
                late.raise_later = exc
                entries.append(late)
                self._src_done = True
                return
            e = self._layout(doc)
            entries.append(e)
            inflight = self._submit(e, inflight)

    def _submit(self, e: _DocEntry, inflight: int) -> int:
        while e.batches is not None and inflight < self.window:
            batch = next(e.batches, None)
            if batch is None:
                e.batches = None
                break
            e.futures.append(self.executor.submit(_draw_batch, batch, e.last))
            inflight += 1
        return inflight

    def _records(self, e: _DocEntry, entries, src) -> Iterator[dict]:
        if e.error is not None:
            raise e.error
        record, e.doc_record = e.doc_record, None
        yield record
        while True:
            self._fill(entries, src)
            if not e.futures:
                return
            result = e.futures.popleft().result()
            if isinstance(result, _SetupFailed):
                raise result.error
            for info, png in result:
                yield self.renderer.flow_page_record(e.doc, e.prep, info, png, e.page_tokens[info.index])

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


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


@dataclass
class RenderJob:
    _stop = False  # set by Ctrl-C / SIGTERM during run(); not a field
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
    encoding: str = "utf-8"
    errors: str = "strict"

    def _documents(self, policy: log.ErrorPolicy) -> Iterator[Document]:
        for item in read_documents(self.inputs, fmt=self.input_format, text_field=self.text_field,
                                   id_field=self.id_field, encoding=self.encoding, errors=self.errors):
            if isinstance(item, InputError):
                policy.record_failed(item)
                continue
            if self.shard is None or in_shard(item.id, self.shard):
                yield item

    def _rendered(self, policy: log.ErrorPolicy) -> Iterator[list[dict] | Iterator[dict]]:
        """Per document, its records (a lazy iterator in-process, a list from a worker)."""
        from glyph_cli.parallel import ordered_map

        docs = self._documents(policy)
        if self.workers > 1 and self.cfg.wrap == "words":
            pool = _PageWorkers(self.cfg, make_renderer(self.cfg, self.tokenizer), self.workers)
            try:
                yield from pool.run(docs)
            finally:
                pool.close()
            return
        if self.workers <= 1:
            renderer = make_renderer(self.cfg, self.tokenizer)
            for doc in docs:
                yield _guarded(renderer.render(doc), doc)
            return
        for result in ordered_map(_worker_render, docs, self.workers, processes=True, initializer=_worker_init,
                                  initargs=(self.cfg, self.tokenizer, os.getpid())):
            if isinstance(result, _SetupFailed):
                raise result.error
            if isinstance(result, Exception):
                policy.record_failed(result)
                continue
            yield result

    def run(self) -> Totals:
        import signal

        # Ctrl-C and SIGTERM end a render (cleaned up, exit 130), but not from inside whatever bytecode
        # runs when the signal lands: a KeyboardInterrupt raised while PyGObject builds a wrapper
        # aborted the process (pygobject_new_full: tp != NULL, 1 run in 20 at -j 2). The handler sets
        # a flag that the record loop checks between records; a second signal interrupts at once.
        self._stop = False

        def stop(signum, frame):
            if self._stop:
                raise KeyboardInterrupt
            self._stop = True

        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        signal.signal(signal.SIGTERM, stop)
        if previous[signal.SIGINT] is signal.default_int_handler:  # an ignored SIGINT stays ignored
            signal.signal(signal.SIGINT, stop)
        try:
            return self._run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self) -> Totals:
        policy = log.ErrorPolicy(self.on_error)
        totals = Totals()
        start = time.perf_counter()
        bar = log.input_progress(self.inputs, desc="render", unit="doc")  # bytes read of the input files
        out = sys.stdout.buffer
        index = None
        if self.out_dir is not None:
            from glyph_cli.streams.outdir import PageDir

            index = PageDir(self.out_dir)
        try:
            for records in self._rendered(policy):
                try:
                    for rec in records:
                        if self._stop:
                            raise KeyboardInterrupt
                        if rec["type"] == "doc":
                            self._count_doc(rec, totals)
                        else:
                            totals.pages += 1
                        if index is not None:
                            index.write(index.begin(rec) if rec["type"] == "doc" else
                                        index.page(rec, page_png(rec)))
                        else:
                            out.write(dumps(rec))
                except _RecordFailed as failed:
                    policy.record_failed(failed.error)
                    continue
                bar.update(1)
                bar.set_postfix(pages=totals.pages, refresh=False)
            if self._stop:
                raise KeyboardInterrupt
            if index is None:
                out.write(dumps(end_record(totals.docs, totals.pages)))  # the stream is whole
            out.flush()
        except BaseException:
            if index is not None:
                index.close(ok=False)
            raise
        finally:
            bar.close()
        if index is not None:
            index.close(ok=True)
        self._summary(totals, time.perf_counter() - start, policy)
        if policy.failed:  # never exit 0 after a skipped record
            raise GlyphError(f"{policy.summary()} (listed above); the rest was written")
        return totals

    def records(self, policy: log.ErrorPolicy) -> Iterator[dict]:
        """The page stream's records in order, failures applied to `policy`: for callers that write
        the stream somewhere other than stdout (shard bundles, glyph_cli/shards.py)."""
        for records in self._rendered(policy):
            try:
                yield from records
            except _RecordFailed as failed:  # raised before the document's first record
                policy.record_failed(failed.error)

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
