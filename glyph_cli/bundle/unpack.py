"""`glyph unpack` and `glyph verify`: a bundle back to the page stream, documents, PNG files, or a
damage report.

Pages are rebuilt and checked against their sha256 in worker threads, in order. In strict mode
the first damage stops the run (exit 1, naming it); with `salvage` a document is written only once
all of it has been read and checked, so every intact document comes out and no damaged one does.
"""

from __future__ import annotations

import codecs
import contextlib
import sys
import uuid
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

import orjson

from glyph_cli import log
from glyph_cli.bundle.format import DEFAULT_LIMITS, Limits, sha256_hex
from glyph_cli.parallel import ordered_map
from glyph_cli.bundle.reader import BundleReader, Damage, DocEnd, DocEntry, PageEntry
from glyph_cli.bundle.records import NotReproducible, RecordError, restore_page, restore_png
from glyph_cli.errors import BundleError, UsageError
from glyph_cli.streams.pages import end_record
from glyph_cli.streams.io import STDIO, display_name, dumps, ensure_dir, write_bytes_atomic


@dataclass
class UnpackResult:
    docs: int = 0
    pages: int = 0
    damages: list[Damage] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # --doc ids not found
    reencoded: int = 0  # salvage: pages written as a pixel-identical PNG, not the exact bytes


@contextlib.contextmanager
def open_bundle(path: str, seekable: bool = False) -> Iterator[IO[bytes]]:
    if path == STDIO:
        if seekable and not (hasattr(sys.stdin, "buffer") and sys.stdin.buffer.seekable()):
            raise UsageError("this needs a bundle file to seek in, not a pipe on stdin",
                             "save the bundle to a file first, or redirect stdin from it: < x.glyph")
        yield sys.stdin.buffer
        return
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{path}: no such file")
    with open(p, "rb") as fh:
        yield fh


def pages_in_index(path: str, selected: set | None = None, limits: Limits = DEFAULT_LIMITS) -> int | None:
    """How many pages reading `path` goes through (those of the `selected` ids, when given), from the
    bundle's index: the progress bar's total. None where that is not known without reading the
    bundle: stdin, no index, or an index that does not read (the read itself then says why)."""
    from glyph_cli.bundle.reader import file_index

    try:
        lines = file_index(path, limits)
        total = 0
        for line in lines or ():
            if selected is not None and line.get("type") == "doc" and line.get("id") in selected:
                total += int(line["pages"])
            elif line.get("type") == "end":
                return int(line["pages"]) if selected is None else total
    except (BundleError, OSError, ValueError, TypeError, KeyError):
        pass
    return None


# -- where documents go ---------------------------------------------------------------------------


def write_record_line(write: Callable[[bytes], object], record: dict, field: str, text) -> None:
    """Write `record` as one JSONL line (what `dumps` gives) with `record[field]` set to `text`, the
    UTF-8 bytes of a string, escaped a block at a time: a large text is never held a second time,
    as a str or as its JSON.

    orjson escapes a string character by character (quote, backslash, control characters), so the
    escaped blocks, cut at character boundaries, join to exactly the escaped whole."""
    marker = f"glyph-text-{uuid.uuid4().hex}"
    shell = dict(record)
    shell[field] = marker
    line = orjson.dumps(shell)
    quoted = b'"' + marker.encode("ascii") + b'"'
    if line.count(quoted) != 1:  # the marker also appears elsewhere (never in practice): the plain way
        shell[field] = str(text, "utf-8")
        write(orjson.dumps(shell) + b"\n")
        return
    before, after = line.split(quoted)
    write(before + b'"')
    utf8 = codecs.getincrementaldecoder("utf-8")()
    with memoryview(text) as view:
        for at in range(0, len(view), _ESCAPE_BLOCK):
            piece = utf8.decode(view[at:at + _ESCAPE_BLOCK])
            if piece:
                with memoryview(orjson.dumps(piece)) as escaped:
                    write(escaped[1:-1])
    utf8.decode(b"", True)
    write(b'"' + after + b"\n")


_ESCAPE_BLOCK = 64 << 10  # orjson reserves ~16x a string's length for its output while it escapes


class _Sink:
    """Receives checked documents. `commit` ends an intact one, `discard` drops a damaged one."""

    def begin(self, entry: DocEntry) -> None: ...

    def page(self, record: dict, png: bytes) -> None: ...

    def commit(self) -> None: ...

    def discard(self) -> None: ...

    def close(self, ok: bool) -> None: ...


class _StreamSink(_Sink):
    """The page stream on stdout, byte for byte what `glyph render` wrote."""

    def __init__(self, out: IO[bytes], hold: bool):
        self.out = out
        self.hold = hold  # salvage: a document goes out only whole
        self._held: tempfile.SpooledTemporaryFile | None = None
        self.docs = self.pages = 0  # written, for the end record
        self._pending = 0

    def _write(self, line: bytes) -> None:
        (self._held if self._held is not None else self.out).write(line)

    def begin(self, entry: DocEntry) -> None:
        if self.hold:
            self._held = tempfile.SpooledTemporaryFile(max_size=64 << 20)
        write_record_line(self._write, entry.stored, "text", entry.text)
        self._pending = 0

    def page(self, record: dict, png: bytes) -> None:
        self._write(dumps(restore_page(record, png)))
        self._pending += 1

    def commit(self) -> None:
        self.docs += 1
        self.pages += self._pending
        self._pending = 0
        if self._held is not None:
            self._held.seek(0)
            while chunk := self._held.read(1 << 20):
                self.out.write(chunk)
            self._held.close()
            self._held = None

    def discard(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

    def close(self, ok: bool) -> None:
        if ok:  # only a finished stream ends with its end record; readers refuse one without it
            self.out.write(dumps(end_record(self.docs, self.pages)))
        self.out.flush()


class _DocumentsSink(_Sink):
    """`--text`: the input documents again, as JSONL `{"id", "text", ...meta}`."""

    def __init__(self, out: IO[bytes]):
        self.out = out

    def begin(self, entry: DocEntry) -> None:
        record = entry.stored
        doc = {"id": record.get("id"), "text": ""}
        meta = record.get("meta") or {}
        clash = [key for key in meta if key in doc]
        if clash:
            raise BundleError(f"document {record.get('id')!r}: its metadata has its own {clash[0]!r} field, "
                              "which a JSONL document cannot hold twice", "use --text --out-dir DIR for the text files")
        doc.update(meta)
        write_record_line(self.out.write, doc, "text", entry.text)

    def close(self, ok: bool) -> None:
        self.out.flush()


class _TextFilesSink(_Sink):
    """`--text --out DIR`: each document's text in DIR/<id>.txt, byte for byte (names as `--out` gives
    folders: collision-free; a duplicate id is an error)."""

    def __init__(self, directory: Path):
        self.directory = ensure_dir(directory)
        self._names: dict[str, str] = {}  # name under casefold and NFC -> the id that has it

    def begin(self, entry: DocEntry) -> None:
        from glyph_cli.streams.outdir import doc_dirname, name_key

        doc_id = str(entry.doc_id)
        name = f"{doc_dirname(doc_id)}.txt"
        other = self._names.get(name_key(name))
        if other == doc_id:
            raise BundleError(f"{self.directory}: two documents with the id {doc_id!r}",
                              "glyph unpack --doc picks one")
        if other is not None:  # only ids made to collide get here
            raise BundleError(f"{self.directory}: documents {other!r} and {doc_id!r} would share the file "
                              f"{name!r} on a case-insensitive file system", "glyph unpack --doc picks one")
        self._names[name_key(name)] = doc_id
        write_bytes_atomic(self.directory / name, entry.text)


class _PngFilesSink(_Sink):
    """`--out DIR`: what `glyph render --out DIR` writes: PNG files and DIR/index.jsonl (streams/outdir.py)."""

    def __init__(self, directory: Path):
        from glyph_cli.streams.outdir import PageDir

        self.out = PageDir(directory)
        self._doc: DocEntry | None = None
        self._lines: list[bytes] = []

    def begin(self, entry: DocEntry) -> None:
        shell = dict(entry.stored)
        shell["text"] = ""
        self.out.begin(shell)  # reserves the document's folder; its index line is written on commit
        self._doc = entry
        self._lines = []

    def page(self, record: dict, png: bytes) -> None:
        self._lines.append(self.out.page(record, png))

    def commit(self) -> None:
        if self._doc is not None:
            write_record_line(self.out.write, self._doc.stored, "text", self._doc.text)
        for line in self._lines:
            self.out.write(line)
        self._doc = None
        self._lines = []

    def discard(self) -> None:
        self.out.drop()
        self._doc = None
        self._lines = []

    def close(self, ok: bool) -> None:
        self.out.close(ok)


# -- reading --------------------------------------------------------------------------------------


def _checked_pages(reader: BundleReader, workers: int,
                   select: Callable[[dict], bool] | None = None) -> Iterator[tuple[object, bool, object]]:
    """(event, wanted, PNG or RecordError or None) in bundle order. Pages of the documents `select`
    wants are rebuilt and checked in threads; the choice is made here, in order, ahead of them."""
    limits = reader.limits

    pixels = reader.pixels

    def annotated():
        wanted = False
        for event in reader.events():
            if isinstance(event, DocEntry):
                wanted = select is None or select(event.doc_id)
                reader.pixels = pixels and wanted  # the pages of documents not wanted are skipped unread
            yield event, wanted

    def check(item):
        event, wanted = item
        if wanted and isinstance(event, PageEntry) and event.data is not None:
            try:
                return event, wanted, restore_png(event.record, event.data, limits)
            except RecordError as exc:
                return event, wanted, exc
        return event, wanted, None

    return ordered_map(check, annotated(), workers)


class Unpacker:
    def __init__(self, path: str, *, text: bool = False, doc_ids: list[str] | None = None, out_dir: str | None = None,
                 salvage: bool = False, threads: int = 0, limits: Limits = DEFAULT_LIMITS):
        from glyph_cli.bundle.writer import default_threads

        self.path = path
        self.source = display_name(path)
        self.text = text
        self.selected = set(doc_ids) if doc_ids else None
        self.out_dir = Path(out_dir) if out_dir else None
        self.salvage = salvage
        self.workers = threads or default_threads()
        self.limits = limits

    def _sink(self, out: IO[bytes]) -> _Sink:
        if self.text:
            return _TextFilesSink(self.out_dir) if self.out_dir else _DocumentsSink(out)
        if self.out_dir:
            return _PngFilesSink(self.out_dir)
        return _StreamSink(out, hold=self.salvage)

    def run(self, out: IO[bytes]) -> UnpackResult:
        result = UnpackResult()
        found: set[str] = set()
        with open_bundle(self.path, seekable=self.salvage) as fh:
            reader = BundleReader(fh, source=self.source, limits=self.limits, salvage=self.salvage,
                                  pixels=not self.text)
            sink = None
            ok = False
            try:  # the sink made inside it: an interrupt just after its folder appears still cleans up
                sink = self._sink(out)
                self._copy(reader, sink, result, found)
                ok = True
            finally:
                if sink is not None:
                    sink.close(ok)
        result.damages = reader.damages
        if self.selected is not None:
            result.missing = sorted(self.selected - found)
        return result

    def _copy(self, reader: BundleReader, sink: _Sink, result: UnpackResult, found: set[str]) -> None:
        for event in self._documents(reader, result, found):
            kind = event[0]
            if kind == "begin":
                sink.begin(event[1])
            elif kind == "page":
                sink.page(event[1], event[2])
            elif kind == "commit":
                sink.commit()
            else:
                sink.discard()

    def _documents(self, reader: BundleReader, result: UnpackResult, found: set[str]) -> Iterator[tuple]:
        """("begin", doc record), ("page", page record, png), then ("commit",) for an intact document
        or ("discard",) for a damaged one, in bundle order."""
        current: DocEntry | None = None
        select = None if self.selected is None else (lambda doc_id: doc_id in self.selected)
        total = pages_in_index(self.path, self.selected, self.limits) if log.progress_enabled() else None
        with log.progress(total=total, desc="unpack", unit="page") as bar:
            for event, wanted, png in _checked_pages(reader, self.workers, select):
                if isinstance(event, DocEntry):
                    current = None
                    if wanted:
                        found.add(event.doc_id)
                        current = event
                        yield ("begin", event)
                elif isinstance(event, PageEntry):
                    if current is None or event.n != current.n:
                        continue
                    if isinstance(png, NotReproducible) and self.salvage:
                        log.warn(f"{self.source}: document {event.n} ({current.doc_id!r}): page "
                                 f"{event.index}: {png}; wrote a PNG with the same pixels and its own sha256")
                        result.reencoded += 1
                        if "sha256" in event.record:
                            event.record["sha256"] = sha256_hex(png.png)
                        png = png.png
                    elif isinstance(png, RecordError):
                        damage = reader.mark_damaged(event.n, current.doc_id, f"page {event.index}: {png}")
                        log.warn(f"{self.source}: damaged: {damage.message}")
                        yield ("discard",)
                        current = None
                        continue
                    if png is not None:
                        yield ("page", event.record, png)
                        result.pages += 1
                        bar.update(1)
                elif isinstance(event, DocEnd):
                    if current is not None and event.n == current.n:
                        yield ("commit",)
                        result.docs += 1
                    current = None
                elif isinstance(event, Damage):
                    log.warn(f"{self.source}: damaged: {event.message}")
                    if current is not None and event.n == current.n:
                        yield ("discard",)
                        current = None

    def documents(self, pages: bool = True) -> Iterator[tuple[dict, list[dict]]]:
        """(doc record, page records) per intact document, as `glyph render` wrote them: the pull
        form of unpacking, for stages that read bundles directly (glyph ask, glyph bench). Memory
        holds one document; `pages=False` reads the texts only (no page is rebuilt; the lists are
        empty). Damage ends the read with a BundleError once the intact documents before it are out."""
        result = UnpackResult()
        with open_bundle(self.path) as fh:
            reader = BundleReader(fh, source=self.source, limits=self.limits, salvage=self.salvage, pixels=pages)
            doc: dict | None = None
            pages: list[dict] = []
            for event in self._documents(reader, result, set()):
                kind = event[0]
                if kind == "begin":
                    doc, pages = event[1].record, []
                    event[1].release_text()
                elif kind == "page":
                    pages.append(restore_page(event[1], event[2]))
                elif kind == "commit":
                    yield doc, pages
                    doc, pages = None, []
                else:
                    doc, pages = None, []
        if reader.damages and not self.salvage:
            raise BundleError(damage_report(self.source, reader.damages),
                              "glyph verify lists the damage; glyph unpack --salvage recovers intact documents")


def verify(path: str, *, threads: int = 0, limits: Limits = DEFAULT_LIMITS) -> UnpackResult:
    """Read everything, rebuild every page, check every checksum and the index. Writes nothing."""
    from glyph_cli.bundle.writer import default_threads

    result = UnpackResult()
    source = display_name(path)
    with open_bundle(path, seekable=True) as fh:
        reader = BundleReader(fh, source=source, limits=limits, salvage=True, texts=False)
        damaged: set[int] = set()
        ids: dict[object, int] = {}  # document id -> the number of its first copy
        total = pages_in_index(path, None, limits) if log.progress_enabled() else None
        with log.progress(total=total, desc="verify", unit="page") as bar:
            for event, _wanted, png in _checked_pages(reader, threads or default_threads()):
                if isinstance(event, DocEntry):
                    doc_id = event.doc_id
                    if doc_id in ids:  # a bundle's ids are unique: glyph pack never writes a second copy
                        reader.mark_damaged(event.n, doc_id, f"duplicate document id (document {ids[doc_id]} "
                                            "has it too)")
                        damaged.add(event.n)
                    else:
                        ids[doc_id] = event.n
                elif isinstance(event, PageEntry):
                    result.pages += 1
                    bar.update(1)
                    if isinstance(png, RecordError):
                        reader.mark_damaged(event.n, event.record.get("doc"), f"page {event.index}: {png}")
                        damaged.add(event.n)
                elif isinstance(event, DocEnd) and event.n not in damaged:
                    result.docs += 1
        result.damages = reader.damages
    return result


def damage_report(source: str, damages: list[Damage], limit: int = 20) -> str:
    lines = [f"  {d.message}" for d in damages[:limit]]
    if len(damages) > limit:
        lines.append(f"  ... and {len(damages) - limit} more")
    return f"{source}: {len(damages)} problem(s):\n" + "\n".join(lines)


