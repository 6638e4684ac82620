"""The layers import downwards only: streams/ (JSONL and page-stream I/O) never imports typeset/ or
bundle/ (orchestration that renders or opens bundles lives in glyph_cli/inputs.py), and records.py,
the bottom, imports nothing of glyph's but errors. Read from the source, so a lazy import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "glyph_cli"


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_streams_import_neither_typeset_nor_bundle():
    files = sorted((PKG / "streams").glob("*.py"))
    assert len(files) >= 4  # io, documents, pages, __init__: the test reads real files
    bad = {f.name: sorted(n for n in imported(f) if n.startswith(("glyph_cli.typeset", "glyph_cli.bundle")))
           for f in files}
    assert {k: v for k, v in bad.items() if v} == {}


def test_records_is_the_bottom_layer():
    glyph = {n for n in imported(PKG / "records.py") if n.startswith("glyph_cli")}
    assert glyph <= {"glyph_cli.errors", "glyph_cli.errors.InputError"}


def test_the_check_sees_a_lazy_import(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from glyph_cli.bundle.pack import x\n")
    assert "glyph_cli.bundle.pack" in imported(sample)


def test_one_png_chunk_writer_at_the_bottom():
    assert {n for n in imported(PKG / "pngchunk.py") if n.startswith("glyph_cli")} == set()
    assert {n for n in imported(PKG / "fastdeflate.py") if n.startswith("glyph_cli")} == {"glyph_cli",
                                                                                          "glyph_cli._fastdeflate"}
    for user in (PKG / "typeset" / "png.py", PKG / "bundle" / "pagecodec.py"):
        tree = ast.parse(user.read_text(encoding="utf-8"))
        assert "glyph_cli.pngchunk" in imported(user), user
        # no chunk writer of its own: nothing there computes a CRC-32 to pack into a chunk
        crcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and "_chunk" == n.name]
        assert crcs == [], user


def test_input_kinds_are_told_apart_in_one_place():
    """Only glyph_cli/inputs.py probes whether an input is a bundle (or a page stream); commands
    and stages above it ask it."""
    probes = {p.relative_to(PKG).as_posix() for p in PKG.rglob("*.py")
              if "glyph_cli.bundle.pack.input_is_bundle" in imported(p)}
    assert probes <= {"inputs.py"}, probes
