"""The option layer: one spelling per meaning in every command, choices listed, old spellings
still working with one warning line, and bundle commands reading stdin."""

from __future__ import annotations

import subprocess
import sys

import click
import typer

from conftest import glyph_env, run_glyph
from glyph_cli.app import app


def _commands():
    def walk(command, path):
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), command

    yield from walk(typer.main.get_command(app), [])


def _visible_options():
    for name, command in _commands():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                yield name, param


def test_a_flag_means_one_thing_in_every_command():
    meanings: dict[str, set[str]] = {}
    for name, param in _visible_options():
        for flag in param.opts + param.secondary_opts:
            meanings.setdefault(flag, set()).add(param.name)
    assert {flag: names for flag, names in meanings.items() if len(names) > 1} == {}
    # the conventions themselves: -o a file, -d a folder, --format the output, -c the render config
    assert meanings["-o"] == {"output"} and meanings["-d"] == {"out_dir"}
    assert meanings["--format"] == {"output_format"} and meanings["--input-format"] == {"input_format"}
    assert meanings["-c"] == {"config"} and "--out" not in meanings and "--render-config" not in meanings
    assert {n for n, p in _visible_options() if "-c" in p.opts} >= {"render", "ask", "search run", "bench compression"}


def test_choices_are_enums_that_help_lists():
    for name, param in _visible_options():
        if param.name in ("on_error", "input_format", "output_format"):
            assert isinstance(param.type, click.Choice), (name, param.name)
    on_error = {n for n, p in _visible_options() if p.name == "on_error"}
    assert on_error == {"render", "ask", "bench compression", "bench accuracy", "train data"}
    help_text = " ".join(run_glyph("ask", "--help", check=True).stdout.decode().split())
    assert "--on-error [fail|skip]" in help_text and "--input-format [auto|jsonl|text]" in help_text


def test_old_spellings_work_and_warn_once(tmp_path):
    docs = tmp_path / "d.jsonl"
    docs.write_text("hello old spelling\n")
    proc = run_glyph("render", str(docs), "--format", "text", "-o", str(tmp_path / "old"), check=True)
    warnings = [line for line in proc.stderr.decode().splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: -o/--out is deprecated and will go: use -d/--out-dir",
                        "warning: --format is deprecated and will go: use --input-format"]
    assert (tmp_path / "old" / "index.jsonl").is_file()
    both = run_glyph("render", str(docs), "-o", str(tmp_path / "x"), "-d", str(tmp_path / "y"))
    assert both.returncode == 2 and b"-o/--out is the old spelling of -d/--out-dir" in both.stderr
    # ask's --render-config is accepted (the usage error that follows is about the missing model)
    ask = run_glyph("ask", str(docs), "--render-config", str(tmp_path / "c.json"), "-q", "Q")
    assert ask.returncode == 2
    assert ask.stderr.decode().splitlines()[0] == "warning: --render-config is deprecated and will go: use -c/--config"
    old = run_glyph("bench", "compression", "--jsonl", check=True)  # now --format jsonl, as ls and search
    assert old.stderr.decode().splitlines()[0] == "warning: --jsonl is deprecated and will go: use --format jsonl"
    assert old.stdout.startswith(b'{"type":"provenance"')


def test_renamed_picks_the_given_spelling():
    from glyph_cli.commands.options import renamed
    from glyph_cli.errors import UsageError

    assert renamed("new", None, "--new", "--old") == "new"
    assert renamed(["50"], [], "--budget", "-b", ["50"]) == ["50"]
    assert renamed(["50"], ["9"], "--budget", "-b", ["50"]) == ["9"]
    try:
        renamed(4, 5, "--level", "-l", 3)
    except UsageError as exc:
        assert "-l is the old spelling of --level" in str(exc)
    else:
        raise AssertionError("both spellings given: no error")


def _redirected(*args: str, path) -> subprocess.CompletedProcess:
    """`glyph ARGS < path`: stdin is the file itself (seekable), as a shell redirect gives it."""
    with open(path, "rb") as fh:
        return subprocess.run([sys.executable, "-m", "glyph_cli", *args], stdin=fh, capture_output=True,
                              env=glyph_env(), timeout=300, check=True)


def test_bundle_commands_read_stdin(tmp_path):
    docs = tmp_path / "d.jsonl"
    docs.write_text('{"id": "a", "text": "alpha"}\n{"id": "b", "text": "beta"}\n')
    stream = run_glyph("render", str(docs), check=True).stdout
    bundle = run_glyph("pack", input=stream, check=True).stdout
    path = tmp_path / "x.glyph"
    path.write_bytes(bundle)
    listed = _redirected("ls", "--format", "jsonl", path=path).stdout  # README: glyph ls < x.glyph
    assert [b'"id":"b"' in line for line in listed.splitlines()] == [False, True, False]
    assert run_glyph("ls", "-", "--format", "jsonl", input=bundle, check=True).stdout == listed  # a pipe: scanned
    assert b"-: ok, 2 document(s)" in _redirected("verify", path=path).stderr
    assert _redirected("unpack", path=path).stdout == stream
    assert run_glyph("unpack", "-", input=bundle, check=True).stdout == stream
    merged = run_glyph("pack", "-", input=bundle, check=True).stdout
    assert run_glyph("unpack", "-", input=merged, check=True).stdout == stream
    run_glyph("export", "-", "--to", "png", str(tmp_path / "ex"), input=bundle, check=True)
    assert (tmp_path / "ex" / "_SUCCESS").exists()
