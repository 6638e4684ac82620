"""Generate man/glyph.1 and completions/glyph.{bash,zsh,fish} from the CLI itself.

    python scripts/gen_docs.py          # write them
    python scripts/gen_docs.py --check  # exit 1 if the checked-in files differ (a test runs this)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _roff_escape(text: str) -> str:
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def man_page() -> str:
    import click
    import typer

    from glyph_cli import __version__
    from glyph_cli.app import app

    group = typer.main.get_command(app)
    ctx = click.Context(group, info_name="glyph", terminal_width=100, max_content_width=100)
    out = [
        f'.TH GLYPH 1 "" "glyph {__version__}" "User Commands"',
        ".SH NAME",
        "glyph \\- visual-text compression: typeset long text into pages a vision-language model reads",
        ".SH SYNOPSIS",
        ".B glyph",
        "[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        ".nf",
        _roff_escape(group.get_help(ctx)),
        ".fi",
        ".SH COMMANDS",
    ]
    def describe(cmd: click.Command, name: str, parent: click.Context, path: str) -> None:
        # info_name is the command's own name: click prefixes the parents' (no "glyph glyph render")
        sub = click.Context(cmd, info_name=name, parent=parent, terminal_width=100, max_content_width=100)
        out.extend([f".SS {path}", ".nf", _roff_escape(cmd.get_help(sub)), ".fi"])
        if isinstance(cmd, click.Group):  # `glyph bench`: each subcommand with its options
            for child in cmd.list_commands(sub):
                describe(cmd.get_command(sub, child), child, sub, f"{path} {child}")

    for name in group.list_commands(ctx):
        describe(group.get_command(ctx, name), name, ctx, f"glyph {name}")
    out += [
        ".SH EXIT STATUS",
        "0 success; 1 failure (any record failed under --on-error fail; a damaged or incomplete bundle); "
        "2 bad usage or configuration; 130 interrupted.",
        ".SH FILES",
        "Record formats: docs/FORMATS.md in the source tree.",
    ]
    return "\n".join(out) + "\n"


def completion(shell: str) -> str:
    env = dict(os.environ, _GLYPH_COMPLETE=f"source_{shell}", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "glyph_cli"], env=env, capture_output=True, text=True, check=False)
    return proc.stdout


def outputs() -> dict[Path, str]:
    files = {REPO / "man" / "glyph.1": man_page()}
    for shell in ("bash", "zsh", "fish"):
        files[REPO / "completions" / f"glyph.{shell}"] = completion(shell)
    return files


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in outputs().items():
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.relative_to(REPO))
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print("out of date (run python scripts/gen_docs.py): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
