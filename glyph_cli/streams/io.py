"""Byte-level I/O shared by every command: inputs by name, atomic outputs, JSONL lines."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Iterator

import orjson

from glyph_cli.errors import GlyphError, UsageError

STDIO = "-"


def display_name(path: str | os.PathLike) -> str:
    return "<stdin>" if str(path) == STDIO else str(path)


def open_binary(path: str | os.PathLike) -> IO[bytes]:
    """Open an input for reading bytes; `-` is stdin; `.gz` and `.zst` decompress by extension."""
    name = str(path)
    if name == STDIO:
        raw: IO[bytes] = sys.stdin.buffer
        return raw
    p = Path(name)
    if not p.exists():
        raise UsageError(f"{name}: no such file")
    if p.is_dir():
        raise UsageError(f"{name}: is a directory")
    if name.endswith(".gz"):
        return gzip.open(p, "rb")
    if name.endswith(".zst") or name.endswith(".zstd"):
        import zstandard

        fh = open(p, "rb")
        return zstandard.ZstdDecompressor().stream_reader(fh, closefd=True, read_across_frames=True)
    return open(p, "rb")


def iter_lines(fh: IO[bytes]) -> Iterator[bytes]:
    """Yield raw lines (with their newline) from a binary stream, buffered, whatever its kind."""
    if isinstance(fh, (io.BufferedReader, gzip.GzipFile)):
        yield from fh
        return
    reader = io.BufferedReader(fh, buffer_size=1 << 20)  # zstd streams lack readline
    yield from reader


def iter_objects(path: str | os.PathLike, what: str = "record") -> Iterator[tuple[dict, str, int]]:
    """(object, source name, line number) for each JSON object line; blank lines are skipped.

    A malformed line or a non-object stops the read with an InputError naming file:line: for these
    inputs (page streams, task files, datasets) a bad line means the file itself is damaged.
    """
    from glyph_cli.errors import InputError

    source = display_name(path)
    with open_binary(path) as fh:
        for line, raw in enumerate(iter_lines(fh), start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InputError(source, line, f"malformed JSON in {what}: {exc}") from None
            if not isinstance(obj, dict):
                raise InputError(source, line, f"expected a JSON object ({what})")
            yield obj, source, line


def dumps(record: dict) -> bytes:
    """One JSONL line. orjson: fast, UTF-8, deterministic key order (insertion order)."""
    return orjson.dumps(record) + b"\n"


def loads(line: bytes) -> object:
    return orjson.loads(line)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicFile:
    """A file that appears under its final name only when closed successfully.

    Written to a temporary file in the same directory and renamed over the target at the end, so an
    interrupted run (Ctrl-C, kill, crash) never leaves a file that looks whole.
    """

    def __init__(self, path: str | os.PathLike, mode: str = "wb"):
        self.path = Path(path)
        self.mode = mode
        self._tmp: Path | None = None
        self.fh: IO | None = None

    def __enter__(self) -> IO:
        directory = self.path.parent if str(self.path.parent) else Path(".")
        if not directory.exists():
            raise UsageError(f"{self.path}: directory {directory} does not exist")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=directory)
        self._tmp = Path(tmp)
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; the result should look like any new file
        self.fh = os.fdopen(fd, self.mode)
        return self.fh

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.fh is not None and self._tmp is not None
        try:
            if exc_type is None:
                self.fh.flush()
                os.fsync(self.fh.fileno())
            self.fh.close()
        finally:
            if exc_type is None:
                try:
                    os.replace(self._tmp, self.path)
                except OSError as err:
                    with contextlib.suppress(FileNotFoundError):
                        self._tmp.unlink()
                    raise GlyphError(f"{self.path}: cannot write it: {err.strerror}") from None
            else:
                with contextlib.suppress(FileNotFoundError):
                    self._tmp.unlink()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with AtomicFile(path) as fh:
        fh.write(data)


class _ClosedStream:
    """Stands in for stdin/stdout when the shell closed it (`<&-`, `>&-`): using it is one clear error."""

    def __init__(self, name: str, hint: str):
        self._name, self._hint = name, hint

    def __getattr__(self, attr: str):
        if attr in ("flush", "close"):
            return lambda *a, **k: None
        if attr in ("isatty", "closed"):
            return (lambda: False) if attr == "isatty" else True
        raise UsageError(f"{self._name} is closed", self._hint)


def guard_closed_stdio() -> None:
    """A closed fd 0/1/2 gets /dev/null (so no file we open lands on it), and sys.stdin/stdout become
    stand-ins that fail with one clear line when read or written."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            if name == "stdin":
                sys.stdin = _ClosedStream("stdin", "give input files, or redirect stdin from a file")
            elif name == "stdout":
                sys.stdout = _ClosedStream("stdout", "redirect stdout to a file, or pass -o/--out")
            else:
                sys.stderr = open(os.devnull, "w")


def stdout_binary() -> IO[bytes]:
    return sys.stdout.buffer


def refuse_terminal_stdout(what: str) -> None:
    """Binary data is never sprayed onto a terminal (as zstd and tar refuse to)."""
    if sys.stdout.isatty():
        raise UsageError(f"refusing to write {what} to a terminal", "redirect stdout or pass -o FILE")


def ensure_dir(path: str | os.PathLike) -> Path:
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GlyphError(f"{p}: cannot create directory: {exc.strerror}") from exc
    return p
