"""glyph export: what it writes, the readers of each format read back (pyarrow, datasets, webdataset)."""

from __future__ import annotations

import hashlib
import json

import pytest

from conftest import run_glyph

DOCS = [{"id": "long", "text": "Glyph export test sentence, page after page. " * 260},
        {"id": "short", "text": "A short one."}]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    docs = d / "docs.jsonl"
    docs.write_text("".join(json.dumps(x) + "\n" for x in DOCS))
    stream = run_glyph("render", str(docs), "--dpi", "48", check=True).stdout
    (d / "pages.jsonl").write_bytes(stream)
    run_glyph("pack", str(d / "pages.jsonl"), "-o", str(d / "docs.glyph"), check=True)
    pages = [json.loads(line) for line in stream.splitlines() if json.loads(line)["type"] == "page"]
    return d, pages


def expected(pages):
    import base64

    return [(p["doc"], p["index"], base64.b64decode(p["image"].split(",", 1)[1])) for p in pages]


def test_parquet_is_read_by_pyarrow(bundle, tmp_path):
    import pyarrow.parquet as pq

    d, pages = bundle
    assert len(pages) >= 3
    run_glyph("export", str(d / "docs.glyph"), "--to", "parquet", str(tmp_path / "out"), "--shard-pages", "2",
              check=True)
    names = sorted(p.name for p in (tmp_path / "out").glob("part-*.parquet"))
    assert names[0] == "part-00000.parquet" and len(names) == (len(pages) + 1) // 2
    table = pq.read_table(tmp_path / "out" / names[0]).to_pylist() + [
        row for name in names[1:] for row in pq.read_table(tmp_path / "out" / name).to_pylist()]
    assert [(r["doc"], r["index"], r["image"]) for r in table] == expected(pages)
    first = table[0]
    text = DOCS[0]["text"]
    assert first["text"] == text[first["span"][0]:first["span"][1]] and first["text"]
    assert first["visual_tokens"]["glm4v"] == pages[0]["visual_tokens"]["glm4v"]
    assert first["sha256"] == hashlib.sha256(first["image"]).hexdigest()
    assert json.loads((tmp_path / "out" / "_SUCCESS").read_text())["rows"] == len(pages)


def test_hf_parquet_loads_with_an_image_feature(bundle, tmp_path):
    import datasets

    d, pages = bundle
    run_glyph("export", str(d / "pages.jsonl"), "--to", "hf", str(tmp_path / "hf"), check=True)
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "hf" / "part-*.parquet"), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert isinstance(ds.features["image"], datasets.Image)
    img = ds[0]["image"]
    assert (img.width, img.height) == (pages[0]["width"], pages[0]["height"])
    assert [(r["doc"], r["index"]) for r in ds] == [(p["doc"], p["index"]) for p in pages]


def test_webdataset_shards_hold_real_pngs(bundle, tmp_path):
    import webdataset as wds

    d, pages = bundle
    run_glyph("export", str(d / "docs.glyph"), "--to", "webdataset", str(tmp_path / "wds"), "--shard-pages", "2",
              check=True)
    urls = sorted(str(p) for p in (tmp_path / "wds").glob("part-*.tar"))
    samples = list(wds.WebDataset(urls, shardshuffle=False, empty_check=False))
    got = [(json.loads(s["json"])["doc"], json.loads(s["json"])["index"], s["png"]) for s in samples]
    assert got == expected(pages)
    assert all(s["png"].startswith(b"\x89PNG") for s in samples)
    assert samples[0]["txt"].decode() == json.loads(samples[0]["json"])["text"]


def test_png_folder_and_rerun_skips_only_when_parameters_match(bundle, tmp_path):
    d, pages = bundle
    out = tmp_path / "png"
    args = ("export", str(d / "docs.glyph"), "--to", "png", str(out), "--shard-pages", "2")
    run_glyph(*args, check=True)
    first = out / "part-00000" / "long" / "page-00000.png"
    assert first.read_bytes() == expected(pages)[0][2]
    again = run_glyph(*args, check=True)
    assert b"finished by an earlier run" in again.stderr and b"skipped" in again.stderr
    other = run_glyph("export", str(d / "docs.glyph"), "--to", "png", str(out), "--shard-pages", "3")
    assert other.returncode == 2 and b"other parameters" in other.stderr
    redo = run_glyph("export", str(d / "docs.glyph"), "--to", "png", str(out), "--shard-pages", "3", "--overwrite",
                     check=True)
    assert b"skipped" not in redo.stderr
    assert json.loads((out / "_manifest.json").read_text())["params"]["shard_rows"] == 3


def test_an_interrupted_shard_leaves_no_whole_looking_file(tmp_path):
    from glyph_cli.export.formats import FORMATS
    from glyph_cli.export.shards import ShardedWriter

    def rows():
        for i in range(5):
            yield {"doc": "d", "index": i, "span": [0, 1], "text": "x", "width": 1, "height": 1, "dpi": 72.0,
                   "visual_tokens": {}, "sha256": "", "config_sha256": "", "image": b"\x89PNG"}
        raise KeyboardInterrupt

    writer = ShardedWriter(tmp_path, FORMATS["webdataset"], {"inputs": "x"}, shard_rows=2)
    with pytest.raises(KeyboardInterrupt):
        writer.write(rows())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_manifest.json", "part-00000.tar", "part-00001.tar"]
    manifest = json.loads((tmp_path / "_manifest.json").read_text())
    assert [s["rows"] for s in manifest["shards"]] == [2, 2]
