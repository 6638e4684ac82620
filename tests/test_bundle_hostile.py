"""Untrusted bundles, built by hand: escaping paths, links, devices, extension headers, bombs,
absurd images and huge manifests are refused with a clear error before memory or disk is spent."""

from __future__ import annotations

import base64
import hashlib
import resource
import struct
import subprocess
import sys
import zlib

import orjson
import pytest
import zstandard

from bundle_kit import (REPO, doc_records, header_member, members_of, page_png, pack_bytes, raw_header, stream_bytes,
                        zstd_bundle)
from conftest import glyph_env, run_glyph
from glyph_cli.bundle import tarball
from glyph_cli.bundle.format import record_digest
from glyph_cli.bundle.frames import Footer
from glyph_cli.bundle.records import store_doc
from glyph_cli.fastdeflate import FAST_DEFLATE


def _write(tmp_path, data: bytes):
    path = tmp_path / "hostile.glyph"
    path.write_bytes(data)
    return path


def _run_all(path):
    """unpack (to stdout and to a directory), verify and ls on the same file."""
    return {cmd: run_glyph(*cmd.split(), str(path)) for cmd in ("unpack", "verify", "ls")}


@pytest.mark.parametrize("name, kind, message", [
    (b"../../escaped.txt", b"0", b"unexpected member"),
    (b"/tmp/absolute.txt", b"0", b"unexpected member"),
    (b"d000000/doc.json", b"2", b"symbolic link"),
    (b"d000000/doc.json", b"1", b"hard link"),
    (b"d000000/doc.json", b"3", b"character device"),
    (b"d000000/doc.json", b"6", b"FIFO"),
    (b"PaxHeaders/x", b"x", b"pax extended header"),
    (b"././@LongLink", b"L", b"GNU long name"),
])
def test_members_that_could_escape_the_target_are_refused(tmp_path, name, kind, message):
    body = b"x" * 20
    tar = header_member() + raw_header(name, len(body), kind) + body + tarball.padding(len(body)) + b"\0" * 1024
    path = _write(tmp_path, zstd_bundle(tar))
    out = tmp_path / "out"
    runs = [run_glyph("unpack", str(path), "-d", str(out))]
    if kind == b"0":  # the path escapes: every command that reads members
        runs += [run_glyph("unpack", str(path)), run_glyph("unpack", str(path), "--salvage"),
                 run_glyph("verify", str(path))]
    for proc in runs:
        assert proc.returncode == 1, proc.stderr
        assert message in proc.stderr
    assert not (tmp_path.parent / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert not any(p.is_file() and p.name != "index.jsonl" for p in out.rglob("*")) if out.exists() else True


def test_a_member_declaring_a_huge_size_is_refused_before_reading(tmp_path):
    tar = header_member() + tarball.header("d000000/doc.json", 5 << 30)  # 5 GiB declared, nothing behind it
    path = _write(tmp_path, zstd_bundle(tar))
    proc = run_glyph("unpack", str(path))
    assert proc.returncode == 1 and b"declares 5368709120 bytes" in proc.stderr and b"limit" in proc.stderr


def _bomb_bundle(text_bytes: int) -> bytes:
    """A valid-looking document whose text is `text_bytes` zeros: a tiny file that expands enormously."""
    record, _ = store_doc({"type": "doc", "v": 1, "id": "bomb", "text": "", "pages": 0})
    record["text"]["bytes"] = text_bytes
    bare = {k: v for k, v in record["text"].items() if k != "meta"}
    record["text"]["meta"] = record_digest(record, "text", bare)
    doc = orjson.dumps(record)
    cobj = zstandard.ZstdCompressor(level=19).compressobj()
    out = [cobj.compress(header_member() + tarball.header("d000000/doc.json", len(doc)) + doc
                         + tarball.padding(len(doc)) + tarball.header("d000000/doc.txt", text_bytes))]
    zeros = b"\0" * (1 << 20)
    for _ in range(text_bytes >> 20):
        out.append(cobj.compress(zeros))
    out.append(cobj.flush())
    return b"".join(out)


def test_a_decompression_bomb_is_refused_before_memory_blows_up(tmp_path):
    path = _write(tmp_path, _bomb_bundle(900 << 20))
    assert path.stat().st_size < 200_000  # 900 MB of zeros in under 200 KB
    limit = 700 << 20  # less than the text it claims

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "glyph_cli", "unpack", str(path)], capture_output=True, cwd=REPO,
                          env=glyph_env(OPENBLAS_NUM_THREADS="1"), preexec_fn=cap, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert b"decompression bomb" in proc.stderr and b"MemoryError" not in proc.stderr


def _page_bundle(tmp_path, mutate) -> bytes:
    """A real one-page bundle whose page record `mutate` rewrites (its digest kept valid)."""
    bundle = pack_bytes(stream_bytes([doc_records("victim", "text\n", [page_png(1)])]))
    members = members_of(bundle)
    tar = b""
    for name, data in members:
        if name == "d000000/p00000.json":
            record = orjson.loads(data)
            data = mutate(record)
        if name == "glyph-index.jsonl":
            continue
        tar += tarball.header(name, len(data)) + data + tarball.padding(len(data))
    return zstd_bundle(tar + b"\0" * 1024)


def _redigest(record: dict) -> bytes:
    bare = {k: v for k, v in record["image"].items() if k != "meta"}
    record["image"]["meta"] = record_digest(record, "image", bare)
    return orjson.dumps(record)


def _ihdr(width: int, height: int, colour: int = 0) -> bytes:
    body = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + body + struct.pack(">I", zlib.crc32(b"IHDR" + body))


def test_a_page_with_absurd_dimensions_is_refused_before_decoding(tmp_path):
    def huge(record):
        record["image"]["head"] = base64.b64encode(_ihdr(60_000, 60_000)).decode()
        return _redigest(record)

    path = _write(tmp_path, _page_bundle(tmp_path, huge))
    for proc in _run_all(path).values():
        if proc.args[3] == "ls":
            continue  # no index: ls scans headers and records only, which are fine
        assert proc.returncode == 1 and b"20000 px a side" in proc.stderr, proc.stderr


def test_a_png_page_with_absurd_dimensions_is_refused(tmp_path):
    png = _ihdr(40_000, 30_000, 0) + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    record = {"type": "page", "v": 1, "doc": "victim", "index": 0, "image": {"store": "png", "sha256": "0" * 64,
                                                                           "bytes": len(png)}}
    record["image"]["meta"] = record_digest(record, "image", dict(record["image"]))
    page_json = orjson.dumps(record)
    doc, text = store_doc({"type": "doc", "v": 1, "id": "victim", "text": "t", "pages": 1})
    doc_json = orjson.dumps(doc)
    tar = header_member()
    for name, data in (("d000000/doc.json", doc_json), ("d000000/doc.txt", text), ("d000000/p00000.json", page_json),
                       ("d000000/p00000.png", png)):
        tar += tarball.header(name, len(data)) + data + tarball.padding(len(data))
    path = _write(tmp_path, zstd_bundle(tar + b"\0" * 1024))
    proc = run_glyph("unpack", str(path), "-d", str(tmp_path / "out"))
    assert proc.returncode == 1 and b"20000 px a side" in proc.stderr
    assert not list((tmp_path / "out").rglob("*.png"))


def test_a_huge_manifest_is_refused(tmp_path):
    """An index declaring 5 GiB: ls (via the footer) and unpack (streaming) both refuse it."""
    head = zstd_bundle(header_member())
    index_frame = zstd_bundle(tarball.header("glyph-index.jsonl", 5 << 30) + b'{"type":"bundle"}\n')
    footer = Footer(len(head), len(index_frame), 5 << 30).encode()
    path = _write(tmp_path, head + index_frame + footer)
    for cmd in ("ls", "unpack", "verify"):
        proc = run_glyph(cmd, str(path))
        assert proc.returncode == 1 and b"index declares 5368709120 bytes" in proc.stderr, (cmd, proc.stderr)


def test_an_endless_index_line_is_refused(tmp_path):
    line = b'{"type":"doc","id":"' + b"a" * (17 << 20) + b'"}\n'
    head = zstd_bundle(header_member())
    index_frame = zstd_bundle(tarball.header("glyph-index.jsonl", len(line)) + line + tarball.padding(len(line))
                              + b"\0" * 1024)
    path = _write(tmp_path, head + index_frame + Footer(len(head), len(index_frame), len(line)).encode())
    proc = run_glyph("ls", str(path))
    assert proc.returncode == 1 and b"index line is over" in proc.stderr


def test_not_a_bundle_at_all(tmp_path):
    for data, message in ((b"just some text\n", b"not the start of a zstd frame"),
                          (zstandard.ZstdCompressor().compress(b"{}\n" * 400), b"not a glyph bundle")):
        proc = run_glyph("unpack", str(_write(tmp_path, data)))
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr


def test_a_page_deflate_cannot_reproduce_is_reported_and_salvaged_with_the_same_pixels(tmp_path):
    """Stands in for a deflate library that gives other bytes: the descriptor (digest kept valid)
    names another encoder (libdeflate level 2) than the one that made the PNG (glyph's own)."""
    import io

    import numpy as np
    from PIL import Image

    png = page_png(1)  # the page _page_bundle packs
    stream = stream_bytes([doc_records("victim", "text\n", [png])])

    def other_level(record):
        assert record["image"]["deflate"] == FAST_DEFLATE
        record["image"]["deflate"], record["image"]["level"] = "libdeflate", 2
        return _redigest(record)

    path = _write(tmp_path, _page_bundle(tmp_path, other_level))
    strict = run_glyph("unpack", str(path))
    assert strict.returncode == 1 and b"pixels intact" in strict.stderr
    salvage = run_glyph("unpack", str(path), "--salvage")
    assert salvage.returncode == 1 and b"same pixels" in salvage.stderr
    page = [r for r in map(orjson.loads, salvage.stdout.splitlines()) if r["type"] == "page"][0]
    rebuilt = base64.b64decode(page["image"][22:])
    assert rebuilt != png and page["sha256"] == hashlib.sha256(rebuilt).hexdigest()
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(rebuilt))), np.asarray(Image.open(io.BytesIO(png))))
    assert orjson.loads(stream.splitlines()[1])["sha256"] != page["sha256"]
