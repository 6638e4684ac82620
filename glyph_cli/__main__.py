"""The entry point of `glyph` and `python -m glyph_cli`: signal handlers first, then the app.

Only the standard library is imported before the handlers are in, so SIGINT or SIGTERM at any
moment after this module starts is an interrupt (exit 130), not a death by the signal
(glyph_cli/interrupts.py says what window is left).
"""

from glyph_cli import interrupts


def main() -> None:
    interrupts.install()
    try:
        from glyph_cli.app import run

        code = run()
    except KeyboardInterrupt:  # during the app's imports: nothing was written yet
        import sys

        print("Interrupted", file=sys.stderr)
        code = interrupts.INTERRUPTED
    interrupts.finish(code)


if __name__ == "__main__":
    main()
