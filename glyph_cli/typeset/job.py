"""The render stage as a job: read documents, apply the error policy and shard, render (in
worker processes if asked), write the page stream or a directory of PNGs, summarise on stderr."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from glyph_cli import log
from glyph_cli.errors import GlyphError, InputError
from glyph_cli.streams.documents import Document, read_documents
from glyph_cli.streams.io import STDIO, dumps
from glyph_cli.streams.pages import end_record, page_png
from glyph_cli.typeset.config import RenderConfig

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample.txt"


def sample_path() -> Path:
    return SAMPLE


def _input_bytes(inputs: list[str]) -> int:
    """The inputs' total size where it is known (files, and stdin redirected from a file), else 0."""
    total = 0
    for path in inputs:
        try:
            st = os.fstat(sys.stdin.fileno()) if path == STDIO else os.stat(path)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(st.st_mode):
            total += st.st_size
    return total


def make_renderer(cfg: RenderConfig, tokenizer: str, count_in_child: bool = False):
    """A Renderer with the tokenizer `tokenizer`; `count_in_child`: long texts are counted by a child
    process (tokens/counter.py: off the GIL the layout holds), for `glyph render`'s own process."""
    from glyph_cli.tokens.text import get_tokenizer
    from glyph_cli.tokens.visual import page_visual_tokens
    from glyph_cli.typeset.render import Renderer

    tok = get_tokenizer(tokenizer)
    ahead = None
    if count_in_child:
        from glyph_cli.tokens.counter import ChildCounter

        ahead = ChildCounter(tokenizer, tok.count)
    return Renderer(cfg, tok.count, tok.name, page_visual_tokens, count_ahead=ahead)


_worker_error: GlyphError | None = None


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


class _SetupFailed(Exception):
    """A worker could not build its renderer: the whole run's error, not one document's."""

    def __init__(self, error: GlyphError):
        super().__init__(str(error))
        self.error = error

    def __reduce__(self):
        return (_SetupFailed, (self.error,))


_worker_drawer = None
FLOW_BATCH = 8  # pages per task: a worker holds at most this many pages of a document
# Pages sent to the workers and not yet written, at most: the parent lays a document out to its
# end before its doc record (which counts its pages) while the workers draw its first pages, so
# the held PNGs (~50 KB a page at the glyph preset) are what bounds the parent's memory.
DRAW_AHEAD = 256
# Workers start once this much text has come in: below it, starting them (~0.2 CPU-s for the fork
# server's imports, ~0.05 per worker; a worker then draws a page ~15% slower than one process does)
# costs about what they would save (drawing is ~2.5 CPU-s per million characters at the glyph
# preset), and the parent draws alone.
POOL_AFTER_CHARS = 400_000
# Pango's flow: a document this short is drawn whole by one worker, laid out once (its pages are
# counted as they are drawn), as one process does up to its 64-page buffer; a longer one is laid out
# by the parent to count its pages and again, in batches, by the workers, as one process does too.
WHOLE_CHARS = 250_000
# The words flow plans each page in the parent (its glyph arrays; Pango's lines drawn) and paints
# and encodes it on threads (pixman, libdeflate and numpy release the GIL): no worker processes,
# nothing pickled. Pages planned and not yet encoded, per thread, at most (~70 KB each). Encoded
# pages wait for their document's record, up to ENCODED_AHEAD (~40 MB of PNG at the glyph preset's
# 72 dpi), so that the threads encode while the parent lays a long document out to its end.
ENCODE_AHEAD = 2 * FLOW_BATCH
ENCODED_AHEAD = 1024


def usable_workers(requested: int) -> int:
    """Render processes worth running: no more than the CPUs this process may use."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(requested, cpus))


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


def _keep_freed_memory() -> None:
    """Drawing a page allocates and frees arrays of a few MB (its scanlines, Pango's oversampled lines); in a fresh
    process glibc returns each to the kernel (munmap, heap trim) and faults it in again for the next
    page, which made a worker draw ~50% slower than the long-running parent. Keep it instead."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: the largest value glibc accepts on 64-bit
        libc.mallopt(-1, 128 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _drawer_init(cfg: RenderConfig, parent_pid: int | None = None) -> None:
    global _worker_drawer, _worker_error
    _ignore_sigint()
    _keep_freed_memory()
    if parent_pid is not None:
        _watch_parent(parent_pid)
    try:
        from glyph_cli.typeset.render import PageDrawer

        _worker_drawer = PageDrawer(cfg)
    except GlyphError as exc:
        _worker_error = exc


def _draw(method: str, *args):
    if _worker_error is not None:
        return _SetupFailed(_worker_error)
    return getattr(_worker_drawer, method)(*args)


class _Batch:
    """Consecutive pages of one document, drawn by a worker (or by the parent when no worker runs)."""

    __slots__ = ("method", "args", "pages", "offset", "future", "planned")

    def __init__(self, method: str, args: tuple, pages: int, offset: int = 0):
        self.method, self.args, self.pages, self.offset = method, args, pages, offset
        self.future = None  # set once sent to a worker
        self.planned = None  # words flow: the planned pages a painting thread has been given


class _Doc:
    """One document in flight: its layout so far (or the error that stopped it) and its batches."""

    def __init__(self, doc: Document | None = None):
        import collections

        self.doc = doc
        self.error: Exception | None = None  # this document's failure
        self.raise_later: Exception | None = None  # the input's error, raised in its turn
        self.prep = None
        self.layout: Iterator | None = None  # page layouts still to come; None once laid out
        self.held = None  # words flow: the last page laid out, which may be the (cropped) last one
        self.whole = False  # Pango's flow: one batch draws it all, its pages counted when drawn
        self.infos: list = []
        self.page_tokens: list = []
        self.tokens = None  # gives the text-token count (counted on a thread while the layout runs)
        self.batches: collections.deque = collections.deque()


class _Pipeline:
    """Documents -> records with worker processes drawing pages in bounded batches, in order.

    The parent reads documents, counts a long one's text tokens on a thread (the tokenizer releases
    the GIL) and lays them out (line breaking and pagination); each FLOW_BATCH pages laid out become a
    batch that a worker draws and encodes while the layout goes on. A document's records start once
    its layout is complete; meanwhile up to DRAW_AHEAD of its pages are drawn, so one long document
    keeps every worker busy and no process holds a whole one. Layout runs a few documents ahead of
    the one being written. Until POOL_AFTER_CHARS of text has come in, no worker starts and the
    parent draws the pages itself, exactly as with one process.

    The words flow (the `glyph` presets) has no worker processes: the parent also plans each batch
    (glyph arrays, and Pango's lines for scripts it shapes) and `workers - 1` threads paint and
    encode them (pixman and deflate release the GIL), at most ENCODE_AHEAD pages a thread in flight;
    a batch no thread has started when its turn comes is painted by the parent.
    """

    def __init__(self, cfg: RenderConfig, renderer, workers: int):
        import collections

        from glyph_cli.typeset.render import PageDrawer

        self.cfg, self.renderer, self.workers = cfg, renderer, workers
        self.words = cfg.wrap == "words"
        self.local = PageDrawer(cfg, renderer.typesetter, renderer.rasteriser)
        self.executor = None
        self.docs: collections.deque = collections.deque()  # in input order
        self.unsent: collections.deque = collections.deque()  # batches not yet sent, in order
        self.unsent_pages = 0
        self.sent_pages = 0  # sent to the workers and not yet written
        self.chars = 0
        self.lookahead = 4 * workers
        self.src: Iterator[Document] = iter(())
        self.src_done = False
        self.inflight: collections.deque = collections.deque()  # words flow: batches sent, oldest first
        # words flow: this thread lays out, draws and writes; the other workers - 1 threads encode
        self.encoders = max(1, workers - 1)
        if self.words:
            self._start()

    def run(self, docs: Iterator[Document]) -> Iterator[Iterator[dict]]:
        """Per document, in input order, an iterator of its records (consume each before the next)."""
        self.src = iter(docs)
        while self.docs or self._read():
            head = self.docs[0]
            if head.raise_later is not None:
                raise head.raise_later
            try:
                yield _guarded(self._records(head), head.doc)
            finally:
                self._drop(head)  # a document that failed: its batches still in flight are dropped
                self.docs.popleft()

    # -- reading and layout -----------------------------------------------------------------

    def _read(self) -> bool:
        """Take the next document in; False at the end of the input or when enough are in flight."""
        if self.src_done or len(self.docs) >= self.lookahead:
            return False
        try:
            doc = next(self.src)
        except StopIteration:
            self.src_done = True
            return False
        except Exception as exc:  # the input's error comes out after the documents before it
            late = _Doc()
            late.raise_later = exc
            self.docs.append(late)
            self.src_done = True
            return True
        e = _Doc(doc)
        self.docs.append(e)
        self.chars += len(doc.text)
        if self.executor is None and self.chars >= POOL_AFTER_CHARS:
            self._start()
        try:
            e.tokens = self.renderer.count_later(doc.text, ahead=True)  # first: it runs while the text is prepared
            e.prep = self.renderer.prepare(doc)
            if self.words:
                e.layout = self.renderer.typesetter.flow(e.prep)
            elif self.executor is None or len(e.prep.display) <= WHOLE_CHARS:
                e.whole = True
                self._add(e, _Batch("draw_range", (e.prep.display, e.prep.markers, 0, 0, None), 1))
            else:
                e.layout = self.renderer.typesetter.pages(e.prep, draw=False)
        except GlyphError as exc:
            self._fail(e, exc)
        except Exception as exc:
            self._fail(e, render_failure(doc, exc))
        return True

    def _step(self, e: _Doc) -> None:
        """Lay out up to FLOW_BATCH more pages of `e`, as one batch."""
        import itertools

        try:
            if self.words:
                pages = list(itertools.islice(e.layout, FLOW_BATCH))
                done = len(pages) < FLOW_BATCH
                if e.held is not None:
                    pages.insert(0, e.held)
                e.held = None if done else pages.pop()
                ts = self.renderer.typesetter
                infos = ts.flow_infos(pages, done)
                batch = _Batch("draw", (pages, pages[-1].index if done else -1, infos), len(pages)) if pages else None
            else:
                infos = [info for info, _, _ in itertools.islice(e.layout, FLOW_BATCH)]
                done = len(infos) < FLOW_BATCH
                batch = self._range_batch(e, infos) if infos else None
        except GlyphError as exc:
            self._fail(e, exc)
            return
        except Exception as exc:
            self._fail(e, render_failure(e.doc, exc))
            return
        e.infos += infos
        e.page_tokens += [self.renderer.page_tokens(i.width, i.height) for i in infos]
        if done:
            e.layout = None
        if batch is not None:
            self._add(e, batch)

    def _range_batch(self, e: _Doc, infos: list) -> _Batch:
        """Pango's flow: a worker lays these pages out again from their first line, given the text
        from just before it (whether a paragraph starts there, a newline marker that a page break
        cut) to one layout chunk past the next page's first line (the chunks it lays out, and so
        its lines, are those of the whole text)."""
        import bisect

        from glyph_cli.typeset.engine import CHUNK_CHARS

        display, markers = e.prep.display, e.prep.markers
        d0, d1 = infos[0].d_start, infos[-1].d_end
        w0 = max(0, d0 - len(self.cfg.marker_text) - 1)
        w1 = min(len(display), d1 + CHUNK_CHARS + 1)
        part = [m - w0 for m in markers[bisect.bisect_left(markers, w0):bisect.bisect_left(markers, w1)]]
        return _Batch("draw_range", (display[w0:w1], part, infos[0].index, d0 - w0, len(infos)), len(infos), w0)

    # -- batches --------------------------------------------------------------------------------

    def _start(self) -> None:
        import concurrent.futures as cf
        import multiprocessing

        if self.words:
            self.executor = cf.ThreadPoolExecutor(self.encoders, thread_name_prefix="glyph-encode")
            return

        context = multiprocessing.get_context("forkserver")
        # imported once by the fork server, not by every worker (numpy, cairo, Pango: ~0.3 CPU-s each;
        # a worker then starts in ~0.05 CPU-s)
        context.set_forkserver_preload(["glyph_cli.typeset.job", "glyph_cli.typeset.render"])
        from glyph_cli.interrupts import start_forkserver

        start_forkserver()  # with SIGINT ignored, so a group Ctrl-C reaches only this process
        self.executor = cf.ProcessPoolExecutor(self.workers, mp_context=context, initializer=_drawer_init,
                                               initargs=(self.cfg, os.getpid()))

    def _add(self, e: _Doc, batch: _Batch) -> None:
        e.batches.append(batch)
        self.unsent.append(batch)
        self.unsent_pages += batch.pages
        self._send()

    def _encoding(self) -> int:
        """Words flow: pages planned and not yet encoded."""
        inflight = self.inflight
        while inflight and inflight[0].future.done():
            inflight.popleft()
        return sum(b.pages for b in inflight if not b.future.done())

    def _send(self) -> None:
        ahead = ENCODED_AHEAD if self.words else DRAW_AHEAD
        while self.executor is not None and self.unsent and self.sent_pages < ahead:
            if self.words and self._encoding() >= ENCODE_AHEAD * self.encoders:
                return
            b = self.unsent.popleft()
            self.unsent_pages -= b.pages
            if self.words:  # planned here, now; painted and encoded on a thread
                b.planned = self.local.plan(*b.args)
                b.future = self.executor.submit(self.local.paint, b.planned)
                self.inflight.append(b)
            else:
                b.future = self.executor.submit(_draw, b.method, *b.args)
            self.sent_pages += b.pages

    def _drop(self, e: _Doc) -> None:
        if not e.batches:
            return
        dropped = {id(b) for b in e.batches}
        for b in e.batches:
            if b.future is None:
                self.unsent_pages -= b.pages
            else:
                b.future.cancel()
                self.sent_pages -= b.pages
        e.batches.clear()
        self.unsent = type(self.unsent)(b for b in self.unsent if id(b) not in dropped)
        self._send()

    def _fail(self, e: _Doc, error: Exception) -> None:
        e.error, e.layout, e.held = error, None, None
        self._drop(e)

    def _work_ahead(self) -> bool:
        """Lay out more of the documents after the one being written; False when there is nothing
        to do or enough is laid out already."""
        if self.unsent_pages >= (ENCODED_AHEAD if self.words else DRAW_AHEAD):
            return False
        for e in self.docs:
            if e.layout is not None:
                self._step(e)
                return True
        return self._read()

    def _steal(self, waiting: _Batch) -> bool:
        """Words flow, while the parent waits for `waiting`: paint the latest batch no thread has
        started, here (so both cores encode when the threads are behind). False: none is left."""
        if not self.words:
            return False
        for b in reversed(self.inflight):
            if b is waiting or b.planned is None:
                continue
            if b.future.cancel():
                import concurrent.futures as cf

                done: cf.Future = cf.Future()
                done.set_result(self.local.paint(b.planned))
                b.future, b.planned = done, None
                return True
            return False  # started: so have the batches before it
        return False

    def _take(self, e: _Doc) -> list:
        """The drawn pages of `e`'s next batch: (info, png) each, offsets those of the document."""
        b = e.batches.popleft()
        if b.future is None:  # no worker runs: the parent draws
            self.unsent.remove(b)  # the first one: batches are sent in order
            self.unsent_pages -= b.pages
            result = getattr(self.local, b.method)(*b.args)
        elif b.planned is not None and b.future.cancel():  # not started: painted here, no waiting
            result = self.local.paint(b.planned)
            self.sent_pages -= b.pages
        else:
            while not b.future.done() and (self._work_ahead() or self._steal(b)):
                pass
            result = b.future.result()
            self.sent_pages -= b.pages
        b.planned = None
        self._send()
        if isinstance(result, _SetupFailed):
            raise result.error
        if b.offset:
            for info, _ in result:
                info.d_start += b.offset
                info.d_end += b.offset
        return result

    def _records(self, e: _Doc) -> Iterator[dict]:
        if e.error is None:
            while e.layout is not None:
                self._step(e)
        if e.error is not None:
            raise e.error
        drawn = self._take(e) if e.whole else []
        if e.whole:
            e.infos = [info for info, _ in drawn]
            e.page_tokens = [self.renderer.page_tokens(i.width, i.height) for i in e.infos]
        yield self.renderer.make_doc_record(e.doc, e.prep, e.infos, e.page_tokens, e.tokens())
        while True:
            for info, png in drawn:
                expected = e.infos[info.index]
                if (info.d_start, info.d_end) != (expected.d_start, expected.d_end):
                    raise RuntimeError(f"document {e.doc.id!r}: page {info.index} laid out differently "
                                       "when drawn than when counted")
                yield self.renderer.page_record(e.doc, e.prep, info, png, e.page_tokens[info.index])
            if not e.batches:
                return
            drawn = self._take(e)

    def close(self) -> None:
        for e in self.docs:
            self._drop(e)
        if self.executor is not None:
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
        docs = self._documents(policy)
        renderer = make_renderer(self.cfg, self.tokenizer, count_in_child=True)
        from glyph_cli.typeset.render import COUNT_AHEAD_CHARS

        if _input_bytes(self.inputs or [STDIO]) >= COUNT_AHEAD_CHARS:  # a long text may come: start the child now
            renderer.start_counting()
        workers = usable_workers(self.workers)
        try:
            if workers <= 1:
                for doc in docs:
                    yield _guarded(renderer.render(doc), doc)
                return
            pool = _Pipeline(self.cfg, renderer, workers)
            try:
                yield from pool.run(docs)
            finally:
                pool.close()
        finally:
            renderer.close()

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
        # With workers, a closed stdout (`| head`) must not kill this process outright: the pool's
        # semaphores would leak (a warning on stderr) and the workers would wait to notice. So the
        # write raises instead; once the pool is shut, the process ends by SIGPIPE as it would have.
        pipe = getattr(signal, "SIGPIPE", None)
        catch_pipe = (pipe is not None and usable_workers(self.workers) > 1
                      and signal.getsignal(pipe) == signal.SIG_DFL)
        if catch_pipe:
            previous[pipe] = signal.SIG_DFL
            signal.signal(pipe, signal.SIG_IGN)
        try:
            try:
                return self._run()
            except BrokenPipeError:
                if not catch_pipe:
                    raise
                # leaving this block drops the traceback, and with it the pool, which shuts down
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        os.kill(os.getpid(), pipe)
        raise SystemExit(128 + pipe)  # not reached: SIGPIPE's default action ends the process

    def _run(self) -> Totals:
        policy = log.ErrorPolicy(self.on_error)
        totals = Totals()
        start = time.perf_counter()
        bar = log.input_progress(self.inputs, desc="render", unit="doc")  # bytes read of the input files
        out = sys.stdout.buffer
        from glyph_cli.streams.io import widen_pipe

        widen_pipe(out)
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
