"""Rendering on Ray Data (a local CPU instance): the same pages as glyph render, byte for byte."""

from __future__ import annotations

import json

import pytest

from conftest import run_glyph

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.usefixtures("local_ray")
def test_ray_pages_and_bundle_equal_glyph_render(tmp_path):
    from glyph_cli.distributed.ray_data import documents, read_jsonl, render_dataset, write_bundle

    src = tmp_path / "docs.jsonl"
    # the first documents are the longest, so with one document per batch later batches finish
    # first: only an order-preserving read puts the output back in input order
    src.write_text("".join(json.dumps({"id": f"r{i}", "text": f"Ray renders document {i}. " * (400 // (i + 1)),
                                       "n": i}) + "\n" for i in range(6)))
    cli = run_glyph("render", str(src), "--dpi", "40", check=True).stdout
    cli_lines = [line for line in cli.splitlines() if json.loads(line)["type"] in ("doc", "page")]

    from glyph_cli.typeset.config import resolve_config

    config = resolve_config("glyph", None, {"dpi": 40}).to_dict()
    rendered = render_dataset(read_jsonl([str(src)]), config=config, actors=2, batch_size=1, cpus=0.75).materialize()
    ray_lines = [row["stream"] for row in rendered.iter_rows()]
    assert b"".join(bytes(s) for s in ray_lines).splitlines() == cli_lines

    write_bundle(rendered, tmp_path / "ray.glyph")
    unpacked = run_glyph("unpack", str(tmp_path / "ray.glyph"), check=True).stdout
    assert [line for line in unpacked.splitlines() if json.loads(line)["type"] in ("doc", "page")] == cli_lines
    assert [doc["id"] for doc, _pages in documents(rendered)] == [f"r{i}" for i in range(6)]


@pytest.mark.usefixtures("local_ray")
def test_a_document_without_an_id_is_a_clear_failure():
    from glyph_cli.distributed.ray_data import RenderDocuments

    out = RenderDocuments(preset="glyph")({"text": ['{"text": "no id"}', '{"id": "ok", "text": "fine"}']})
    assert out["stream"][0] == b"" and "without an 'id'" in out["error"][0]
    assert out["error"][1] is None and out["stream"][1].startswith(b'{"type":"doc"')
