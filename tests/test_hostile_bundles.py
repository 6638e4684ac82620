"""Hostile bundles that once got past the reader's checks (issue 13, class 6): each is refused or
reported with an error that names what is wrong, never a raw traceback."""

from __future__ import annotations

import orjson
import zstandard
import pytest

from bundle_kit import header_member, raw_header, zstd_bundle
from conftest import run_glyph
from glyph_cli.bundle import tarball
from glyph_cli.bundle.records import store_doc


def _declaring(name: bytes, size_field: bytes) -> bytes:
    """A ustar header whose size field holds `size_field` (12 octal digits fill it, no NUL)."""
    block = bytearray(raw_header(name, 0))
    block[124:136] = size_field
    block[148:156] = b" " * 8
    block[148:156] = f"{sum(block):06o}".encode() + b"\0 "
    return bytes(block)


def _doc_member() -> bytes:
    record, _ = store_doc({"type": "doc", "v": 1, "id": "a", "text": "hello", "pages": 0})
    doc = orjson.dumps(record)
    return tarball.header("d000000/doc.json", len(doc)) + doc + tarball.padding(len(doc))


@pytest.mark.parametrize("member", [b"d000000/doc.json", b"d000000/doc.txt"])
@pytest.mark.parametrize("command", [("verify",), ("unpack", "--salvage"), ("unpack",)])
def test_a_member_declaring_8_gib_is_a_bundle_error(tmp_path, member, command):
    tar = header_member() + (_doc_member() if member.endswith(b".txt") else b"")
    tar += _declaring(member, b"100000000000") + b"x" * 5000  # 8 GiB declared, 5000 bytes behind it
    path = tmp_path / "big.glyph"
    path.write_bytes(zstd_bundle(tar))
    proc = run_glyph(*command, str(path))
    assert proc.returncode == 1, proc.stderr
    assert b"BundleError" in proc.stderr and b"FrameError" not in proc.stderr
    assert b"declares 8589934592 bytes" in proc.stderr and member in proc.stderr


@pytest.mark.parametrize("cut", ["index", "footer"])
def test_ls_without_the_index_lists_by_scanning_and_says_how_to_recover(tmp_path, cut):
    from bundle_kit import pack_bytes, synthetic_stream
    import io

    from glyph_cli.bundle.frames import read_footer

    data = pack_bytes(synthetic_stream(2, 1))
    footer = read_footer(io.BytesIO(data))
    path = tmp_path / "cut.glyph"
    path.write_bytes(data[:footer.index_offset] if cut == "index" else data[:-40])
    proc = run_glyph("ls", str(path))
    lines = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert [line["id"] for line in lines if line["type"] == "doc"] == ["doc-0-0", "doc-0-1"]
    assert lines[-1]["type"] == "end" and lines[-1]["docs"] == 2 and lines[-1]["pages"] == 2
    assert proc.returncode == 1 and b"glyph unpack --salvage" in proc.stderr
    if cut == "index":
        assert b"no index" in proc.stderr


def _with_index(data: bytes, change) -> bytes:
    """The bundle with its index lines passed through `change(lines)` (a lying index, re-framed)."""
    import io

    from glyph_cli.bundle.frames import Footer, read_footer

    footer = read_footer(io.BytesIO(data))
    tar = zstandard.ZstdDecompressor().decompressobj().decompress(data[footer.index_offset:-40])
    size = tarball.parse_header(tar[:512]).size
    lines = [orjson.loads(line) for line in tar[512:512 + size].splitlines()]
    change(lines)
    body = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    frame = zstd_bundle(tarball.header("glyph-index.jsonl", len(body)) + body + tarball.padding(len(body))
                        + b"\0" * 1024)
    return data[:footer.index_offset] + frame + Footer(footer.index_offset, len(frame), len(body)).encode()


def _set(kind, key, value):
    def change(lines):
        next(line for line in lines if line["type"] == kind)[key] = value
    return change


@pytest.mark.parametrize("kind, key, value", [("doc", "chars", 1), ("doc", "text_tokens", 999),
                                              ("doc", "meta", {"n": 7}), ("page", "width", 1),
                                              ("page", "height", 4096)])
def test_verify_catches_an_index_that_lies_about_a_document(tmp_path, kind, key, value):
    from bundle_kit import pack_bytes, synthetic_stream

    data = pack_bytes(synthetic_stream(1, 1))
    honest, lying = tmp_path / "honest.glyph", tmp_path / "lying.glyph"
    honest.write_bytes(_with_index(data, lambda lines: None))
    lying.write_bytes(_with_index(data, _set(kind, key, value)))
    assert run_glyph("verify", str(honest)).returncode == 0
    proc = run_glyph("verify", str(lying))
    assert proc.returncode == 1, proc.stderr
    assert b"glyph-index.jsonl" in proc.stderr and f"{key}={value!r}".encode() in proc.stderr


@pytest.mark.parametrize("member", ["glyph-bundle.json", "glyph-index.jsonl"])
def test_verify_catches_a_duplicate_header_or_index_member(tmp_path, member):
    from bundle_kit import members_of, pack_bytes, synthetic_stream

    data = pack_bytes(synthetic_stream(1, 1))
    members = members_of(data)
    tar = b""
    for name, body in members + [m for m in members if m[0] == member]:
        if name == "glyph-index.jsonl" and member == "glyph-bundle.json":
            tar += header_member()  # the second header, just before the index
        if name == member and member == "glyph-bundle.json" and tar:
            continue
        tar += tarball.header(name, len(body)) + body + tarball.padding(len(body))
    path = tmp_path / "dup.glyph"
    path.write_bytes(zstd_bundle(tar + b"\0" * 1024))
    proc = run_glyph("verify", str(path))
    assert proc.returncode == 1 and f"duplicate member {member}".encode() in proc.stderr, proc.stderr


def test_pack_refuses_a_png_page_its_reader_would_refuse(tmp_path):
    import io

    from PIL import Image

    from bundle_kit import doc_records, stream_bytes

    buf = io.BytesIO()
    Image.new("L", (20001, 2)).save(buf, "PNG")  # one pixel wider than a reader accepts
    stream = stream_bytes([doc_records("wide", "text\n", [buf.getvalue()])])
    proc = run_glyph("pack", "--pages", "png", "-o", str(tmp_path / "w.glyph"), input=stream)
    assert proc.returncode == 1 and b"'wide'" in proc.stderr and b"page 0" in proc.stderr, proc.stderr
    assert b"not packed" in proc.stderr


def test_pack_refuses_a_record_its_reader_would_refuse(tmp_path):
    from bundle_kit import doc_records, page_png, stream_bytes

    stream = stream_bytes([doc_records("big", "text\n", [page_png(1)], {"blob": "x" * (17 << 20)})])
    proc = run_glyph("pack", "-o", str(tmp_path / "b.glyph"), input=stream)
    assert proc.returncode == 1 and b"'big'" in proc.stderr and b"its record" in proc.stderr, proc.stderr
