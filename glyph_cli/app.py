"""The `glyph` command: a thin typer app. Each subcommand lives in glyph_cli/commands/<name>.py.

Nothing heavy is imported here: `glyph --help` must not pay for torch, transformers or Pango.
"""

from __future__ import annotations

import sys
import traceback

import click
import typer

from glyph_cli import __version__, interrupts, log
from glyph_cli.errors import GlyphError

app = typer.Typer(
    name="glyph",
    help=(
        "Visual-text compression: typeset long text into page images that a vision-language model "
        "reads instead of text tokens.\n\n"
        "Stages pass JSONL and page bundles through pipes:\n\n"
        "  glyph render docs.jsonl | glyph pack -o docs.glyph\n\n"
        "stdout carries data only; messages and progress go to stderr."
    ),
    no_args_is_help=True,
    suggest_commands=False,  # click suggests already: typer's would say "Did you mean" a second time
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"glyph {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="More detail on stderr; tracebacks on errors."),
    quiet: bool = typer.Option(False, "--quiet", help="Only warnings and errors on stderr."),
    progress: bool = typer.Option(None, "--progress/--no-progress",
                                  help="Progress bars on stderr (default: only when stderr is a terminal)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    log.settings.verbose = verbose
    log.settings.quiet = quiet
    log.settings.progress = progress


def _register() -> None:
    from glyph_cli.commands import COMMANDS

    for name, module_name, attr in COMMANDS:
        module = __import__(f"glyph_cli.commands.{module_name}", fromlist=[attr])
        target = getattr(module, attr)
        if isinstance(target, typer.Typer):  # a command group, e.g. `glyph bench compression`
            app.add_typer(target, name=name)
        else:
            app.command(name=name)(target)


_register()


# Global flags a user may also give after the subcommand (`glyph render x.jsonl -v`); no subcommand
# defines an option of these names, so moving them before the subcommand changes no meaning.
GLOBAL_FLAGS = frozenset({"-v", "--verbose", "--quiet", "--progress", "--no-progress"})


def hoist_global_flags(args: list[str]) -> list[str]:
    """`args` with the global flags that follow the subcommand moved before it (up to a `--`)."""
    front: list[str] = []
    rest: list[str] = []
    in_command = False
    for i, arg in enumerate(args):
        if arg == "--":
            rest += args[i:]
            break
        if in_command and arg in GLOBAL_FLAGS:
            front.append(arg)
            continue
        in_command = in_command or not arg.startswith("-")
        rest.append(arg)
    return front + rest


def _dispatch(argv: list[str] | None) -> int:
    try:
        args = hoist_global_flags(list(sys.argv[1:] if argv is None else argv))
        result = app(args=args, standalone_mode=False, prog_name="glyph")
        return result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code  # typer turns Ctrl-C into a silent Exit(130)
    except click.exceptions.Abort:
        return interrupts.INTERRUPTED
    except click.ClickException as exc:
        exc.show(file=sys.stderr)
        return exc.exit_code
    except GlyphError as exc:
        if log.settings.verbose:
            traceback.print_exc(file=sys.stderr)
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # an unexpected failure is still one line unless -v
        if log.settings.verbose:
            traceback.print_exc(file=sys.stderr)
        print(f"{type(exc).__name__}: {exc} (rerun with -v for the traceback)", file=sys.stderr)
        return 1


def run(argv: list[str] | None = None) -> int:
    """Run the app on `argv` (default: sys.argv[1:]) and return the exit code: every failure is one line
    on stderr (with a traceback under -v), an interrupt is 130 and the line `Interrupted`."""
    from glyph_cli.streams.io import guard_closed_stdio

    try:
        guard_closed_stdio()
        code = _dispatch(argv)
        sys.stdout.flush()
    except KeyboardInterrupt:
        code = interrupts.INTERRUPTED
    if interrupts.received is not None:
        code = interrupts.INTERRUPTED  # a signal came, whatever came of the work
    if code == interrupts.INTERRUPTED:
        print("Interrupted", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> None:
    """The `glyph` command. glyph_cli/__main__.py (the installed script) installs the signal handlers
    before importing this module; a caller of this function gets them here."""
    interrupts.install()
    interrupts.finish(run(argv))
