"""Hostile inputs and outputs: nothing lost, nothing hangs, memory bounded by limits, not by input.

Each case checks one fault class of issue 13. In-process where the library is the point (fast);
through the real entry point where the exit code, signals or file descriptors are the point.
Memory checks run in a child with RLIMIT_AS, so a regression fails instead of eating the machine.
"""

from __future__ import annotations

import gzip
import os
import resource
import signal
import subprocess
import sys
import time

import orjson
import pytest
import zstandard

from conftest import REPO, glyph_env, run_glyph
from glyph_cli.errors import GlyphError, InputError, UsageError
from glyph_cli.streams import io as stream_io
from glyph_cli.streams.documents import Document, read_documents
from glyph_cli.streams.outdir import PageDir, doc_dirname
from glyph_cli.streams.pages import iter_records
from page_streams import page_stream


def docs(path, **kw):
    return list(read_documents([str(path)], **kw))


def jsonl(n):
    return b"".join(orjson.dumps({"id": f"d{i}", "text": f"text {i}"}) + b"\n" for i in range(n))


# -- 2. compressed inputs ---------------------------------------------------------------------------

@pytest.mark.parametrize("ext,compress", [(".zst", lambda b: zstandard.ZstdCompressor().compress(b)),
                                          (".gz", gzip.compress)])
def test_truncated_compressed_input_is_an_error_naming_the_file(tmp_path, ext, compress):
    data = compress(jsonl(2000))
    path = tmp_path / f"in.jsonl{ext}"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError) as info:
        docs(path)
    assert str(path) in str(info.value) and "truncated" in str(info.value) and "-t" in str(info.value)


def test_damaged_gzip_names_the_file(tmp_path):
    data = bytearray(gzip.compress(jsonl(500)))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as info:
        docs(path)
    assert str(path) in str(info.value)


def test_decompression_bound(tmp_path, monkeypatch):
    path = tmp_path / "bomb.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"\n" * (4 << 20)))
    monkeypatch.setattr(stream_io.LIMITS, "max_decompressed_bytes", 1 << 20)
    with pytest.raises(InputError, match="decompression bomb"):
        docs(path)


def test_overlong_line_is_one_skippable_error(tmp_path, monkeypatch):
    monkeypatch.setattr(stream_io.LIMITS, "max_line_bytes", 1000)
    path = tmp_path / "long.jsonl"
    path.write_bytes(jsonl(1) + b'{"id": "x", "text": "' + b"y" * 5000 + b'"}\n' + b'{"id": "z", "text": "t"}\n')
    items = docs(path)
    assert isinstance(items[1], InputError) and "long.jsonl:2" in str(items[1])
    assert isinstance(items[0], Document) and isinstance(items[2], Document)  # nothing after it is lost


def test_bom_binary_and_encoding(tmp_path):
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + jsonl(1))
    assert docs(tmp_path / "bom.jsonl")[0].id == "d0"
    (tmp_path / "paper.pdf").write_bytes(b"%PDF-1.7\n\x00\x01binary")
    err = docs(tmp_path / "paper.pdf")[0]
    assert isinstance(err, InputError) and "PDF" in str(err) and "re-encode" not in str(err)
    (tmp_path / "l1.txt").write_bytes(b"caf\xe9")
    assert isinstance(docs(tmp_path / "l1.txt")[0], InputError)
    assert docs(tmp_path / "l1.txt", encoding="latin-1")[0].text == "café"
    assert docs(tmp_path / "l1.txt", errors="replace")[0].text == "caf\ufffd"


def test_text_ids_are_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "app.log").write_text(d)
    ids = [d.id for d in read_documents(["a/app.log", "./b/app.log"])]
    assert ids == ["a/app.log", "b/app.log"]


def _limited(code: str, limit_mb: int = 1500) -> subprocess.CompletedProcess:
    prelude = (f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({limit_mb << 20}, {limit_mb << 20}))\n"
               "import sys; sys.argv = ['glyph'] + sys.argv[1:]\n")
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, timeout=120,
                          env=glyph_env(), cwd=REPO)


def test_dev_zero_and_a_bomb_stay_in_bounded_memory(tmp_path):
    bomb = tmp_path / "bomb.jsonl.zst"
    cobj = zstandard.ZstdCompressor(level=1).compressobj()
    with open(bomb, "wb") as fh:  # one 1 GiB line in about 32 KiB
        fh.write(cobj.compress(b'{"text": "'))
        chunk = b"a" * (8 << 20)
        for _ in range(128):
            fh.write(cobj.compress(chunk))
        fh.write(cobj.flush())
    code = ("from glyph_cli.streams import io; io.LIMITS.max_line_bytes = 64 << 20; io.LIMITS.max_text_bytes = 64 << 20\n"
            "from glyph_cli.streams.documents import read_documents\n"
            "from glyph_cli.errors import InputError\n"
            f"for path, fmt in (('/dev/zero', 'text'), ('/dev/zero', 'jsonl'), ({str(bomb)!r}, 'jsonl')):\n"
            "    try:\n"
            "        items = list(read_documents([path], fmt=fmt))\n"
            "    except InputError as exc:\n"
            "        items = [exc]\n"
            "    assert isinstance(items[0], InputError), items\n"
            "    print('held', path, fmt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, 'MiB')\n"
            "import resource\n")
    code = "import resource\n" + code
    proc = _limited(code, 1000)  # well under the 1 GiB line
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert proc.stdout.count(b"held") == 3


# -- 3. the page stream end record -------------------------------------------------------------------

def test_a_stream_cut_at_a_document_boundary_is_truncated(tmp_path):
    whole = page_stream([("a", "Alpha.", 1), ("b", "Bravo.", 1)])
    lines = whole.splitlines(keepends=True)
    path = tmp_path / "cut.jsonl"
    path.write_bytes(b"".join(lines[:2]))  # document a whole, b and the end record lost
    with pytest.raises(InputError, match="truncated"):
        list(iter_records([str(path)]))
    path.write_bytes(whole + whole)  # two streams concatenated: fine
    assert sum(r["type"] == "doc" for r, _, _ in iter_records([str(path)])) == 4
    path.write_bytes(b"".join(lines[:2]) + lines[-1])  # an end record that lies about the counts
    with pytest.raises(InputError, match="end record says"):
        list(iter_records([str(path)]))
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        list(iter_records([str(path)]))


def test_pack_refuses_a_truncated_stream(tmp_path):
    from bundle_kit import doc_records, page_png, stream_bytes

    whole = stream_bytes([doc_records("a", "Alpha.", [page_png(1)]), doc_records("b", "Bravo.", [page_png(2)])])
    lines = whole.splitlines(keepends=True)
    proc = run_glyph("pack", "-o", str(tmp_path / "x.glyph"), input=b"".join(lines[:2]))
    assert proc.returncode == 1 and b"truncated" in proc.stderr and not (tmp_path / "x.glyph").exists()
    assert b"Traceback" not in proc.stderr
    empty = tmp_path / "empty.glyph"
    empty.write_bytes(b"")
    proc = run_glyph("pack", str(empty), "-o", str(tmp_path / "y.glyph"))
    assert proc.returncode == 1 and not (tmp_path / "y.glyph").exists()  # a zero-byte file is not a bundle


# -- 1. output folders ------------------------------------------------------------------------------

def test_folder_names_never_collide():
    ids = ["a/b", "a_b", "a:b", "index.jsonl", "INDEX.JSONL", "..", ".", "x" * 200, "x" * 201, "app.log"]
    names = [doc_dirname(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert "index.jsonl" not in names and all("/" not in n and not n.startswith(".") for n in names)


def test_folder_names_are_unique_on_case_insensitive_file_systems():
    import unicodedata

    from glyph_cli.streams.outdir import name_key

    nfc = unicodedata.normalize("NFC", "Café")
    ids = ["Report", "report", "REPORT", nfc, unicodedata.normalize("NFD", nfc), "café", "CON", "con.txt",
           "a.", "a", "Index.jsonl", "ß", "ss", "straße", "strasse"]
    names = [doc_dirname(i) for i in ids]
    assert len({name_key(n) for n in names}) == len(ids), names  # what macOS and Windows compare by
    assert all(n.isascii() for n in names)
    assert doc_dirname("report") == "report" and doc_dirname("a-1_b.c") == "a-1_b.c"  # plain names stay
    assert doc_dirname("Report") == doc_dirname("Report") == "Report-" + __import__("hashlib").sha1(b"Report").hexdigest()[:12]


def test_out_dir_refuses_ids_made_to_collide_under_casefold(tmp_path):
    crafted = doc_dirname("Report").lower()  # a plain lowercase id equal to Report's name, casefolded
    with pytest.raises(GlyphError, match="case-insensitive"):
        with PageDir(tmp_path / "out") as pd:
            pd.begin({"type": "doc", "id": "Report"})
            pd.begin({"type": "doc", "id": crafted})
    assert list(tmp_path.iterdir()) == []


def test_text_files_and_png_export_refuse_ids_made_to_collide_under_casefold(tmp_path):
    from types import SimpleNamespace

    from glyph_cli.bundle.unpack import _TextFilesSink
    from glyph_cli.errors import BundleError
    from glyph_cli.export.formats import PngFolderShard

    crafted = doc_dirname("Report").lower()
    sink = _TextFilesSink(tmp_path / "texts")
    sink.begin(SimpleNamespace(doc_id="Report", text=b"one"))
    with pytest.raises(BundleError, match="case-insensitive"):
        sink.begin(SimpleNamespace(doc_id=crafted, text=b"two"))
    assert [p.read_bytes() for p in (tmp_path / "texts").iterdir()] == [b"one"]
    shard = PngFolderShard(tmp_path / "png")
    shard.add({"doc": "Report", "index": 0, "image": b"A"})
    shard.add({"doc": "Report", "index": 1, "image": b"B"})  # the same document's next page
    with pytest.raises(GlyphError, match="case-insensitive"):
        shard.add({"doc": crafted, "index": 0, "image": b"C"})
    shard.close()
    assert sorted(p.read_bytes() for p in (tmp_path / "png").rglob("*.png")) == [b"A", b"B"]


def test_render_and_unpack_out_keep_ids_apart_that_differ_in_case(tmp_path):
    from glyph_cli.streams.outdir import name_key

    src = tmp_path / "docs.jsonl"
    src.write_bytes(b"".join(orjson.dumps({"id": i, "text": f"Text of {i}."}) + b"\n" for i in ("Report", "report")))
    stream = run_glyph("render", str(src), check=True).stdout
    bundle = tmp_path / "b.glyph"
    run_glyph("pack", "-o", str(bundle), input=stream, check=True)
    for args in (["render", str(src)], ["unpack", str(bundle)]):
        out = tmp_path / f"{args[0]}-out"
        run_glyph(*args, "--out-dir", str(out), check=True)
        folders = sorted(p.name for p in out.iterdir() if p.is_dir())
        assert len({name_key(f) for f in folders}) == 2, folders
        index = [orjson.loads(line) for line in (out / "index.jsonl").read_bytes().splitlines()]
        assert {r["file"].split("/")[0] for r in index if r["type"] == "page"} == set(folders)


def _page(doc, i=0):
    return {"type": "page", "doc": doc, "index": i, "image": "x"}


def test_out_dir_is_whole_or_untouched(tmp_path):
    out = tmp_path / "out"
    with PageDir(out) as pd:
        pd.write(pd.begin({"type": "doc", "id": "a"}))
        pd.write(pd.page(_page("a"), b"PNG-A"))
    assert (out / "a" / "page-00000.png").read_bytes() == b"PNG-A"
    with pytest.raises(KeyboardInterrupt):  # an interrupted rerun leaves the first run as it was
        with PageDir(out) as pd:
            pd.write(pd.begin({"type": "doc", "id": "b"}))
            pd.write(pd.page(_page("b"), b"PNG-B"))
            raise KeyboardInterrupt
    assert sorted(p.name for p in out.iterdir()) == ["a", "index.jsonl"]
    with PageDir(out) as pd:  # a finished rerun leaves no stale pages of the previous one
        pd.write(pd.begin({"type": "doc", "id": "b"}))
        pd.write(pd.page(_page("b"), b"PNG-B"))
    assert sorted(p.name for p in out.iterdir()) == ["b", "index.jsonl"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left
    with pytest.raises(GlyphError, match="two documents"):
        with PageDir(out) as pd:
            pd.begin({"type": "doc", "id": "c"})
            pd.begin({"type": "doc", "id": "c"})
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(UsageError, match="not a previous glyph"):
        PageDir(tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_failed_final_rename_removes_its_temp_file(tmp_path):
    (tmp_path / "target").mkdir()
    with pytest.raises(GlyphError):
        stream_io.write_bytes_atomic(tmp_path / "target", b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["target"]


# -- 3. interruption and 8. closed descriptors (the real entry point) ---------------------------------

def test_sigterm_is_an_interrupt_and_leaves_no_part_files(tmp_path):
    text = tmp_path / "big.txt"
    text.write_text("A line of text that goes on for a while to fill pages.\n" * 400000)  # > 10 s of work
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "glyph_cli", "render", str(text), "-d", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=glyph_env())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(p.name.endswith(".part") for p in tmp_path.iterdir()):
        time.sleep(0.05)  # wait until it is writing
    time.sleep(1.0)  # and past start-up
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"Interrupted" in err
    assert [p.name for p in tmp_path.iterdir()] == ["big.txt"]


def test_closed_stdin_and_stdout_are_one_line(tmp_path):
    script = ("import os, sys, runpy\nos.close(int(sys.argv[1]))\nsys.argv = ['glyph', 'render'] + sys.argv[2:]\n"
              "runpy.run_module('glyph_cli', run_name='__main__')")
    path = tmp_path / "a.jsonl"
    path.write_bytes(jsonl(1))
    for fd, args in ((0, []), (1, [str(path)])):
        proc = subprocess.run([sys.executable, "-c", script, str(fd), *args], capture_output=fd == 0,
                              stderr=subprocess.PIPE if fd == 1 else None, env=glyph_env(), timeout=120)
        err = proc.stderr.decode()
        assert proc.returncode == 2 and ("stdin is closed" in err or "stdout is closed" in err), err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_an_interrupt_as_the_out_folder_appears_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C (or SIGTERM, raised as KeyboardInterrupt) landing the moment the staging folder is made,
    or after PageDir is made but before its caller holds it: no `.part` folder stays (a signal test
    once caught one left by `unpack --out-dir`, its folder made by mkdtemp outside any cleanup)."""
    import gc

    from glyph_cli.streams import outdir

    real_mkdir = os.mkdir

    def mkdir_then_interrupt(path, *args, **kwargs):
        real_mkdir(path, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(outdir.os, "mkdir", mkdir_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        PageDir(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(outdir.os, "mkdir", real_mkdir)

    def made_then_lost():
        PageDir(tmp_path / "out")  # made, then dropped without close (an interrupt before the caller's try)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        made_then_lost()
    gc.collect()
    assert list(tmp_path.iterdir()) == []
