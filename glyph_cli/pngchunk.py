"""One PNG chunk writer (length, type, data, CRC-32 of type and data), for the renderer's PNG encoder
(typeset/png.py) and the bundle's page rebuilder (bundle/pagecodec.py). The bottom layer: it imports
nothing of glyph's."""

from __future__ import annotations

import functools
import struct
import zlib


def chunk_parts(kind: bytes, data: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """One PNG chunk of type `kind` (four ASCII letters) holding `data`, as its four parts (length,
    type, data, CRC-32 of type and data), for a caller that joins many chunks in one buffer."""
    return struct.pack(">I", len(data)), kind, data, struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def chunk(kind: bytes, data: bytes) -> bytes:
    """The bytes of one PNG chunk of type `kind` holding `data`."""
    return b"".join(chunk_parts(kind, data))


# A PNG's word on how its image data was made. glyph's encoder deflates the scanlines itself, so it
# can say so: which deflate encoder (name and version) at which level gave the IDAT chunk, bound to
# that chunk by its CRC. The bundle then need not deflate the page again to know that it can give
# the PNG back byte for byte. The chunk is ancillary, private and unsafe to copy ("glDF"), so a PNG
# editor that changes the image drops it (PNG spec 5.4); one that keeps it anyway changes the CRC.
DEFLATE_CLAIM = b"glDF"


@functools.cache
def libdeflate_id() -> str:
    """How glyph names its PNG encoder's deflate: the `deflate` package pins the libdeflate it builds."""
    import deflate

    return f"libdeflate (deflate {deflate.__version__})"


def deflate_claim(encoder: str, level: int, idat_crc: int) -> bytes:
    """The claim chunk: `encoder` (e.g. "libdeflate 1.x (deflate 0.9.0)"), NUL, level, IDAT CRC."""
    return chunk(DEFLATE_CLAIM, encoder.encode("ascii") + b"\0" + struct.pack(">BI", level, idat_crc))


def read_deflate_claim(data: bytes) -> tuple[str, int, int] | None:
    """(encoder, level, IDAT chunk CRC) from a claim chunk's data, or None when it is not one."""
    name, sep, rest = data.partition(b"\0")
    if not sep or len(rest) != 5 or not name.isascii():
        return None
    level, crc = struct.unpack(">BI", rest)
    return name.decode("ascii"), level, crc
