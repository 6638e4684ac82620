"""Helpers for the bundle tests: page streams made by hand (glyph's own PNG encoder, no Pango),
real `glyph render` output, hand-built hostile bundles, and damage."""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import numpy as np
import orjson
import pytest
import zstandard

from conftest import REPO, popen_glyph, run_glyph
from glyph_cli.bundle import tarball
from glyph_cli.records import doc_record, page_record
from glyph_cli.typeset.png import encode_png

PITCH = 10  # synthetic pages draw a text line every 10 rows, as the glyph preset does at 72 dpi


def page_pixels(seed: int, width: int = 160, height: int = 120, levels: int = 256) -> np.ndarray:
    """Text-like pixels: background 0, short runs of ink on lines PITCH rows apart."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width), dtype=np.uint8)
    for top in range(2, height - PITCH, PITCH):
        x = 3
        while x < width - 8:
            w = int(rng.integers(2, 7))
            img[top:top + 7, x:x + w] = rng.integers(1, levels, size=(7, w))
            x += w + int(rng.integers(1, 4))
    return img


def page_png(seed: int, palette: bool = False, encoder: str = "glyph", **kwargs) -> bytes:
    """A page's PNG as glyph's encoder writes it; `encoder`: the config's png_deflate."""
    pixels = page_pixels(seed, **kwargs)
    if palette:
        colours = [(255, 255, 255)] + [(i, 0, 0) for i in range(1, 256)]
        return encode_png(pixels, 8, colours, 1, encoder)
    return encode_png(255 - pixels, 8, None, 1, encoder)


def doc_records(doc_id: str, text: str, pages: list[bytes], meta: dict | None = None) -> list[dict]:
    """A document as `glyph render` writes it (the fields FORMATS.md lists)."""
    config = {"dpi": 72.0, "line_height": float(PITCH), "page_size": [595.0, 842.0]}
    tokens = [{"glm4v": 20 + i, "qwen3vl": 16 + i} for i in range(len(pages))]
    doc = doc_record(
        doc_id, text, meta=meta or {}, text_tokens=max(1, len(text) // 4), tokenizer="test", pages=len(pages),
        visual_tokens={"glm4v": sum(t["glm4v"] for t in tokens), "qwen3vl": sum(t["qwen3vl"] for t in tokens)},
        config=config, fonts=[{"family": "Test Sans", "file": "/fonts/test.ttf", "sha256": "0" * 64}],
        missing_glyphs={"count": 0, "chars": ""}, tool={"glyph": "test"})
    records = [doc]
    step = max(1, len(text) // max(1, len(pages)))
    for i, png in enumerate(pages):
        width, height = struct.unpack(">II", png[16:24])
        end = len(text) if i == len(pages) - 1 else min(len(text), (i + 1) * step)
        records.append(page_record(doc_id, i, (min(i * step, end), end), png, width=width, height=height, dpi=72.0,
                                   visual_tokens=tokens[i]))
    return records


def stream_bytes(docs: list[list[dict]]) -> bytes:
    records = [rec for doc in docs for rec in doc]
    end = {"type": "end", "v": 1, "docs": len(docs), "pages": sum(r["type"] == "page" for r in records)}
    return b"".join(orjson.dumps(rec) + b"\n" for rec in records + [end])


def synthetic_stream(n_docs: int = 4, pages_per_doc: int = 2, seed: int = 0, prefix: str = "doc") -> bytes:
    docs = []
    for d in range(n_docs):
        pages = [page_png(seed * 1000 + d * 10 + p, palette=(d % 2 == 1)) for p in range(pages_per_doc)]
        text = f"Document {d} of seed {seed}.\nIt has some text, ünïcode ✓ and a tab\t.\n" * (d + 1)
        docs.append(doc_records(f"{prefix}-{seed}-{d}", text, pages, {"n": d}))
    return stream_bytes(docs)


def concat_streams(*streams: bytes) -> bytes:
    """Page streams as one: their records in order, one end record for all (what unpack of a merge writes)."""
    records = [r for s in streams for r in records_of(s) if r["type"] != "end"]
    end = {"type": "end", "v": 1, "docs": sum(r["type"] == "doc" for r in records),
           "pages": sum(r["type"] == "page" for r in records)}
    return b"".join(orjson.dumps(r) + b"\n" for r in records + [end])


def records_of(data: bytes) -> list[dict]:
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]


def pack_bytes(stream: bytes, *args: str) -> bytes:
    proc = run_glyph("pack", *args, input=stream, check=True)
    return proc.stdout


# -- real render output (one small corpus, rendered once per session) ------------------------------

PROSE = [
    {"id": "alpha", "text": "The quick brown fox jumps over the lazy dog. " * 60 + "\nSecond paragraph.\n" * 5,
     "source": "unit"},
    {"id": "beta", "text": "Short one, with a tab\tand ünïcödé — and a newline\nat the end\n"},
    {"id": "gamma", "text": ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 40 + "\n") * 6},
    {"id": "empty", "text": ""},
]


@pytest.fixture(scope="session")
def prose_docs(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("prose") / "docs.jsonl"
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in PROSE))
    return path


@pytest.fixture(scope="session")
def rendered(prose_docs) -> bytes:
    """`glyph render` output for PROSE at the glyph preset (72 dpi, palette pages with markers)."""
    return run_glyph("render", str(prose_docs), check=True).stdout


# -- hand-built bundles ---------------------------------------------------------------------------


def raw_header(name: bytes, size: int, kind: bytes = b"0", magic: bytes = b"ustar\x0000") -> bytes:
    """A ustar header with anything in it (what the product writer refuses to write)."""
    block = bytearray(512)
    block[0:len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = f"{size:011o}".encode() + b"\0"
    block[136:148] = b"00000000000\0"
    block[148:156] = b" " * 8
    block[156:157] = kind
    block[257:265] = magic
    block[148:156] = f"{sum(block):06o}".encode() + b"\0 "
    return bytes(block)


def header_member() -> bytes:
    data = orjson.dumps({"format": "glyph-bundle", "version": 1})
    return tarball.header("glyph-bundle.json", len(data)) + data + tarball.padding(len(data))


def zstd_bundle(tar: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=True).compress(tar)


def members_of(bundle: bytes) -> list[tuple[str, bytes]]:
    """(name, data) of every member, read with a plain zstd + tar reader (the standard view)."""
    import tarfile

    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(bundle), read_across_frames=True).read()
    out = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        for info in tf:
            out.append((info.name, tf.extractfile(info).read()))
    return out


def flip_bit(data: bytes, at: int, bit: int = 0) -> bytes:
    damaged = bytearray(data)
    damaged[at] ^= 1 << bit
    return bytes(damaged)


def glyph_popen(*args: str, **kwargs) -> subprocess.Popen:
    return popen_glyph(*args, cwd=REPO, **kwargs)

