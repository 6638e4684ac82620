"""`glyph pack`: page streams and bundles in, one bundle out.

Inputs are read in order; a page stream's pages are stored in worker threads and written in
order, so memory holds a few pages whatever the input size. Bundles are merged by copying their
stored pages (no re-encoding). Document ids must be unique in the output: a duplicate is an error,
or the first (`skip`) or last (`replace`) copy is kept. `replace` needs to know the last copy before
writing the first, so it reads the inputs' document ids first (stdin is spooled to a temporary
file for that).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Iterator

from glyph_cli import log
from glyph_cli.bundle import tarball
from glyph_cli.bundle.format import DEFAULT_LIMITS, HEADER_NAME, Limits
from glyph_cli.bundle.frames import ZSTD_MAGIC, FrameError, FrameReader
from glyph_cli.bundle.pagecodec import PageEncoder
from glyph_cli.parallel import ordered_map
from glyph_cli.bundle.records import RecordError, line_pitch, restore_png, store_as_png, store_doc, store_page
from glyph_cli.bundle.writer import BundleWriter
from glyph_cli.errors import BundleError, InputError, UsageError
from glyph_cli.streams.io import STDIO, display_name, widen_pipe
from glyph_cli.streams.pages import iter_records

DUPLICATE_POLICIES = ("error", "skip", "replace")


@dataclass
class PackResult:
    docs: int = 0
    pages: int = 0
    bytes: int = 0
    skipped: int = 0  # duplicate documents left out
    stores: dict = field(default_factory=dict)  # pages per stored form


def input_is_bundle(path: str, limits: Limits = DEFAULT_LIMITS) -> bool:
    """A bundle starts with a zstd frame whose first tar member is the bundle header; a `.zst`
    page stream starts with a zstd frame too, so the member is what decides."""
    if path == STDIO:
        stdin = sys.stdin.buffer
        head = stdin.peek(4)[:4] if hasattr(stdin, "peek") else b""
        return head.startswith(ZSTD_MAGIC)  # stdin page streams are never compressed
    p = Path(path)
    if not p.is_file():
        return False
    with open(p, "rb") as fh:
        if not fh.read(4).startswith(ZSTD_MAGIC):
            return False
        fh.seek(0)
        try:
            frames = FrameReader(fh, limits).frames()
            _, blocks = next(frames)
            data = b""
            for block in blocks:
                data += block
                if len(data) >= tarball.BLOCK:
                    break
            member = tarball.parse_header(data[:tarball.BLOCK])
        except (FrameError, tarball.TarError, StopIteration, BundleError):
            return False
        return member is not None and member.name == HEADER_NAME


@contextlib.contextmanager
def _open_input(path: str) -> Iterator[IO[bytes]]:
    if path == STDIO:
        yield sys.stdin.buffer
    else:
        with open(path, "rb") as fh:
            yield fh


def _doc_ids_in_stream(path: str) -> Iterator[str]:
    for rec, _source, _line in iter_records([path]):
        if rec["type"] == "doc":
            yield rec.get("id")


def _doc_ids_in_bundle(path: str, limits: Limits) -> Iterator[str]:
    from glyph_cli.bundle.reader import BundleReader, DocEntry, read_index

    with open(path, "rb") as fh:
        lines = read_index(fh, display_name(path), limits)
        if lines is not None:
            for line in lines:
                if line.get("type") == "doc":
                    yield line.get("id")
            return
        fh.seek(0)
        for event in BundleReader(fh, source=display_name(path), limits=limits, pixels=False, texts=False).events():
            if isinstance(event, DocEntry):
                yield event.doc_id


class Packer:
    """One pack run: inputs (page streams or bundles) -> one BundleWriter."""

    def __init__(self, writer: BundleWriter, on_duplicate: str = "error", limits: Limits = DEFAULT_LIMITS):
        if on_duplicate not in DUPLICATE_POLICIES:
            raise UsageError(f"--on-duplicate must be one of {', '.join(DUPLICATE_POLICIES)}, got {on_duplicate!r}")
        self.writer = writer
        self.on_duplicate = on_duplicate
        self.limits = limits
        self.encoder = PageEncoder(limits, writer.options.prove) if writer.options.pages == "bands" else None
        self.result = PackResult()
        self._seen: dict[object, str] = {}
        self._keep: dict[object, tuple[int, int]] | None = None  # replace: id -> (input, doc) kept
        self._bar = None

    def run(self, inputs: list[str]) -> PackResult:
        inputs = list(inputs) or [STDIO]
        if inputs.count(STDIO) > 1:
            raise UsageError("stdin ('-') can be named only once")
        with contextlib.ExitStack() as stack:
            kinds = [input_is_bundle(path, self.limits) for path in inputs]
            if self.on_duplicate == "replace":
                inputs = [self._spool_stdin(stack) if path == STDIO else path for path in inputs]
                self._plan_replace(inputs, kinds)
            self._bar = stack.enter_context(log.input_progress(inputs, desc="pack", unit="page"))
            for number, (path, is_bundle) in enumerate(zip(inputs, kinds)):
                if is_bundle:
                    self._merge(number, path)
                else:
                    self._pack_stream(number, path)
        return self.finish()

    @staticmethod
    def _spool_stdin(stack: contextlib.ExitStack) -> str:
        # An unlinked file: nothing is left in the temp folder even after a SIGKILL. Linux reopens it by
        # /proc/self/fd (its own offset); elsewhere a named file, removed on exit.
        if Path("/proc/self/fd").is_dir():
            spool = stack.enter_context(tempfile.TemporaryFile(prefix="glyph-pack-", suffix=".stdin"))
            name = f"/proc/self/fd/{spool.fileno()}"
        else:
            spool = stack.enter_context(tempfile.NamedTemporaryFile(prefix="glyph-pack-", suffix=".stdin"))
            name = spool.name
        shutil.copyfileobj(sys.stdin.buffer, spool, 1 << 20)
        spool.flush()
        return name

    def _plan_replace(self, inputs: list[str], kinds: list[bool]) -> None:
        self._keep = {}
        for number, (path, is_bundle) in enumerate(zip(inputs, kinds)):
            ids = _doc_ids_in_bundle(path, self.limits) if is_bundle else _doc_ids_in_stream(path)
            for k, doc_id in enumerate(ids):
                self._keep[doc_id] = (number, k)

    def _admit(self, doc_id: object, where: str, number: int, k: int) -> bool:
        """Whether this copy of a document goes into the output, per the duplicate policy."""
        if self._keep is not None:
            keep = self._keep.get(doc_id) == (number, k)
            if not keep:
                self.result.skipped += 1
            return keep
        first = self._seen.get(doc_id)
        if first is None:
            self._seen[doc_id] = where
            return True
        if self.on_duplicate == "skip":
            self.result.skipped += 1
            return False
        raise BundleError(f"{where}: duplicate document id {doc_id!r} (first at {first})",
                          "pass --on-duplicate skip (keep the first) or replace (keep the last)")

    def _count_page(self, store: str) -> None:
        self.result.stores[store] = self.result.stores.get(store, 0) + 1
        if self._bar is not None:
            self._bar.update(1)

    def finish(self) -> PackResult:
        """End the bundle (after add_stream calls) and return what was packed."""
        self.result.bytes = self.writer.finish()
        self.result.docs, self.result.pages = self.writer.docs, self.writer.pages
        return self.result

    # -- page streams ---------------------------------------------------------------------------

    def _pack_stream(self, number: int, path: str) -> None:
        if path == STDIO:
            widen_pipe(sys.stdin)  # render | pack: see widen_pipe
        self.add_stream(number, iter_records([path]))

    def add_stream(self, number: int, records: Iterable[tuple[dict, str, int]]) -> None:
        """Pack page-stream records given as (record, source, line), as input `number`: the same
        path for a file and for records made in process (the Python API's BundleWriter)."""
        def items() -> Iterator[tuple]:
            keep = False
            pitch = None
            k = -1
            for rec, source, line in records:
                if rec["type"] == "doc":
                    k += 1
                    keep = self._admit(rec.get("id"), f"{source}:{line}", number, k)
                    pitch = line_pitch(rec)
                if keep:
                    yield rec, pitch, source, line

        def store(item: tuple):
            rec, pitch, source, line = item
            try:
                if rec["type"] == "doc":
                    return "doc", store_doc(rec)
                return "page", store_page(rec, self.encoder, pitch)
            except RecordError as exc:
                raise InputError(source, line, str(exc)) from None

        for kind, value in ordered_map(store, items(), self.writer.options.workers):
            if kind == "doc":
                self.writer.begin_document(*value)
            else:
                record, stored = value
                self.writer.add_page(record, stored.store, stored.data)
                self._count_page(stored.store)

    # -- bundles --------------------------------------------------------------------------------

    def _merge(self, number: int, path: str) -> None:
        from glyph_cli.bundle.reader import BundleReader, DocEntry, PageEntry  # only merging reads bundles

        source = display_name(path)
        to_png = self.writer.options.pages == "png"
        with _open_input(path) as fh:
            reader = BundleReader(fh, source=source, limits=self.limits)
            keep = False
            k = -1
            for event in reader.events():
                if isinstance(event, DocEntry):
                    k += 1
                    keep = self._admit(event.doc_id, f"{source}: document {event.n}", number, k)
                    if keep:
                        record, text = event.record, event.text  # the text's bytes are reused, not encoded again
                        event.release_text()
                        self.writer.begin_document(*store_doc(record, text))
                elif isinstance(event, PageEntry) and keep:
                    record, data, store = event.record, event.data, event.record["image"]["store"]
                    if to_png and store == "bands":
                        try:
                            data = restore_png(record, data, self.limits)
                        except RecordError as exc:
                            raise BundleError(f"{source}: document {event.n} page {event.index}: {exc}") from None
                        record, store = store_as_png(record, data), "png"
                    self.writer.add_page(record, store, data)
                    self._count_page(store)
