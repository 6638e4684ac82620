"""glyph's own PNG deflate (glyph_cli/_fastdeflate.c, built at install where a C compiler is found).

Its output is a pure function of the input bytes, the same on every machine, and FAST_DEFLATE names
that output: a PNG it made is rebuilt byte for byte from its pixels by any glyph whose encoder has
the same name, whatever libdeflate is installed (libdeflate's bytes may change with its version).
Measured against libdeflate level 1 in glyph_cli/typeset/png.py's notes. A bottom layer: it imports
nothing of glyph's but the C module.
"""

from __future__ import annotations

import functools

FAST_DEFLATE = "glyph-deflate-1"


@functools.cache
def fast_deflate():
    """The built encoder module (its FORMAT_ID checked), or None where it was not built."""
    try:
        from glyph_cli import _fastdeflate
    except ImportError:
        return None
    return _fastdeflate if _fastdeflate.FORMAT_ID == FAST_DEFLATE else None


def fast_zlib_compress(data) -> bytes:
    """A zlib stream of `data` (any contiguous bytes-like object): header 78 01, glyph's deflate,
    adler32."""
    import deflate

    module = fast_deflate()
    if module is None:
        raise RuntimeError(f"{FAST_DEFLATE} is not built in this install (reinstall glyph where a C compiler is found)")
    return b"\x78\x01" + module.compress(data) + deflate.adler32(data).to_bytes(4, "big")
