"""Writes a bundle as a stream: header member first, then per document its records, text and pages,
then the index member in a frame of its own, the end-of-archive blocks and the footer.

Memory stays flat: a page is written as soon as it is stored, the index is spooled to a temporary
file (to disk past 16 MiB), and only one document's small index lines are held at a time.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from typing import IO

import orjson

from glyph_cli import __version__
from glyph_cli.bundle import tarball
from glyph_cli.bundle.format import (DEFAULT_LIMITS, FORMAT, HEADER_NAME, INDEX_NAME, PAGE_STORES, VERSION,
                                     doc_json_name, doc_text_name, page_name)
from glyph_cli.bundle.frames import MAX_WINDOW_LOG, Footer, FrameWriter, zstd_settings
from glyph_cli.errors import BundleError, UsageError
from glyph_cli.records import index_doc_line, index_page_line
from glyph_cli.streams.pages import STREAM_VERSION


def default_threads(reserve: int = 0) -> int:
    """Threads for page work: one per CPU this process may use, less `reserve`, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus - reserve))


@dataclass(frozen=True)
class PackOptions:
    level: int = 3
    long: int = 0  # log2 of the long-distance window (up to MAX_WINDOW_LOG); 0: off, the level's own window
    threads: int = 0  # page-encoding threads; 0: one per CPU but the one zstd runs on, at most 8. The output does not depend on it
    pages: str = "bands"
    frame_mib: int = 64  # a frame closes at the first document end past this much data
    prove: bool = False  # deflate every page again, even one whose PNG says which encoder made it

    def check(self) -> PackOptions:
        if not 1 <= self.level <= 22:
            raise UsageError(f"--level must be 1..22 (zstd levels), got {self.level}")
        if self.long != 0 and not 10 <= self.long <= MAX_WINDOW_LOG:
            raise UsageError(f"--long must be 0 (off) or 10..{MAX_WINDOW_LOG}, got {self.long}",
                             f"windows over 2^{MAX_WINDOW_LOG} need `zstd --long` flags to read back")
        if self.threads < 0:
            raise UsageError(f"--threads cannot be negative, got {self.threads}")
        if self.pages not in PAGE_STORES:
            raise UsageError(f"--pages must be one of {', '.join(PAGE_STORES)}, got {self.pages!r}")
        if not 1 <= self.frame_mib <= 4096:
            raise UsageError(f"--frame-size must be 1..4096 MiB, got {self.frame_mib}")
        return self

    @property
    def workers(self) -> int:
        # the writing thread runs zstd: on two CPUs a second page thread bought no time for 0.6
        # CPU-s (pack of issue 12's 1,595-page stream: 1.93 s with one, 1.97 s with two)
        return self.threads or default_threads(reserve=1)

    def recorded(self) -> dict:
        """What the bundle records: everything that shapes its bytes (not --threads, which does not)."""
        return {"level": self.level, "long": self.long, "pages": self.pages, "frame_mib": self.frame_mib,
                "zstd": zstd_settings(self.level, self.long)}


def tool_versions() -> dict:
    import numpy
    import zstandard

    from glyph_cli.bundle.pagecodec import deflate_versions

    return {"glyph": __version__, "python": sys.version.split()[0], "zstd": zstandard.ZSTD_VERSION,
            "zstandard": zstandard.__version__, **deflate_versions(), "numpy": numpy.__version__}


def _page_index_line(n: int, record: dict) -> dict:
    image = record["image"]
    return index_page_line(n, record, sha256=image["sha256"], bytes=image["bytes"], store=image["store"])


class BundleWriter:
    """One bundle, written to `out` (any binary stream: a file, a pipe)."""

    def __init__(self, out: IO[bytes], options: PackOptions):
        self.options = options.check()
        self._frames = FrameWriter(out, options.level, options.long)
        self._tar_bytes = 0
        self._index = tempfile.SpooledTemporaryFile(max_size=16 << 20)
        self._configs: dict[str, dict] = {}
        self.docs = 0
        self.pages = 0
        self.totals = {"chars": 0, "text_tokens": 0, "visual_tokens": {}, "text_bytes": 0, "png_bytes": 0,
                       "stored_bytes": 0}
        self._doc: dict | None = None
        self._doc_line: dict = {}
        self._page_lines: list[bytes] = []
        self._next_page = 0
        header = {"format": FORMAT, "version": VERSION, "stream_version": STREAM_VERSION,
                  "tool": tool_versions(), "options": options.recorded()}
        self._member(HEADER_NAME, orjson.dumps(header))
        self._index_line({"type": "bundle", **header})

    def _member(self, name: str, data: bytes) -> None:
        pad = tarball.padding(len(data))
        if len(data) <= 1 << 16:  # a record or a short text: one write (each is a call into zstd)
            self._frames.write(b"".join((tarball.header(name, len(data)), data, pad)))
        else:
            self._frames.write(tarball.header(name, len(data)))
            self._frames.write(data)
            self._frames.write(pad)
        self._tar_bytes += tarball.BLOCK + len(data) + len(pad)

    def _index_line(self, line: dict) -> None:
        self._index.write(orjson.dumps(line) + b"\n")

    def begin_document(self, record: dict, text: bytes) -> int:
        """Write a stored doc record (see records.store_doc) and its text; returns its number.

        The document ends by itself when its last page (`pages` in the record) is added.
        """
        self._check_closed()
        n = self.docs
        encoded = orjson.dumps(record)
        self._within(record, "its record", len(encoded), DEFAULT_LIMITS.max_json_bytes)
        self._within(record, "its text", len(text), DEFAULT_LIMITS.max_text_bytes)
        self._member(doc_json_name(n), encoded)
        self._member(doc_text_name(n), text)
        self._doc = record
        self._next_page = 0
        self._page_lines = []
        line = index_doc_line(n, record, text_sha256=record["text"]["sha256"], text_bytes=len(text), png_bytes=0,
                              stored_bytes=0, frame=self._frames.frame_start)
        self._doc_line = line
        config = record.get("config")
        sha = record.get("config_sha256")
        if isinstance(config, dict) and isinstance(sha, str):
            entry = self._configs.setdefault(sha, {"config": config, "fonts": {}})
            for font in record.get("fonts") or []:
                if isinstance(font, dict):
                    entry["fonts"].setdefault(font.get("sha256") or font.get("file"), font)
        if not record.get("pages"):
            self._end_document()
        return n

    def add_page(self, record: dict, store: str, data: bytes) -> None:
        """Write a stored page record (see records.store_page) and its stored bytes."""
        if self._doc is None:
            raise RuntimeError("add_page outside a document")
        n, index = self.docs, self._next_page
        encoded = orjson.dumps(record)
        self._within(self._doc, f"page {index}'s record", len(encoded), DEFAULT_LIMITS.max_json_bytes)
        if store == "png":
            self._within(self._doc, f"page {index}'s PNG", len(data), DEFAULT_LIMITS.max_png_bytes)
            self._readable(index, data[:33])
        else:
            import base64

            self._readable(index, base64.b64decode(record["image"].get("head", "")))
        self._member(page_name(n, index, "json"), encoded)
        self._member(page_name(n, index, store), data)
        self._next_page += 1
        self._page_lines.append(orjson.dumps(_page_index_line(n, record)) + b"\n")
        self._doc_line["png_bytes"] += record["image"]["bytes"]
        self._doc_line["stored_bytes"] += len(data)
        if self._next_page == self._doc.get("pages"):
            self._end_document()

    def _within(self, doc: dict, what: str, size: int, limit: int) -> None:
        """Refuse to write what the reader would refuse to read (its limits are the format's)."""
        if size > limit:
            raise BundleError(f"document {self.docs} ({doc.get('id')!r}): {what} is {size} bytes, over the "
                              f"{limit}-byte limit a bundle reader accepts; not packed")

    def _readable(self, index: int, head: bytes) -> None:
        from glyph_cli.bundle.pagecodec import PageCodecError, read_ihdr

        try:
            read_ihdr(head, DEFAULT_LIMITS)
        except (ValueError, PageCodecError) as exc:
            raise BundleError(f"document {self.docs} ({self._doc.get('id')!r}): page {index} would be refused "
                              f"by a bundle reader ({exc}); not packed") from None

    def _check_closed(self) -> None:
        if self._doc is not None:
            raise ValueError(f"document {self._doc.get('id')!r} promised {self._doc.get('pages')} pages and "
                             f"has {self._next_page}")

    def _end_document(self) -> None:
        line = self._doc_line
        self._index_line(line)
        for page_line in self._page_lines:
            self._index.write(page_line)
        t = self.totals
        t["chars"] += line.get("chars", 0) or 0
        t["text_tokens"] += line.get("text_tokens", 0) or 0
        for family, count in (line.get("visual_tokens") or {}).items():
            t["visual_tokens"][family] = t["visual_tokens"].get(family, 0) + count
        t["text_bytes"] += line["text_bytes"]
        t["png_bytes"] += line["png_bytes"]
        t["stored_bytes"] += line["stored_bytes"]
        self.docs += 1
        self.pages += self._next_page
        self._doc = None
        self._page_lines = []
        if self._frames.frame_raw >= self.options.frame_mib << 20:
            self._frames.end_frame()

    def finish(self) -> int:
        """Write the index, the end of the archive and the footer. Returns the bundle's size in bytes."""
        self._check_closed()
        for sha, entry in self._configs.items():
            self._index_line({"type": "config", "sha256": sha, "config": entry["config"],
                              "fonts": list(entry["fonts"].values())})
        self._index_line({"type": "end", "docs": self.docs, "pages": self.pages, **self.totals})
        index_offset = self._frames.end_frame()
        size = self._index.tell()
        self._index.seek(0)
        self._frames.write(tarball.header(INDEX_NAME, size))
        while chunk := self._index.read(1 << 20):
            self._frames.write(chunk)
        self._frames.write(tarball.padding(size))
        self._tar_bytes += tarball.BLOCK + size + len(tarball.padding(size))
        self._frames.write(tarball.end_of_archive(self._tar_bytes))
        end = self._frames.end_frame()
        self._frames.write_raw(Footer(index_offset, end - index_offset, size).encode())
        self._index.close()
        return self._frames.position
