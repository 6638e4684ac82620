"""The zstd layer: frames written at document boundaries, read back one bounded block at a time.

A bundle is a sequence of zstd frames (plain `zstd -d` and `tar --zstd` read it as one stream),
then a 48-byte skippable frame, the footer, that says where the last frame, the one holding the
index, begins. The reader parses frame and block headers itself and feeds the decompressor one
block at a time: no single call can expand beyond one block (128 KiB), frame boundaries are known
exactly, and after damage the next frame can be found again.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO, Iterator

from glyph_cli.bundle.format import VERSION, Limits
from glyph_cli.errors import BundleError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
FOOTER_MAGIC = 0x184D2A5B  # a zstd skippable-frame magic (0x184D2A50..5F): every zstd decoder skips it
FOOTER_TAG = b"GLYPHIDX"
_FOOTER = struct.Struct("<II8sIIQQQ")
FOOTER_SIZE = _FOOTER.size  # 48
MAX_WINDOW_LOG = 27  # the default decoding limit of zstd and `tar --zstd`: no flags needed to read a bundle
MAX_BLOCK = 128 << 10
_CHUNK = 1 << 20


class FrameError(Exception):
    """The compressed data is damaged or truncated at `offset`."""

    def __init__(self, offset: int, message: str):
        super().__init__(f"byte {offset}: {message}")
        self.offset = offset


@dataclass(frozen=True)
class Footer:
    index_offset: int  # where the frame holding the index starts
    index_length: int  # its compressed length
    index_size: int  # the index member's uncompressed size

    def encode(self) -> bytes:
        return _FOOTER.pack(FOOTER_MAGIC, FOOTER_SIZE - 8, FOOTER_TAG, VERSION, 0,
                            self.index_offset, self.index_length, self.index_size)

    @classmethod
    def decode(cls, data: bytes, file_size: int) -> Footer | None:
        """The footer, if `data` (the last 48 bytes of a file of `file_size` bytes) is one."""
        if len(data) != FOOTER_SIZE:
            return None
        magic, size, tag, version, _reserved, offset, length, index_size = _FOOTER.unpack(data)
        if magic != FOOTER_MAGIC or size != FOOTER_SIZE - 8 or tag != FOOTER_TAG:
            return None
        if version != VERSION:
            raise BundleError(f"bundle format version {version} is not supported (this glyph reads {VERSION})",
                              "upgrade glyph")
        if offset + length != file_size - FOOTER_SIZE:
            return None
        return cls(offset, length, index_size)


def read_footer(fh: IO[bytes]) -> Footer | None:
    size = fh.seek(0, 2)
    if size < FOOTER_SIZE:
        return None
    fh.seek(size - FOOTER_SIZE)
    return Footer.decode(fh.read(FOOTER_SIZE), size)


class _Counting:
    def __init__(self, fh: IO[bytes]):
        self.fh = fh
        self.count = 0

    def write(self, data) -> int:
        self.fh.write(data)
        self.count += len(data)
        return len(data)

    def flush(self) -> None:
        self.fh.flush()


def zstd_settings(level: int, long_log: int) -> dict:
    """The zstd parameters a bundle is written with (recorded in its header).

    With a long window: long-distance matches of 256+ bytes, hashed at 1 position in 256, buckets
    of 2 entries (in band layout those matches are repeated words). On 72-dpi prose that finds
    most of what zstd --long's defaults (64, 1 in 128, buckets of 8) find at about a third of the
    CPU time (docs/BUNDLE.md, Compression).
    """
    settings = {"level": level, "window_log": long_log, "checksum": True}
    if long_log:
        settings.update(ldm_min_match=256, ldm_hash_rate_log=8, ldm_bucket_size_log=1)
    return settings


class FrameWriter:
    """Compresses into frames; `end_frame()` closes one and returns where the next begins."""

    def __init__(self, out: IO[bytes], level: int, long_log: int):
        import zstandard

        self._zstd = zstandard
        # zstd runs in the writing thread: deterministic, and with a long window its multi-threaded
        # mode spends more re-reading window overlaps than the page encoding it would overlap.
        s = zstd_settings(level, long_log)
        ldm = {"enable_ldm": True, "ldm_min_match": s["ldm_min_match"], "ldm_hash_rate_log": s["ldm_hash_rate_log"],
               "ldm_bucket_size_log": s["ldm_bucket_size_log"]} if long_log else {}
        params = zstandard.ZstdCompressionParameters.from_level(
            level, window_log=long_log, write_checksum=True, **ldm)
        self._out = _Counting(out)
        self._writer = zstandard.ZstdCompressor(compression_params=params).stream_writer(
            self._out, closefd=False, write_size=_CHUNK)
        self.frame_start = 0
        self.frame_raw = 0  # uncompressed bytes in the open frame

    def write(self, data: bytes) -> None:
        self._writer.write(data)
        self.frame_raw += len(data)

    def end_frame(self) -> int:
        if self.frame_raw:
            self._writer.flush(self._zstd.FLUSH_FRAME)
        self.frame_start = self._out.count
        self.frame_raw = 0
        return self.frame_start

    def write_raw(self, data: bytes) -> None:
        """Bytes outside any zstd frame (the footer). Only between frames."""
        self._out.write(data)

    @property
    def position(self) -> int:
        return self._out.count


class FrameReader:
    """Walks the frames of a bundle from `start`, yielding decompressed data in blocks.

    Counts compressed and decompressed bytes for the expansion guard. Raises FrameError for
    damage (the caller decides whether to stop or resync) and BundleError for a bomb.
    """

    def __init__(self, fh: IO[bytes], limits: Limits, start: int = 0):
        import zstandard

        self._zstd = zstandard
        self._dctx = zstandard.ZstdDecompressor(max_window_size=1 << MAX_WINDOW_LOG)
        self.fh = fh
        self.limits = limits
        self.pos = start
        self.total_in = 0
        self.total_out = 0
        self.footer_seen: bytes | None = None

    def _read(self, n: int, what: str) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise FrameError(self.pos + len(data), f"file ends inside {what} (truncated)")
        self.pos += n
        self.total_in += n
        return data

    def _guard(self, produced: int) -> None:
        self.total_out += produced
        if self.total_out > self.limits.ratio_floor and self.total_out > self.limits.max_ratio * self.total_in:
            raise BundleError(f"bundle expands more than {self.limits.max_ratio}x ({self.total_out} bytes from "
                              f"{self.total_in}): refusing it as a possible decompression bomb")

    def frames(self) -> Iterator[tuple[int, Iterator[bytes]]]:
        """(offset, data blocks) per zstd frame, in file order. Exhaust each before the next."""
        while True:
            offset = self.pos
            magic = self.fh.read(4)
            if not magic:
                return
            if len(magic) < 4:
                raise FrameError(offset, "file ends inside a frame header (truncated)")
            self.pos += 4
            self.total_in += 4
            if magic == ZSTD_MAGIC:
                yield offset, self._frame(offset)
                continue
            number = int.from_bytes(magic, "little")
            if number & 0xFFFFFFF0 == 0x184D2A50:
                size = int.from_bytes(self._read(4, "a skippable frame"), "little")
                if size > 1 << 20:
                    raise FrameError(offset, f"skippable frame of {size} bytes; bundles use only a 40-byte footer")
                payload = self._read(size, "a skippable frame")
                if number == FOOTER_MAGIC:
                    self.footer_seen = magic + size.to_bytes(4, "little") + payload
                continue
            raise FrameError(offset, "not the start of a zstd frame")

    def _frame(self, offset: int) -> Iterator[bytes]:
        dobj = self._dctx.decompressobj()
        fhd_byte = self._read(1, "a frame header")
        fhd = fhd_byte[0]
        if fhd & 0x08:
            raise FrameError(offset, "reserved bit set in the frame header")
        single_segment = (fhd >> 5) & 1
        dict_size = (0, 1, 2, 4)[fhd & 3]
        fcs_size = (1 if single_segment else 0, 2, 4, 8)[fhd >> 6]
        rest = self._read((0 if single_segment else 1) + dict_size + fcs_size, "a frame header")
        if dict_size and any(rest[1 - single_segment:1 - single_segment + dict_size]):
            raise FrameError(offset, "frame needs a zstd dictionary; bundles never use one")
        try:
            dobj.decompress(ZSTD_MAGIC + fhd_byte + rest)
            while True:
                block_at = self.pos
                head = self._read(3, "a block header")
                value = int.from_bytes(head, "little")
                last, kind, size = value & 1, (value >> 1) & 3, value >> 3
                if kind == 3 or size > MAX_BLOCK:
                    raise FrameError(block_at, "corrupt block header")
                body = self._read(1 if kind == 1 else size, "a block")
                out = dobj.decompress(head + body)
                if out:
                    self._guard(len(out))
                    yield out
                if last:
                    break
            if fhd & 0x04:
                tail = dobj.decompress(self._read(4, "a frame checksum"))
                if tail:
                    self._guard(len(tail))
                    yield tail
        except self._zstd.ZstdError as exc:
            raise FrameError(self.pos, f"zstd: {exc}") from None
        if not dobj.eof:
            raise FrameError(self.pos, "frame ended early")

    def resync(self, after: int) -> bool:
        """Move to the next zstd frame magic after byte `after` (a seekable file only). False at EOF."""
        at = after + 1
        self.fh.seek(at)
        carry = b""
        while True:
            chunk = self.fh.read(_CHUNK)
            if not chunk:
                return False
            data = carry + chunk
            hit = data.find(ZSTD_MAGIC)
            if hit >= 0:
                self.pos = at - len(carry) + hit
                self.fh.seek(self.pos)
                return True
            carry = data[-3:]
            at += len(chunk)
