"""Global flags are accepted after the subcommand too, and "Did you mean" is said once."""

from __future__ import annotations

from conftest import run_glyph
from glyph_cli.app import hoist_global_flags


def test_hoisting_moves_only_global_flags_after_the_subcommand():
    assert hoist_global_flags(["render", "a.jsonl", "-v", "--quiet"]) == ["-v", "--quiet", "render", "a.jsonl"]
    assert hoist_global_flags(["--quiet", "ls", "x"]) == ["--quiet", "ls", "x"]
    assert hoist_global_flags(["ask", "--", "-v"]) == ["ask", "--", "-v"]  # after --, -v is a file name


def test_quiet_after_the_subcommand_silences_the_summary(tmp_path):
    docs = tmp_path / "d.jsonl"
    docs.write_text('{"id": "a", "text": "hello"}\n')
    loud = run_glyph("render", str(docs), check=True)
    quiet = run_glyph("render", str(docs), "--quiet", check=True)
    assert b"rendered 1 document" in loud.stderr
    assert quiet.stderr == b"" and quiet.stdout == loud.stdout


def test_did_you_mean_once():
    for args in (["rendr"], ["bench", "acuracy"]):
        proc = run_glyph(*args)
        assert proc.returncode == 2
        assert proc.stderr.count(b"Did you mean") == 1, proc.stderr


def test_style_flags_show_the_presets_defaults():
    from glyph_cli.typeset.config import resolve_config

    text = " ".join(run_glyph("render", "--help", check=True).stdout.decode().split())
    cfg = resolve_config("glyph", None, {})
    assert "--dpi FLOAT Raster resolution" in text
    assert f"glyph preset: {cfg.dpi:g}" in text and f"glyph preset: {cfg.font}" in text
