"""glyph pack / unpack / ls / verify through the real entry point, shell pipes included."""

from __future__ import annotations

import os
import pty
import shlex
import signal
import subprocess
import sys
import time

import orjson
import pytest
from PIL import Image

from bundle_kit import (concat_streams, REPO, doc_records, flip_bit, glyph_popen, members_of, page_png, pack_bytes, prose_docs,
                        records_of, rendered, stream_bytes, synthetic_stream)
from conftest import glyph_env, run_glyph

__all__ = ["prose_docs", "rendered"]  # session fixtures used below

GLYPH = f"{shlex.quote(sys.executable)} -m glyph_cli"


def sh(command: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(command, shell=True, cwd=cwd, env=glyph_env(), capture_output=True, timeout=300)


# -- round trips ------------------------------------------------------------------------------------


def test_render_pack_unpack_is_byte_identical(rendered):
    bundle = pack_bytes(rendered)
    assert bundle[:4] == b"\x28\xb5\x2f\xfd"
    back = run_glyph("unpack", "-", input=bundle, check=True).stdout
    assert back == rendered
    assert len(bundle) < len(rendered) / 3


def test_shell_pipes_and_repacking_are_deterministic(prose_docs, tmp_path):
    steps = [
        f"{GLYPH} render {prose_docs} | {GLYPH} pack -o a.glyph",
        f"{GLYPH} render {prose_docs} > pages.jsonl && {GLYPH} pack < pages.jsonl > b.glyph",
        f"{GLYPH} unpack a.glyph | {GLYPH} pack -T 3 > c.glyph",
        f"{GLYPH} unpack a.glyph | cmp - pages.jsonl",
    ]
    for step in steps:
        proc = sh(step, tmp_path)
        assert proc.returncode == 0, (step, proc.stderr.decode())
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.glyph", "b.glyph", "c.glyph"))
    assert a == b == c  # same input, same bytes, whatever the thread count


def test_unpack_text_gives_back_the_input_documents(prose_docs, rendered, tmp_path):
    bundle = pack_bytes(rendered)
    docs = records_of(run_glyph("unpack", "-", "--text", input=bundle, check=True).stdout)
    expected = records_of(prose_docs.read_bytes())
    assert docs == expected
    run_glyph("unpack", "-", "--text", "-d", str(tmp_path / "texts"), input=bundle, check=True)
    for doc in expected:
        assert (tmp_path / "texts" / f"{doc['id']}.txt").read_bytes() == doc["text"].encode()


def test_unpack_out_writes_what_render_out_writes(prose_docs, rendered, tmp_path):
    run_glyph("render", str(prose_docs), "-d", str(tmp_path / "rendered"), check=True)
    bundle = tmp_path / "docs.glyph"
    bundle.write_bytes(pack_bytes(rendered))
    run_glyph("unpack", str(bundle), "-d", str(tmp_path / "unpacked"), check=True)

    def files(root):
        return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    a, b = files(tmp_path / "rendered"), files(tmp_path / "unpacked")
    assert a.keys() == b.keys() and a == b
    assert any(str(p).endswith(".png") for p in a)


def test_unpack_selects_documents_by_id(rendered):
    bundle = pack_bytes(rendered)
    out = records_of(run_glyph("unpack", "-", "--doc", "gamma", "--doc", "beta", input=bundle, check=True).stdout)
    expected = [r for r in records_of(rendered) if r.get("id", r.get("doc")) in ("beta", "gamma")]
    assert out[:-1] == expected
    assert out[-1] == {"type": "end", "v": 1, "docs": 2, "pages": len(expected) - 2}
    proc = run_glyph("unpack", "-", "--doc", "beta", "--doc", "nope", input=bundle)
    assert proc.returncode == 1 and b"'nope'" in proc.stderr
    assert records_of(proc.stdout)[0]["id"] == "beta"


def test_pages_png_mode_stores_plain_pngs(rendered, tmp_path):
    bundle = pack_bytes(rendered, "--pages", "png")
    assert run_glyph("unpack", "-", input=bundle, check=True).stdout == rendered
    pngs = [data for name, data in members_of(bundle) if name.endswith(".png")]
    assert len(pngs) == sum(1 for r in records_of(rendered) if r["type"] == "page")
    png = tmp_path / "p.png"
    png.write_bytes(pngs[0])
    assert Image.open(png).size[0] > 100


# -- the format seen by standard tools --------------------------------------------------------------


def test_tar_lists_and_extracts_with_webdataset_names(rendered, tmp_path):
    path = tmp_path / "docs.glyph"
    path.write_bytes(pack_bytes(rendered))
    names = subprocess.run(["tar", "--zstd", "-tf", str(path)], capture_output=True, check=True).stdout.decode().split()
    assert names[0] == "glyph-bundle.json" and names[-1] == "glyph-index.jsonl"
    pages = [n for n in names if "/p" in n]
    keys = [n.rsplit(".", 1)[0] for n in pages]
    # WebDataset: the files of one page are adjacent and share a basename (key) up to the first dot
    assert keys[0::2] == keys[1::2] and len(set(keys)) == len(pages) // 2
    assert {n.split(".", 1)[1] for n in pages} == {"json", "bands"}
    (tmp_path / "x").mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(path), "-C", str(tmp_path / "x")], check=True)
    page = orjson.loads((tmp_path / "x" / "d000000" / "p00000.json").read_bytes())
    assert page["doc"] == "alpha" and page["image"]["store"] == "bands"
    doc = orjson.loads((tmp_path / "x" / "d000000" / "doc.json").read_bytes())
    assert (tmp_path / "x" / "d000000" / "doc.txt").read_text() == records_of(rendered)[0]["text"]
    assert doc["text"]["bytes"] == len(records_of(rendered)[0]["text"].encode())


def test_ls_table_on_request_and_jsonl_when_piped(rendered, tmp_path):
    path = tmp_path / "docs.glyph"
    path.write_bytes(pack_bytes(rendered))
    lines = records_of(run_glyph("ls", str(path), check=True).stdout)
    docs = [line for line in lines if line["type"] == "doc"]
    assert [d["id"] for d in docs] == ["alpha", "beta", "gamma", "empty"]
    source = {r["id"]: r for r in records_of(rendered) if r["type"] == "doc"}
    for d in docs:
        assert (d["pages"], d["chars"], d["text_tokens"], d["visual_tokens"]) == (
            source[d["id"]]["pages"], source[d["id"]]["chars"], source[d["id"]]["text_tokens"],
            source[d["id"]]["visual_tokens"])
    end = lines[-1]
    assert end["type"] == "end" and end["bundle_bytes"] == path.stat().st_size
    assert end["pages"] == sum(d["pages"] for d in docs)
    scanned = records_of(run_glyph("ls", "-", input=path.read_bytes(), check=True).stdout)
    assert [(d["id"], d["pages"], d["png_bytes"]) for d in scanned if d["type"] == "doc"] == \
           [(d["id"], d["pages"], d["png_bytes"]) for d in docs]
    table = run_glyph("ls", str(path), "--format", "table", check=True).stdout.decode()
    assert "PAGES" in table and "TOTAL (4 documents)" in table and "gamma" in table and "bundle:" in table


def test_ls_reads_only_the_index(tmp_path):
    """Damage in the body does not reach ls: it reads the last frame via the footer."""
    path = tmp_path / "docs.glyph"
    data = pack_bytes(synthetic_stream(6, 2))
    path.write_bytes(flip_bit(data, len(data) // 3))
    assert len(records_of(run_glyph("ls", str(path), check=True).stdout)) == 7
    assert run_glyph("verify", str(path)).returncode == 1


# -- integrity --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many_docs():
    """40 documents of 2 pages (400x300): with --frame-size 1, about a dozen frames."""
    docs = []
    for d in range(40):
        pages = [page_png(d * 7 + p, width=400, height=300) for p in range(2)]
        docs.append(doc_records(f"d{d}", f"text of document {d}\n" * 50, pages))
    return stream_bytes(docs)


@pytest.fixture(scope="module")
def many_bundle(many_docs):
    return pack_bytes(many_docs, "--frame-size", "1")


def _docs_by_id(data: bytes) -> dict:
    out: dict = {}
    for line in data.splitlines():
        rec = orjson.loads(line)
        if rec.get("type") == "end":
            continue
        out.setdefault(rec.get("id", rec.get("doc")), []).append(line)
    return out


def test_verify_passes_an_intact_bundle(many_bundle, tmp_path):
    path = tmp_path / "ok.glyph"
    path.write_bytes(many_bundle)
    proc = run_glyph("verify", str(path))
    assert proc.returncode == 0 and b"40 document(s), 80 page(s) intact" in proc.stderr
    assert proc.stdout == b""


@pytest.mark.parametrize("where", [0.3, 0.7])
def test_a_flipped_bit_is_reported_and_salvage_recovers_the_rest(many_docs, many_bundle, tmp_path, where):
    data = many_bundle
    path = tmp_path / "bad.glyph"
    path.write_bytes(flip_bit(data, int(len(data) * where), 3))
    verify = run_glyph("verify", str(path))
    assert verify.returncode == 1 and b"document" in verify.stderr and b"damaged" in verify.stderr
    unpack = run_glyph("unpack", str(path))
    assert unpack.returncode == 1 and b"--salvage" in unpack.stderr
    salvage = run_glyph("unpack", str(path), "--salvage")
    assert salvage.returncode == 1
    original, recovered = _docs_by_id(many_docs), _docs_by_id(salvage.stdout)
    assert 30 <= len(recovered) < 40
    for doc_id, lines in recovered.items():
        assert lines == original[doc_id]  # every document written is whole and exact
    for doc_id in original.keys() - recovered.keys():
        assert f"({doc_id!r})".encode() in salvage.stderr  # every lost one is named


def test_a_truncated_bundle_is_incomplete_and_salvage_keeps_the_whole_documents(many_docs, many_bundle, tmp_path):
    data = many_bundle
    path = tmp_path / "cut.glyph"
    path.write_bytes(data[:len(data) // 2])
    verify = run_glyph("verify", str(path))
    assert verify.returncode == 1 and b"incomplete" in verify.stderr
    assert run_glyph("ls", str(path)).returncode == 1
    unpack = run_glyph("unpack", str(path))
    assert unpack.returncode == 1 and b"truncated" in unpack.stderr
    salvage = run_glyph("unpack", str(path), "--salvage")
    assert salvage.returncode == 1
    original, recovered = _docs_by_id(many_docs), _docs_by_id(salvage.stdout)
    assert 10 <= len(recovered) < 40
    assert all(lines == original[doc_id] for doc_id, lines in recovered.items())


def test_unpack_verify_writes_nothing_from_a_damaged_bundle(many_docs, many_bundle, tmp_path):
    data = many_bundle
    path = tmp_path / "bad.glyph"
    path.write_bytes(flip_bit(data, len(data) // 2))
    proc = run_glyph("unpack", str(path), "--verify")
    assert proc.returncode == 1 and proc.stdout == b""
    good = tmp_path / "good.glyph"
    good.write_bytes(data)
    assert run_glyph("unpack", str(good), "--verify", check=True).stdout == many_docs


# -- merging and duplicates -------------------------------------------------------------------------


def test_pack_merges_bundles_and_streams(tmp_path):
    a, b = synthetic_stream(3, 1, seed=1), synthetic_stream(2, 2, seed=2)
    (tmp_path / "a.glyph").write_bytes(pack_bytes(a))
    (tmp_path / "b.jsonl").write_bytes(b)
    run_glyph("pack", str(tmp_path / "a.glyph"), str(tmp_path / "b.jsonl"), "-o", str(tmp_path / "all.glyph"), check=True)
    assert run_glyph("unpack", str(tmp_path / "all.glyph"), check=True).stdout == concat_streams(a, b)
    assert run_glyph("verify", str(tmp_path / "all.glyph")).returncode == 0


def test_duplicate_ids_are_an_error_unless_a_policy_says_otherwise(tmp_path):
    first = synthetic_stream(3, 1, seed=5)
    second = stream_bytes([doc_records("doc-5-1", "a newer copy\n", [page_png(99)]),
                           doc_records("new", "only here\n", [page_png(98)])])
    (tmp_path / "1.glyph").write_bytes(pack_bytes(first))
    (tmp_path / "2.glyph").write_bytes(pack_bytes(second))
    inputs = [str(tmp_path / "1.glyph"), str(tmp_path / "2.glyph")]
    out = tmp_path / "all.glyph"
    proc = run_glyph("pack", *inputs, "-o", str(out))
    assert proc.returncode == 1 and b"duplicate document id 'doc-5-1'" in proc.stderr and not out.exists()
    run_glyph("pack", *inputs, "-o", str(out), "--on-duplicate", "skip", check=True)
    kept = _docs_by_id(run_glyph("unpack", str(out), check=True).stdout)
    assert list(kept) == ["doc-5-0", "doc-5-1", "doc-5-2", "new"]
    assert kept["doc-5-1"] == _docs_by_id(first)["doc-5-1"]
    run_glyph("pack", *inputs, "-o", str(out), "--on-duplicate", "replace", check=True)
    kept = _docs_by_id(run_glyph("unpack", str(out), check=True).stdout)
    assert list(kept) == ["doc-5-0", "doc-5-2", "doc-5-1", "new"]
    assert kept["doc-5-1"] == _docs_by_id(second)["doc-5-1"]
    proc = run_glyph("pack", "--on-duplicate", "replace", input=first + second)  # stdin is spooled for it
    assert proc.returncode == 0
    assert list(_docs_by_id(run_glyph("unpack", "-", input=proc.stdout, check=True).stdout)) == \
        ["doc-5-0", "doc-5-2", "doc-5-1", "new"]


def test_render_shards_combine_into_one_bundle(prose_docs, tmp_path):
    for k in (0, 1):
        proc = sh(f"{GLYPH} render --shard {k}/2 {prose_docs} | {GLYPH} pack -o part-{k}.glyph", tmp_path)
        assert proc.returncode == 0, proc.stderr.decode()
    run_glyph("pack", "part-0.glyph", "part-1.glyph", "-o", "all.glyph", cwd=tmp_path, check=True)
    docs = records_of(run_glyph("unpack", "all.glyph", "--text", cwd=tmp_path, check=True).stdout)
    assert sorted(d["id"] for d in docs) == sorted(d["id"] for d in records_of(prose_docs.read_bytes()))


# -- usage, atomic output, signals ------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--level", "0"], b"--level"), (["--long", "31"], b"--long"), (["--pages", "webp"], b"--pages"),
    (["--on-duplicate", "merge"], b"--on-duplicate"), (["--frame-size", "0"], b"frame-size"),
])
def test_bad_flags_exit_2(args, message):
    proc = run_glyph("pack", *args, input=b"")
    assert proc.returncode == 2 and message in proc.stderr


def test_pack_refuses_to_write_a_bundle_to_a_terminal():
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "glyph_cli", "pack"], input=b"", stdout=slave,
                              stderr=subprocess.PIPE, env=glyph_env(), cwd=REPO, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 2 and b"terminal" in proc.stderr


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 130), (signal.SIGKILL, -9)])
def test_an_interrupted_pack_leaves_no_file_that_looks_whole(tmp_path, sig, code):
    target = tmp_path / "out.glyph"
    proc = glyph_popen("pack", "-o", str(target), "-T", "1", stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(synthetic_stream(3, 2, seed=7))  # three whole documents, then the stream stalls
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.glyph.*.part")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert not target.exists()
    leftovers = list(tmp_path.glob(".out.glyph.*.part"))
    if sig == signal.SIGKILL:
        for part in leftovers:  # a kill cannot clean up, but what it leaves is named and checked as partial
            assert run_glyph("verify", str(part)).returncode == 1
    else:
        assert leftovers == [] and b"Interrupted" in stderr


def test_unpack_out_keeps_hostile_ids_inside_the_directory(tmp_path):
    stream = stream_bytes([doc_records("../../escape", "x\n", [page_png(1)]),
                           doc_records("/etc/passwd", "y\n", [page_png(2)])])
    out = tmp_path / "out"
    run_glyph("unpack", "-", "-d", str(out), input=pack_bytes(stream), check=True)
    run_glyph("unpack", "-", "--text", "-d", str(out), input=pack_bytes(stream), check=True)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(out in p.parents for p in written)
    assert not (tmp_path.parent / "escape").exists()


@pytest.mark.slow
def test_pack_memory_stays_flat_on_a_stream_larger_than_it_may_hold(tmp_path):
    """1.2 GB of page stream through a pack limited to 600 MB of address space."""
    import resource

    limit = 600 << 20

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    text = "".join(f"A line of a long log, with a counter: {i:08d}\n" for i in range(20000))
    page = page_png(3)
    target = tmp_path / "big.glyph"
    env = glyph_env(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "glyph_cli", "pack", "-o", str(target), "-T", "1", "--level", "1"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO, preexec_fn=cap)
    sent = 0
    n = 0
    while sent < 1200 << 20:
        chunk = stream_bytes([doc_records(f"log-{n}", f"document {n}\n" + text, [page])])
        proc.stdin.write(chunk)
        sent += len(chunk)
        n += 1
    proc.stdin.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=600) == 0, stderr
    lines = records_of(run_glyph("ls", str(target), check=True).stdout)
    assert lines[-1]["docs"] == n and lines[-1]["text_bytes"] > limit


def test_any_flipped_bit_is_found_and_never_reaches_the_output(many_docs, many_bundle, tmp_path):
    """Fuzz: 16 random single-bit flips anywhere in the file, in-process."""
    import io
    import random

    from glyph_cli.bundle.unpack import Unpacker, verify

    rng = random.Random(1234)
    original = _docs_by_id(many_docs)
    path = tmp_path / "fuzz.glyph"
    for _ in range(16):
        at = rng.randrange(len(many_bundle))
        path.write_bytes(flip_bit(many_bundle, at, rng.randrange(8)))
        assert verify(str(path), threads=2).damages, f"flip at byte {at} went unnoticed"
        out = io.BytesIO()
        Unpacker(str(path), salvage=True, threads=2).run(out)
        recovered = _docs_by_id(out.getvalue())
        assert all(lines == original[doc_id] for doc_id, lines in recovered.items()), at


def test_unpack_and_verify_bars_know_their_total_from_the_index(tmp_path):
    from bundle_kit import pack_bytes, synthetic_stream

    from glyph_cli.bundle.unpack import pages_in_index

    path = tmp_path / "b.glyph"
    data = pack_bytes(synthetic_stream(n_docs=3, pages_per_doc=2))
    path.write_bytes(data)
    assert pages_in_index(str(path)) == 6
    assert pages_in_index(str(path), {"doc-0-1", "nosuch"}) == 2
    assert pages_in_index("-") is None
    cut = tmp_path / "cut.glyph"
    cut.write_bytes(data[: len(data) // 2])  # no footer: unknown, and the read itself says why
    assert pages_in_index(str(cut)) is None
