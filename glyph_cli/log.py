"""stderr is for people: messages, warnings, progress bars. stdout carries data only."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


@dataclass
class Settings:
    verbose: bool = False
    quiet: bool = False
    progress: bool | None = None  # None: only when stderr is a terminal


settings = Settings()


def info(message: str) -> None:
    if not settings.quiet:
        print(message, file=sys.stderr, flush=True)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def debug(message: str) -> None:
    if settings.verbose:
        print(message, file=sys.stderr, flush=True)


def progress_enabled() -> bool:
    if settings.quiet:
        return False
    if settings.progress is not None:
        return settings.progress
    return sys.stderr.isatty() and os.environ.get("CI") != "true"


def progress(total: int | None = None, desc: str = "", unit: str = "it"):
    """A tqdm bar on stderr, off unless stderr is a terminal (or --progress)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not progress_enabled(),
                dynamic_ncols=True, leave=False)


class ErrorPolicy:
    """Applies `--on-error fail|skip` to bad records and keeps the count for the summary and exit code."""

    def __init__(self, on_error: str):
        if on_error not in ("fail", "skip"):
            from glyph_cli.errors import UsageError

            raise UsageError(f"--on-error must be fail or skip, not {on_error!r}")
        self.on_error = on_error
        self.failed = 0

    def record_failed(self, error: Exception) -> None:
        """Report one bad record. Under `fail` the error propagates and the run stops (exit 1)."""
        self.failed += 1
        if self.on_error == "fail":
            raise error
        print(f"skipped: {error}", file=sys.stderr, flush=True)

    def summary(self) -> str | None:
        if self.failed:
            return f"{self.failed} record(s) skipped"
        return None
