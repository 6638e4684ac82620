"""Font files: registering a user's font file, finding the file fontconfig picks, hashing it.

Pango finds fonts through fontconfig. We talk to fontconfig directly (ctypes) for the two things
Pango does not expose: adding an application font file, and naming the file behind a family, so
that every output can record the exact font files (with sha256) it was drawn with.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
from pathlib import Path

from glyph_cli.errors import ConfigError

_FC_RESULT_MATCH = 0


@functools.lru_cache(maxsize=1)
def _fc() -> ctypes.CDLL:
    name = ctypes.util.find_library("fontconfig") or "libfontconfig.so.1"
    lib = ctypes.CDLL(name)
    lib.FcConfigGetCurrent.restype = ctypes.c_void_p
    lib.FcConfigAppFontAddFile.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.FcConfigAppFontAddFile.restype = ctypes.c_int
    lib.FcNameParse.argtypes = [ctypes.c_char_p]
    lib.FcNameParse.restype = ctypes.c_void_p
    lib.FcConfigSubstitute.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.FcDefaultSubstitute.argtypes = [ctypes.c_void_p]
    lib.FcFontMatch.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    lib.FcFontMatch.restype = ctypes.c_void_p
    lib.FcPatternGetString.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_char_p)]
    lib.FcPatternGetString.restype = ctypes.c_int
    lib.FcPatternDestroy.argtypes = [ctypes.c_void_p]
    return lib


def add_font_file(path: str) -> str:
    """Make a font file available to Pango; returns its family name."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"font file {path} not found")
    from PIL import ImageFont

    try:
        family = ImageFont.truetype(str(p), 10).getname()[0]
    except OSError as exc:
        raise ConfigError(f"{path} is not a font file FreeType can read ({exc})") from None
    lib = _fc()
    if not lib.FcConfigAppFontAddFile(lib.FcConfigGetCurrent(), str(p.resolve()).encode()):
        raise ConfigError(f"fontconfig refused the font file {path}")
    return family


@functools.lru_cache(maxsize=256)
def font_file(family: str) -> str | None:
    """The file fontconfig resolves `family` (regular style) to, or None if it falls back elsewhere."""
    lib = _fc()
    pattern = lib.FcNameParse(family.replace("-", "\\-").encode())
    if not pattern:
        return None
    lib.FcConfigSubstitute(None, pattern, 0)
    lib.FcDefaultSubstitute(pattern)
    result = ctypes.c_int()
    match = lib.FcFontMatch(None, pattern, ctypes.byref(result))
    lib.FcPatternDestroy(pattern)
    if not match:
        return None
    value = ctypes.c_char_p()
    path = None
    if lib.FcPatternGetString(match, b"file", 0, ctypes.byref(value)) == _FC_RESULT_MATCH:
        path = value.value.decode()
    lib.FcPatternDestroy(match)
    return path


@functools.lru_cache(maxsize=256)
def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
