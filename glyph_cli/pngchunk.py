"""One PNG chunk writer (length, type, data, CRC-32 of type and data), for the renderer's PNG encoder
(typeset/png.py) and the bundle's page rebuilder (bundle/pagecodec.py). The bottom layer: it imports
nothing of glyph's."""

from __future__ import annotations

import struct
import zlib


def chunk_parts(kind: bytes, data: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """One PNG chunk of type `kind` (four ASCII letters) holding `data`, as its four parts (length,
    type, data, CRC-32 of type and data), for a caller that joins many chunks in one buffer."""
    return struct.pack(">I", len(data)), kind, data, struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def chunk(kind: bytes, data: bytes) -> bytes:
    """The bytes of one PNG chunk of type `kind` holding `data`."""
    return b"".join(chunk_parts(kind, data))
