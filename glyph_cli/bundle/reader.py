"""Reads a bundle as a stream of documents and pages, checking everything it can on the way.

Every member's size is checked against the limits before a byte of it is read. Strict mode stops
at the first damage with a BundleError that names it; salvage mode reports the damage, finds the
next intact member (the next 512-byte tar header in the same frame, or the next zstd frame) and goes
on. Checking a page's pixels (rebuilding its PNG) is left to the caller so it can run in threads.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass, field
from typing import IO, Iterator

import orjson

from glyph_cli.bundle import tarball
from glyph_cli.bundle.format import DEFAULT_LIMITS, FORMAT, INDEX_NAME, VERSION, Limits, MemberName, parse_member_name
from glyph_cli.bundle.frames import MAX_BLOCK, Footer, FrameError, FrameReader, read_footer
from glyph_cli.bundle.pagecodec import PageCodecError, read_ihdr
from glyph_cli.bundle.records import RecordError, check_meta, descriptor
from glyph_cli.errors import BundleError
from glyph_cli.records import INDEX_DOC_FIELDS, INDEX_PAGE_FIELDS

SALVAGE_HINT = "`glyph unpack --salvage` recovers every intact document"


class DocEntry:
    """A document whose record and text have been read and checked (sha256, size, UTF-8).

    The text is kept as the UTF-8 bytes it is stored as (one copy, however large); `record`
    decodes it into the stream's doc record on first use. `text` is None when the reader was asked
    not to keep texts (they are still checked)."""

    __slots__ = ("n", "stored", "text", "_record")

    def __init__(self, n: int, stored: dict, text: bytearray | None):
        self.n = n
        self.stored = stored  # the stored doc record: `text` is its descriptor
        self.text = text
        self._record: dict | None = None

    @property
    def doc_id(self) -> object:
        return self.stored.get("id")

    @property
    def text_bytes(self) -> int:
        return self.stored["text"]["bytes"]

    @property
    def record(self) -> dict:
        """The stream's doc record, text restored (decoded once, then cached)."""
        if self._record is None:
            if self.text is None:
                raise ValueError("this bundle was read without its texts")
            record = dict(self.stored)
            record["text"] = str(self.text, "utf-8")
            self._record = record
        return self._record

    def release_text(self) -> None:
        """Drop the bytes once `record` holds the decoded text (halves what a large text costs)."""
        self.text = None

    def __repr__(self) -> str:
        return f"DocEntry(n={self.n}, id={self.doc_id!r}, text_bytes={self.text_bytes})"


@dataclass
class PageEntry:
    n: int
    index: int
    record: dict  # the stored page record: `image` is its descriptor
    data: bytes | None  # the stored bytes (None when reading without pixels)
    stored_bytes: int


@dataclass
class DocEnd:
    n: int


@dataclass
class Damage:
    message: str
    n: int | None = None
    doc_id: object = None


class _EndOfData(Exception):
    pass


class _Decompressed:
    """The tar stream: decompressed bytes across frames, read exactly."""

    def __init__(self, frames: FrameReader):
        self.frames = frames
        self._frame_iter = frames.frames()
        self._blocks: Iterator[bytes] = iter(())
        self.frame_offset = -1
        self._buf = bytearray()
        self._at = 0
        self.pos = 0  # bytes of the tar stream read so far

    def read(self, n: int) -> bytes:
        self._fill(n)
        with memoryview(self._buf) as view:
            out = bytes(view[self._at:self._at + n])
        self._at += n
        self.pos += n
        return out

    def _fill(self, n: int) -> None:
        """At least `n` bytes buffered from `_at` on."""
        while len(self._buf) - self._at < n:
            block = next(self._blocks, None)
            if block is None:
                nxt = next(self._frame_iter, None)
                if nxt is None:
                    if len(self._buf) == self._at:
                        raise _EndOfData
                    raise FrameError(self.frames.pos, "data ends inside a tar member (truncated)")
                self.frame_offset, self._blocks = nxt
                continue
            if self._at:
                del self._buf[:self._at]
                self._at = 0
            self._buf += block

    def skip(self, n: int) -> None:
        """Pass over `n` bytes without copying them out."""
        while n > 0:
            if self._at == len(self._buf):
                self._fill(1)
            step = min(n, len(self._buf) - self._at)
            self._at += step
            self.pos += step
            n -= step

    def restart(self) -> None:
        """After a resync: forget buffered data and continue from the reader's new position."""
        self._frame_iter = self.frames.frames()
        self._blocks = iter(())
        self._buf = bytearray()
        self._at = 0
        self.pos = 0


@dataclass
class _Doc:
    n: int
    record: dict | None = None  # the stored doc record until its text arrives
    doc_id: object = None
    pages: int = 0
    next_page: int = 0
    page: dict | None = None  # the page record whose pixels come next
    hasher: object = field(default_factory=hashlib.sha256)
    damaged: bool = False
    summary: list = field(default_factory=list)  # what its index lines must say: doc fields, then each page's


def _doc_summary(record: dict) -> dict:
    return {"id": record.get("id"), "meta": record.get("meta", {}),
            **{key: record.get(key) for key in INDEX_DOC_FIELDS}}


def _page_summary(record: dict) -> dict:
    return {key: record.get(key) for key in INDEX_PAGE_FIELDS}


def _doc_digest_start(doc_id: object, pages: object, text_sha: object):
    h = hashlib.sha256()
    h.update(orjson.dumps([doc_id, pages, text_sha]))
    return h


class BundleReader:
    """Documents and pages of one bundle. Iterate `events()` once."""

    def __init__(self, fh: IO[bytes], *, source: str = "bundle", limits: Limits = DEFAULT_LIMITS,
                 salvage: bool = False, pixels: bool = True, texts: bool = True):
        self.fh = fh
        self.source = source
        self.limits = limits
        self.salvage = salvage
        self.pixels = pixels
        self.texts = texts  # keep each document's text (False: checked, then dropped block by block)
        self.header: dict | None = None
        self.index_seen = False
        self.damages: list[Damage] = []
        self.docs_read = 0
        self.index_frame = -1
        self.index_size = -1
        self._intact: dict[int, bytes] = {}  # doc number -> digest, to check the index against
        self._damaged_docs: set[int] = set()
        self._summaries: dict[int, list] = {}  # doc number -> what its index lines must say

    # -- damage ---------------------------------------------------------------------------------

    def _fail(self, message: str, doc: _Doc | None = None) -> Damage:
        where = ""
        if doc is not None:
            where = f"document {doc.n}" + (f" ({doc.doc_id!r})" if doc.doc_id is not None else "") + ": "
        if not self.salvage:
            raise BundleError(f"{self.source}: {where}{message}", SALVAGE_HINT)
        damage = Damage(where + message, doc.n if doc else None, doc.doc_id if doc else None)
        self.damages.append(damage)
        if doc is not None:
            doc.damaged = True
            self._damaged_docs.add(doc.n)
        return damage

    def mark_damaged(self, n: int, doc_id: object, message: str) -> Damage:
        """The caller found a page of document `n` damaged (its rebuilt PNG failed its checksum)."""
        doc = _Doc(n, doc_id=doc_id)
        self._intact.pop(n, None)
        return self._fail(message, doc)

    # -- members --------------------------------------------------------------------------------

    def _data(self, src: _Decompressed, member: tarball.Member, limit: int, what: str) -> bytes:
        if member.size > limit:
            raise BundleError(f"{self.source}: member {member.name} declares {member.size} bytes, over the "
                              f"{limit}-byte limit for {what}; refusing the bundle")
        data = src.read(member.size)
        src.read(member.padded - member.size)
        return data

    def _check_declared(self, member: tarball.Member) -> None:
        """No member may declare more than the largest thing a bundle can hold, whatever it is."""
        if member.name == INDEX_NAME:
            return  # _read_index checks it against its own limit
        lim = self.limits
        cap = max(lim.max_json_bytes, lim.max_text_bytes, lim.max_png_bytes, lim.max_raw_bytes, lim.max_index_bytes)
        if member.size > cap:
            raise BundleError(f"{self.source}: member {member.name} declares {member.size} bytes, over the "
                              f"{cap}-byte limit for any member; refusing the bundle")

    def _json(self, src: _Decompressed, member: tarball.Member) -> dict:
        data = self._data(src, member, self.limits.max_json_bytes, "a record")
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise RecordError(f"{member.name} is not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise RecordError(f"{member.name} is not a JSON object")
        return value

    def _pixel_size_limit(self, desc: dict) -> int:
        if desc.get("store") == "png":
            return self.limits.max_png_bytes
        import base64

        try:
            head = base64.b64decode(desc.get("head", ""), validate=True)
            width, height, depth, colour, _ = read_ihdr(head, self.limits)
        except (ValueError, PageCodecError) as exc:
            raise RecordError(f"stored page header is damaged or refused: {exc}") from None
        channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
        return height * ((width * channels * depth + 7) // 8 + 1)

    # -- the stream -----------------------------------------------------------------------------

    def events(self) -> Iterator[DocEntry | PageEntry | DocEnd | Damage]:
        frames = FrameReader(self.fh, self.limits)
        src = _Decompressed(frames)
        doc: _Doc | None = None
        last_n = -1
        first = True
        resync_tar = False
        member_end = 0
        while True:
            try:
                if resync_tar:
                    member = self._scan_for_doc(src)
                    resync_tar = False
                else:
                    member = tarball.parse_header(src.read(tarball.BLOCK))
                if member is None:
                    yield from self._end_of_archive(src, doc)
                    return
                member_end = src.pos + member.padded
                self._check_declared(member)
                name = parse_member_name(member.name)
                if name is None:
                    raise BundleError(f"{self.source}: unexpected member {member.name!r}; not a glyph bundle, or a "
                                      "hostile one")
                if first:
                    first = False
                    if name.kind != "header":
                        if not self.salvage:
                            raise BundleError(f"{self.source}: first member is {member.name}, not the bundle header",
                                              "is this a glyph bundle?")
                        yield self._fail("the bundle header is missing or damaged")
                if name.kind == "header":
                    if self.header is not None:
                        raise BundleError(f"{self.source}: duplicate member {member.name} (a second bundle header)")
                    self._read_header(src, member)
                    continue
                if name.kind == "index":
                    if self.index_seen:
                        raise BundleError(f"{self.source}: duplicate member {member.name} (a second index)")
                    if doc is not None and not doc.damaged:
                        yield self._fail(f"ends after {doc.next_page} of {doc.pages} pages", doc)
                    doc = None
                    yield from self._read_index(src, member)
                    continue
                if name.kind == "doc":
                    if doc is not None and not doc.damaged:
                        yield self._fail(f"ends after {doc.next_page} of {doc.pages} pages", doc)
                    doc = None
                    if name.doc <= last_n or (not self.salvage and name.doc != last_n + 1):
                        raise RecordError(f"document number {name.doc} out of order after {last_n}")
                    last_n = name.doc
                    doc = _Doc(name.doc)
                    self._read_doc(src, member, doc)
                    continue
                if doc is None or name.doc != doc.n:
                    raise RecordError(f"member {member.name} outside its document")
                if doc.damaged:
                    src.skip(member.padded)
                    continue
                if name.kind == "text":
                    yield from self._read_text(src, member, doc)
                elif name.kind == "page":
                    self._read_page(src, member, name, doc)
                else:
                    yield from self._read_pixels(src, member, name, doc)
                if doc.record is None and doc.next_page == doc.pages and doc.page is None and not doc.damaged:
                    self._intact[doc.n] = doc.hasher.digest()
                    self._summaries[doc.n] = doc.summary
                    self.docs_read += 1
                    yield DocEnd(doc.n)
                    doc = None
            except RecordError as exc:
                if doc is None:
                    if not self.salvage:
                        raise BundleError(f"{self.source}: {exc}", SALVAGE_HINT) from None
                    yield self._fail(str(exc))
                    resync_tar = True
                else:
                    yield self._fail(str(exc), doc)
                    if src.pos < member_end:  # the rest of the damaged member, to stay on the tar grid
                        try:
                            src.skip(member_end - src.pos)
                        except _EndOfData:
                            yield from self._incomplete(None)
                            return
                        except FrameError as frame_exc:
                            yield self._fail(f"compressed data damaged at {frame_exc}")
                            doc = None
                            if not self._resync(frames, src):
                                yield from self._incomplete(None)
                                return
            except tarball.TarError as exc:
                if first and not self.salvage:
                    raise BundleError(f"{self.source}: not a glyph bundle (no tar header at its start: {exc})") from None
                if doc is not None and not doc.damaged:
                    yield self._fail(f"tar header damaged ({exc})", doc)
                elif doc is None:
                    yield self._fail(f"tar header damaged ({exc})")
                doc = None
                resync_tar = True
            except FrameError as exc:
                if doc is not None and not doc.damaged:
                    yield self._fail(f"compressed data damaged at {exc}", doc)
                else:
                    yield self._fail(f"compressed data damaged at {exc}")
                doc = None
                if not self._resync(frames, src):
                    yield from self._incomplete(None)
                    return
            except _EndOfData:
                yield from self._incomplete(doc)
                return

    def _incomplete(self, doc: _Doc | None) -> Iterator[Damage]:
        if doc is not None and not doc.damaged:
            yield self._fail(f"ends after {doc.next_page} of {doc.pages} pages", doc)
        if not self.index_seen:
            yield self._fail(f"bundle is incomplete: it ends after {self.docs_read} intact document(s) with no "
                             "index (truncated, or its writer was stopped)")

    def _resync(self, frames: FrameReader, src: _Decompressed) -> bool:
        """Salvage only (strict mode raised already): continue at the next zstd frame."""
        start = max(src.frame_offset, 0)
        if not frames.resync(start):
            return False
        src.restart()
        return True

    def _scan_for_doc(self, src: _Decompressed) -> tarball.Member | None:
        """Salvage: the next 512-byte block that is a valid header of a document or the index."""
        while True:
            block = src.read(tarball.BLOCK)
            try:
                member = tarball.parse_header(block)
            except tarball.TarError:
                continue
            if member is None:
                continue
            name = parse_member_name(member.name)
            if name is not None and name.kind in ("doc", "index"):
                return member

    def _read_header(self, src: _Decompressed, member: tarball.Member) -> None:
        data = self._data(src, member, self.limits.max_json_bytes, "the header")
        try:
            header = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise RecordError("bundle header is not valid JSON") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise BundleError(f"{self.source}: not a glyph bundle (header format {header!r:.80})")
        if header.get("version") != VERSION:
            raise BundleError(f"{self.source}: bundle format version {header.get('version')!r} is not supported "
                              f"(this glyph reads {VERSION})", "upgrade glyph")
        self.header = header

    def _read_doc(self, src: _Decompressed, member: tarball.Member, doc: _Doc) -> None:
        record = self._json(src, member)
        doc.doc_id = record.get("id")
        desc = check_meta(record, "text")
        pages = record.get("pages")
        if not isinstance(pages, int) or pages < 0:
            raise RecordError("doc record has no valid page count")
        doc.record, doc.pages = record, pages
        doc.summary = [_doc_summary(record)]
        doc.hasher = _doc_digest_start(doc.doc_id, pages, desc["sha256"])

    def _read_text(self, src: _Decompressed, member: tarball.Member, doc: _Doc) -> Iterator[DocEntry | DocEnd]:
        if doc.record is None:
            raise RecordError("text member without its doc record")
        desc = descriptor(doc.record, "text")
        if member.size != desc.get("bytes"):
            raise RecordError(f"text member is {member.size} bytes, the record says {desc.get('bytes')}")
        if member.size > self.limits.max_text_bytes:
            self._data(src, member, self.limits.max_text_bytes, "a document's text")  # raises
        # Read a block at a time: hashed and checked as UTF-8 on the way, and kept (if at all) in one
        # buffer that grows with what was decompressed (so the expansion guard still acts before a
        # bomb's declared size is allocated; large buffers grow in place, by mremap on Linux): a text
        # costs about its size in memory once, or nothing.
        hasher = hashlib.sha256()
        utf8 = codecs.getincrementaldecoder("utf-8")()
        text = bytearray() if self.texts else None
        done = 0
        utf8_ok = True
        while done < member.size:
            piece = src.read(min(member.size - done, MAX_BLOCK))
            hasher.update(piece)
            if utf8_ok:
                try:
                    utf8.decode(piece)
                except UnicodeDecodeError:
                    utf8_ok = False
            if text is not None:
                text += piece
            done += len(piece)
        if utf8_ok:
            try:
                utf8.decode(b"", True)
            except UnicodeDecodeError:
                utf8_ok = False
        src.read(member.padded - member.size)
        if hasher.hexdigest() != desc["sha256"]:
            raise RecordError("text does not match its checksum")
        if not utf8_ok:
            raise RecordError("text is not UTF-8")
        stored = doc.record
        doc.record = None
        yield DocEntry(doc.n, stored, text)

    def _read_page(self, src: _Decompressed, member: tarball.Member, name: MemberName, doc: _Doc) -> None:
        if doc.record is not None or doc.page is not None:
            raise RecordError(f"member {member.name} out of order")
        if name.page != doc.next_page or doc.next_page >= doc.pages:
            raise RecordError(f"page {name.page} out of order (expected {doc.next_page} of {doc.pages})")
        record = self._json(src, member)
        check_meta(record, "image")
        doc.page = record

    def _read_pixels(self, src: _Decompressed, member: tarball.Member, name: MemberName,
                     doc: _Doc) -> Iterator[PageEntry]:
        record = doc.page
        if record is None or name.page != doc.next_page:
            raise RecordError(f"member {member.name} without its page record")
        desc = descriptor(record, "image")
        if desc.get("store") != name.ext:
            raise RecordError(f"page is stored as {desc.get('store')!r} but its member is .{name.ext}")
        limit = self._pixel_size_limit(desc)
        self._check_size(record, desc, name)
        if desc.get("store") == "bands" and member.size != limit:
            raise RecordError(f"stored page is {member.size} bytes, its header says {limit}")
        if self.pixels:
            data = self._data(src, member, limit, "a page")
        else:
            if member.size > limit:
                self._data(src, member, limit, "a page")  # raises: refused before reading
            src.skip(member.padded)
            data = None
        if self.pixels and desc.get("store") == "png":
            self._check_size(record, {"head": data[:33]}, name)
        doc.hasher.update(desc["sha256"].encode("ascii"))
        doc.summary.append(_page_summary(record))
        doc.page = None
        doc.next_page += 1
        yield PageEntry(doc.n, name.page, record, data, member.size)

    def _check_size(self, record: dict, desc: dict, name: MemberName) -> None:
        """The page record's width and height are the stored image's (its PNG header)."""
        head = desc.get("head")
        if head is None:
            return
        if isinstance(head, str):
            import base64

            head = base64.b64decode(head)
        try:
            width, height, *_ = read_ihdr(head, self.limits)
        except (ValueError, PageCodecError) as exc:
            raise RecordError(f"page {name.page}: stored image header is damaged or refused: {exc}") from None
        said = (record.get("width"), record.get("height"))
        if said != (None, None) and said != (width, height):
            raise RecordError(f"page {name.page}: its record says {said[0]}x{said[1]} px, the PNG is "
                              f"{width}x{height}")

    def _read_index(self, src: _Decompressed, member: tarball.Member) -> Iterator[Damage]:
        if member.size > self.limits.max_index_bytes:
            raise BundleError(f"{self.source}: index declares {member.size} bytes, over the "
                              f"{self.limits.max_index_bytes}-byte limit; refusing the bundle")
        self.index_frame = src.frame_offset
        self.index_size = member.size
        listed = 0
        expect: tuple[int, object, object] | None = None
        for line in iter_index_lines(src, member.size, self.limits, self.source):
            kind = line.get("type")
            if kind == "doc" or kind == "end":
                if expect is not None:
                    yield from self._check_listed(*expect)
                expect = None
            if kind == "doc":
                listed += 1
                expect = (line.get("n"), line.get("id"),
                          _doc_digest_start(line.get("id"), line.get("pages"), line.get("text_sha256")),
                          [_doc_summary(line)])
            elif kind == "page" and expect is not None:
                expect[2].update(str(line.get("sha256")).encode("ascii"))
                expect[3].append(_page_summary(line))
            elif kind == "end":
                if line.get("docs") != listed:
                    yield self._fail(f"index is damaged: it lists {listed} documents, its total says "
                                     f"{line.get('docs')}")
        src.read(member.padded - member.size)
        self.index_seen = True

    def _check_listed(self, n: object, doc_id: object, hasher, listed: list) -> Iterator[Damage]:
        if not isinstance(n, int):
            yield self._fail("index is damaged (a document line has no number)")
            return
        got = self._intact.get(n)
        if got is None:
            if n not in self._damaged_docs:
                yield self._fail("lost (its data is missing or damaged)", _Doc(n, doc_id=doc_id))
        elif got != hasher.digest():
            yield self._fail("does not match the index", _Doc(n, doc_id=doc_id))
        else:
            stored = self._summaries.get(n, [])
            for i, (said, real) in enumerate(zip(listed, stored)):
                wrong = [key for key in real if said.get(key) != real[key]]
                if wrong:
                    where = f"{INDEX_NAME}: " + ("its doc line" if i == 0 else f"its page {i - 1} line")
                    yield self._fail(f"{where} says {wrong[0]}={said.get(wrong[0])!r}, the stored record "
                                     f"says {real[wrong[0]]!r}", _Doc(n, doc_id=doc_id))
                    break

    def _end_of_archive(self, src: _Decompressed, doc: _Doc | None) -> Iterator[Damage]:
        """After the first zero block: only zeros may follow, then the footer."""
        try:
            while True:
                block = src.read(tarball.BLOCK)
                if any(block):
                    raise RecordError("data after the end of the archive")
        except _EndOfData:
            pass
        except (FrameError, RecordError) as exc:
            yield self._fail(f"damaged after the index ({exc})")
            return
        if not self.index_seen:
            yield from self._incomplete(doc)
            return
        frames = src.frames
        footer = Footer.decode(frames.footer_seen or b"", frames.pos)
        if footer is None or footer.index_offset != self.index_frame or footer.index_size != self.index_size:
            yield self._fail("footer is missing or does not point at the index (`glyph ls` will scan the "
                             "whole bundle)")


def iter_index_lines(src: _Decompressed, size: int, limits: Limits, source: str) -> Iterator[dict]:
    """The index's JSON lines, read in bounded pieces."""
    pending = b""
    left = size
    while left > 0 or pending:
        if left > 0:
            chunk = src.read(min(left, 1 << 20))
            left -= len(chunk)
            pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop() if left > 0 else b""
        if len(pending) > limits.max_json_bytes:
            raise BundleError(f"{source}: an index line is over {limits.max_json_bytes} bytes; refusing the bundle")
        for raw in lines:
            if not raw:
                continue
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise RecordError("index has a line that is not JSON") from None
            if not isinstance(line, dict):
                raise RecordError("index has a line that is not an object")
            yield line


def read_index(fh: IO[bytes], source: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[dict] | None:
    """The index lines of a bundle file, read from its last frame via the footer; None without one."""
    try:
        footer = read_footer(fh)
    except OSError:
        return None
    if footer is None:
        return None
    if footer.index_size > limits.max_index_bytes:
        raise BundleError(f"{source}: index declares {footer.index_size} bytes, over the "
                          f"{limits.max_index_bytes}-byte limit; refusing the bundle")
    fh.seek(footer.index_offset)
    src = _Decompressed(FrameReader(fh, limits, start=footer.index_offset))

    def lines() -> Iterator[dict]:
        try:
            member = tarball.parse_header(src.read(tarball.BLOCK))
            if member is None or member.name != INDEX_NAME or member.size != footer.index_size:
                raise BundleError(f"{source}: the footer does not point at the index", "run `glyph verify`")
            yield from iter_index_lines(src, member.size, limits, source)
        except (FrameError, tarball.TarError, RecordError, _EndOfData) as exc:
            raise BundleError(f"{source}: the index is damaged ({exc or 'truncated'})", "run `glyph verify`") from None

    return lines()


def file_index(path: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[dict] | None:
    """The index lines of the bundle file at `path`, read via its footer, or None where there is none
    to read without reading the bundle: stdin, not a regular file, no footer. The file stays open
    until the lines are read through; a damaged index raises BundleError as it is read."""
    import os

    from glyph_cli.streams.io import STDIO, display_name

    if path == STDIO or not os.path.isfile(path):
        return None
    fh = open(path, "rb")
    try:
        lines = read_index(fh, display_name(path), limits)
    except BaseException:
        fh.close()
        raise
    if lines is None:
        fh.close()
        return None

    def reading() -> Iterator[dict]:
        with fh:
            yield from lines

    return reading()
