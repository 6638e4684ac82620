"""Byte-level I/O shared by every command: inputs by name, atomic outputs, JSONL lines."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import orjson

from glyph_cli.errors import GlyphError, UsageError

STDIO = "-"
_READ_BUFFER = 1 << 20


def display_name(path: str | os.PathLike) -> str:
    return "<stdin>" if str(path) == STDIO else str(path)


@dataclass
class InputLimits:
    """Bounds on what one input may cost, whatever it holds (flags raise them)."""

    max_line_bytes: int = 256 << 20  # one JSONL line (a document or a page record)
    max_text_bytes: int = 256 << 20  # one plain-text input file
    max_decompressed_bytes: int = 64 << 30  # what one .gz/.zst input may expand to


LIMITS = InputLimits()

_DAMAGED_HINT = {"gzip": "test it with `gzip -t`; re-create or re-download it",
                 "zstd": "test it with `zstd -t`; re-create or re-download it"}


class _Decompressing(io.RawIOBase):
    """A .gz or .zst input read as bytes: damage and truncation are InputErrors that name the file and
    say what to do, and the decompressed size is bounded."""

    def __init__(self, path: Path, kind: str, limit: int):
        self.path, self.kind, self.limit = path, kind, limit
        self.name = str(path)
        self.raw = open(path, "rb")
        self.total = 0
        if kind == "gzip":
            self._gz = gzip.GzipFile(fileobj=self.raw, mode="rb")
        else:
            import zstandard

            self._zstd = zstandard
            self._dctx = zstandard.ZstdDecompressor()
            self._dobj = None
            self._pending = b""
            self._at = 0
            self._eof = False

    def readable(self) -> bool:
        return True

    def _fail(self, what: str):
        from glyph_cli.errors import InputError

        raise InputError(self.name, None, f"{what} ({self.kind} data, {self.total} bytes decompressed so far)",
                         _DAMAGED_HINT[self.kind])

    def _zstd_read(self, n: int) -> bytes:
        if self._at >= len(self._pending):
            self._pending, self._at = b"", 0
        while not self._pending and not self._eof:
            # Small pieces: one zstd call can expand 1 KiB to at most ~32 MiB (RLE blocks), so a bomb
            # never needs more memory than that at once.
            chunk = self.raw.read(1024)
            if not chunk:
                if self._dobj is not None and not self._dobj.eof:
                    self._fail("truncated: the file ends inside a zstd frame")
                self._eof = True
                break
            while chunk:
                if self._dobj is None or self._dobj.eof:
                    self._dobj = self._dctx.decompressobj()
                try:
                    self._pending += self._dobj.decompress(chunk)
                except self._zstd.ZstdError as exc:
                    self._fail(f"damaged: {exc}")
                chunk = self._dobj.unused_data if self._dobj.eof else b""
        out = self._pending[self._at:self._at + n]
        self._at += len(out)
        return out

    def readinto(self, buf) -> int:
        n = len(buf)
        try:
            data = self._gz.read(n) if self.kind == "gzip" else self._zstd_read(n)
        except EOFError:
            self._fail("truncated: the file ends inside the compressed stream")
        except (OSError, zlib.error) as exc:
            self._fail(f"damaged: {exc}")
        self.total += len(data)
        if self.total > self.limit:
            from glyph_cli.errors import InputError

            raise InputError(self.name, None, f"decompresses to more than {self.limit} bytes; refusing it as a "
                             "possible decompression bomb", "raise the bound with --max-decompressed-mb")
        buf[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if self.kind == "gzip":
            self._gz.close()
        self.raw.close()
        super().close()


class _OneReadAtATime(io.RawIOBase):
    """A buffered stream seen as a raw one: each read takes what the stream holds or one read of the
    file under it, so a reader over it gets a line from a pipe as soon as the line is there (a
    BufferedReader's own readinto waits to fill the whole request). Bytes the stream had buffered
    (a peek) come first; closing it closes the stream."""

    def __init__(self, stream: IO[bytes]):
        self._stream = stream
        self.name = getattr(stream, "name", "<stdin>")

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        # read1, not readinto1: with bytes buffered, readinto1 copies them and then reads the file too
        data = self._stream.read1(len(buf))
        buf[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


def open_binary(path: str | os.PathLike) -> IO[bytes]:
    """Open an input for reading bytes; `-` is stdin; `.gz` and `.zst` decompress by extension."""
    name = str(path)
    if name == STDIO:
        # a 1 MiB buffer over stdin's 8 KiB one: lines of page records (~50 KB) are read in one piece
        # rather than joined from many (a quarter of the cost of reading a page stream)
        return io.BufferedReader(_OneReadAtATime(sys.stdin.buffer), _READ_BUFFER)
    p = Path(name)
    if not p.exists():
        raise UsageError(f"{name}: no such file")
    if p.is_dir():
        raise UsageError(f"{name}: is a directory")
    if name.endswith(".gz"):
        return io.BufferedReader(_Decompressing(p, "gzip", LIMITS.max_decompressed_bytes), 1 << 20)
    if name.endswith(".zst") or name.endswith(".zstd"):
        return io.BufferedReader(_Decompressing(p, "zstd", LIMITS.max_decompressed_bytes), 1 << 20)
    return open(p, "rb", buffering=_READ_BUFFER)


def iter_lines(fh: IO[bytes], max_line: int | None = None) -> Iterator[bytes | None]:
    """Raw lines (with their newline) from a binary stream, each at most `max_line` bytes: a longer
    line is read past in bounded pieces and yielded as None, so memory never holds it."""
    limit = LIMITS.max_line_bytes if max_line is None else max_line
    reader = fh if hasattr(fh, "peek") or isinstance(fh, io.BufferedReader) else io.BufferedReader(fh, 1 << 20)
    while True:
        line = reader.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            yield None  # the caller reports it (and stops, under --on-error fail) before it is read past
            skipped = 0
            while True:  # the rest of the long line, dropped, for a bounded while
                rest = reader.readline(1 << 20)
                skipped += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
                if skipped > 16 * limit:
                    from glyph_cli.errors import InputError

                    raise InputError(getattr(fh, "name", "input"), None, f"a line goes on past {skipped} bytes; "
                                     "stopping this input", "is it a text file?")
            continue
        yield line


def line_too_long(source: str, line: int):
    from glyph_cli.errors import InputError

    return InputError(source, line, f"line is over {LIMITS.max_line_bytes} bytes",
                      "raise the bound with --max-line-mb, or split the record")


def iter_objects(path: str | os.PathLike, what: str = "record") -> Iterator[tuple[dict, str, int]]:
    """(object, source name, line number) for each JSON object line; blank lines are skipped.

    A malformed line or a non-object stops the read with an InputError naming file:line: for these
    inputs (page streams, task files, datasets) a bad line means the file itself is damaged.
    """
    from glyph_cli.errors import InputError

    source = display_name(path)
    with open_binary(path) as fh:
        for line, raw in enumerate(iter_lines(fh), start=1):
            if raw is None:
                raise line_too_long(source, line)
            if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte-order mark
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
                sys.stdout = _ClosedStream("stdout", "redirect stdout to a file, or pass -o/--output FILE (-d/--out-dir DIR for files)")
            else:
                sys.stderr = open(os.devnull, "w")


PIPE_BYTES = 1 << 20


def widen_pipe(stream: IO) -> None:
    """Give the pipe `stream` is (if it is one) a 1 MiB buffer instead of Linux's 64 KiB: a writer of
    50 KB page records and a reader that takes a millisecond a page then wait on each other every
    page, each side idle while the other works. Best effort: elsewhere, or past the system's
    pipe-max-size, the pipe stays as it is."""
    import fcntl
    import stat

    try:
        fd = stream.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (OSError, ValueError, AttributeError):
        pass


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
