"""Exceptions that the CLI turns into one `Type: message` line and an exit code."""

from __future__ import annotations


class GlyphError(Exception):
    """A failure the user can act on. Exit code 1."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.hint})" if self.hint else base


class UsageError(GlyphError):
    """Bad arguments or configuration, found before any work starts. Exit code 2."""

    exit_code = 2


class ConfigError(UsageError):
    """An invalid render or model configuration value."""


class InputError(GlyphError):
    """A bad input record. Carries where it came from so the message names file:line."""

    def __init__(self, source: str, line: int | None, message: str, hint: str | None = None):
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}", hint)
        self.source = source
        self.line = line


class BundleError(GlyphError):
    """A damaged, hostile or unreadable bundle."""
