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


def _say(line: str) -> None:
    terminal = _shared_terminal() if progress_enabled() else None
    if terminal is not None:  # bars may be drawn below the cursor: clear them (they redraw), write whole
        terminal.write("\r\x1b[J" + line + "\n")
    else:
        print(line, file=sys.stderr, flush=True)


def info(message: str) -> None:
    if not settings.quiet:
        _say(message)


def warn(message: str) -> None:
    _say(f"warning: {message}")


def debug(message: str) -> None:
    if settings.verbose:
        _say(message)


def progress_enabled() -> bool:
    if settings.quiet:
        return False
    if settings.progress is not None:
        return settings.progress
    return sys.stderr.isatty() and os.environ.get("CI") != "true"


# -- progress bars that share a terminal ----------------------------------------------------------
#
# The stages of a pipeline (`glyph render | glyph pack`) draw on one terminal. Each bar claims a row
# (a slot: an flock on a small lock file keyed by the terminal, held until the bar closes or the
# process ends) and tqdm draws it that many rows below the cursor; every redraw (down, the bar, back
# up) reaches the terminal in one write made under a second lock, so no two redraws interleave and
# the cursor is always back home between them.

MAX_SLOTS = 16
INPUT_POLL_S = 0.1  # how often an input bar reads the offsets of its files
_terminal = None  # the _Terminal while a bar of this process is open


class _Terminal:
    def __init__(self, fd: int):
        import hashlib
        import tempfile

        self.fd = fd
        key = hashlib.sha256(os.ttyname(fd).encode()).hexdigest()[:16]
        folder = os.path.join(tempfile.gettempdir(), f"glyph-bars-{os.getuid()}")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.stat(folder).st_uid != os.getuid():  # someone else's folder: draw without sharing
            raise OSError(f"{folder} belongs to another user")
        self.prefix = os.path.join(folder, key)
        self.draw_fd = os.open(self.prefix + ".draw", os.O_RDWR | os.O_CREAT, 0o600)

    def claim(self) -> tuple[int, int]:
        """(row, lock fd): the first free row of this terminal; (-1, -1) when all are taken."""
        import fcntl

        for slot in range(MAX_SLOTS):
            fd = os.open(f"{self.prefix}.{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            return slot, fd
        return -1, -1

    def write(self, text: str) -> None:
        import fcntl

        data = text.encode(sys.stderr.encoding or "utf-8", "replace")
        sys.stderr.flush()
        fcntl.flock(self.draw_fd, fcntl.LOCK_EX)
        try:
            while data:
                data = data[os.write(self.fd, data):]
        finally:
            fcntl.flock(self.draw_fd, fcntl.LOCK_UN)


class _Whole:
    """The file tqdm draws to: what one redraw writes is kept and goes out in one write."""

    def __init__(self, terminal: _Terminal):
        self.terminal = terminal
        self.parts: list[str] = []
        self.held = 0
        self.encoding = sys.stderr.encoding

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        if not self.held and self.parts:
            text, self.parts = "".join(self.parts), []
            self.terminal.write(text)

    def fileno(self) -> int:
        return self.terminal.fd

    def isatty(self) -> bool:
        return True


def _shared_terminal():
    """The _Terminal of stderr, or None where bars cannot share one (not a terminal, no flock)."""
    global _terminal
    if _terminal is None:
        try:
            import fcntl  # noqa: F401  (POSIX only)

            if not os.isatty(2):
                return None
            _terminal = _Terminal(2)
        except (ImportError, OSError):
            return None
    return _terminal


class _Off:
    """A bar that is off: what tqdm(disable=True) does (nothing; `n` stays put), without importing
    tqdm (~35 ms of every run) or starting its monitor thread."""

    def __init__(self, total: int | None = None):
        self.n = 0
        self.total = total

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def set_postfix_str(self, *args, **kwargs) -> None:
        pass

    def refresh(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(total: int | None = None, desc: str = "", unit: str = "it", **kwargs):
    """A tqdm bar on stderr, off unless stderr is a terminal (or --progress). With a `total` it shows
    the percentage and ETA; `unit="B", unit_scale=True` for bytes. On a terminal it has a row of its
    own, shared with the other glyph processes drawing there."""
    enabled = progress_enabled()
    if not enabled:
        return _Off(total)
    from tqdm import tqdm

    terminal = _shared_terminal()
    if terminal is None:
        return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not enabled, dynamic_ncols=True,
                    leave=False, **kwargs)
    row, lock_fd = terminal.claim()
    out = _Whole(terminal)

    class Bar(tqdm):
        def display(self, msg=None, pos=None):
            out.held += 1
            try:
                return super().display(msg, pos)
            finally:
                out.held -= 1
                out.flush()

        def close(self):
            if self.disable:
                return
            out.held += 1
            try:
                super().close()
            finally:
                out.held -= 1
                out.flush()
                if lock_fd >= 0:
                    os.close(lock_fd)  # the row is free again

    return Bar(total=total, desc=desc, unit=unit, file=out, dynamic_ncols=True, leave=False,
               position=max(row, 0), **kwargs)


def _read_positions(paths: dict[str, int]) -> dict[str, int]:
    """How far this process has read into each of `paths` (real path -> size): the offsets of its
    open descriptors on them (Linux /proc); a file not open now is absent."""
    seen: dict[str, int] = {}
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return seen
    for fd in fds:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target not in paths:
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                pos = int(info.readline().split()[1])  # "pos:\t<offset>"
        except (OSError, ValueError, IndexError):
            continue
        seen[target] = max(seen.get(target, 0), pos)
    return seen


def input_progress(paths, desc: str = "", unit: str = "it"):
    """A bar over input files: bytes read so far against their total size (so a percentage and an
    ETA), with the count of `unit`s in its postfix; `update(1)` per unit done. Stdin, or where the
    offsets cannot be read, counts units as `progress` does."""
    files = {}
    for path in paths or []:
        if str(path) != "-" and os.path.isfile(path):
            files[os.path.realpath(path)] = os.path.getsize(path)
    if not files or not progress_enabled() or not os.path.isdir("/proc/self/fdinfo"):
        return progress(desc=desc, unit=unit)
    bar = progress(total=sum(files.values()), desc=desc, unit="B", unit_scale=True, unit_divisor=1024)
    done: dict[str, int] = {}  # bytes read per file, the most seen
    count = [0]
    plain_update = bar.update

    last = [0.0]

    def update(n: int = 1) -> None:
        import time

        count[0] += n
        if time.monotonic() - last[0] < INPUT_POLL_S:  # /proc is read at most ten times a second
            return
        last[0] = time.monotonic()
        now = _read_positions(files)
        for path in files:
            if path in now:
                done[path] = max(done.get(path, 0), now[path])
            elif path in done:  # read before and closed since: all of it
                done[path] = files[path]
        opened = [p for p in files if p in now]
        if opened:  # the files before the one open now are finished
            first = list(files).index(opened[0])
            for path in list(files)[:first]:
                done[path] = files[path]
        bar.set_postfix_str(f"{count[0]} {unit}", refresh=False)
        plain_update(min(sum(done.values()), bar.total) - bar.n)

    bar.update = update
    return bar


class ErrorPolicy:
    """Applies `--on-error fail|skip` to bad records and keeps the count for the summary and exit code."""

    def __init__(self, on_error: str):
        on_error = getattr(on_error, "value", on_error)  # the OnError enum of the CLI, or its string
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
