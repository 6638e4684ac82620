"""Text-token counts in a child process, for `glyph render`.

A document's token count rides in its doc record, which comes before its pages, so the count runs
while the document is laid out. On a thread it shared the GIL with the layout: building the
tokenizer (the vocabulary's 151,643 entries into a dict, then tiktoken's CoreBPE) holds it for
~0.2 s, and every one of those was taken off the main thread's layout (measured: the spinning main
thread ran at 6% of its speed during CoreBPE's build). A child process has its own interpreter: the
layout keeps the GIL, the count runs on the other core.

`ChildCounter.count(text)` sends the text and waits for the count (a thread that waits on a pipe
releases the GIL); the child is started on first use and builds its tokenizer once. Should the child
fail to start or die, the count is made in this process instead: the same number either way (the
same tokenizer code). The protocol on the child's stdin and stdout: a request is an 8-byte
little-endian length and that many bytes of UTF-8 (surrogates passed through); the answer, 8 bytes,
the count, or -1 when counting raised.

    python -m glyph_cli.tokens.counter SPEC    # the child: SPEC as get_tokenizer takes it
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import threading
from typing import Callable

_LEN = struct.Struct("<q")


class ChildCounter:
    """Token counts of texts by the tokenizer `spec`, in a child process, one request at a time."""

    def __init__(self, spec: str, fallback: Callable[[str], int]):
        self.spec = spec
        self.fallback = fallback
        self._child: subprocess.Popen | None = None
        self._broken = False
        self._closing = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the child now (it builds its tokenizer at once), so that its start-up runs beside
        this process's own; without this call it starts on the first count."""
        with self._lock:
            self._start()

    def _start(self) -> subprocess.Popen | None:
        if self._child is None and not self._broken and not self._closing:
            import glyph_cli

            # this very glyph_cli, wherever this process found it (a checkout on sys.path, say)
            here = os.path.dirname(os.path.dirname(os.path.abspath(glyph_cli.__file__)))
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
            try:
                self._child = subprocess.Popen([sys.executable, "-m", "glyph_cli.tokens.counter", self.spec],
                                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                               env=env)
            except OSError:
                self._broken = True
        return self._child

    def __call__(self, text: str) -> int:
        return self.count(text)

    def count(self, text: str) -> int:
        with self._lock:
            child = self._start()
            if child is not None:
                data = text.encode("utf-8", "surrogatepass")
                try:
                    child.stdin.write(_LEN.pack(len(data)))
                    child.stdin.write(data)
                    child.stdin.flush()
                    answer = child.stdout.read(_LEN.size)
                except (OSError, ValueError):
                    answer = b""
                if len(answer) == _LEN.size and _LEN.unpack(answer)[0] >= 0:
                    return _LEN.unpack(answer)[0]
                self._stop()
                self._broken = True
        if self._closing:  # stopped on purpose (the run is ending): nobody waits for this count
            return 0
        return self.fallback(text)  # the child could not: count here (and say why, if it raises)

    def _stop(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        for stream in (child.stdin, child.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def close(self) -> None:
        """End the child (it also ends by itself when this process's end of its stdin closes). A count
        under way is cut short (a run that stops early, Ctrl-C: nobody waits for it)."""
        self._closing = True
        if not self._lock.acquire(blocking=False):  # counting now: end the child, the count returns
            child = self._child
            if child is not None:
                child.kill()
            self._lock.acquire()
        try:
            self._stop()
        finally:
            self._lock.release()


def _serve(spec: str) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the parent's to handle; EOF ends this
    from glyph_cli.tokens.text import get_tokenizer

    tokenizer = get_tokenizer(spec)
    tokenizer.count("x")  # built now, while the parent sets itself up
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = requests.read(_LEN.size)
        if len(head) < _LEN.size:
            return 0
        (size,) = _LEN.unpack(head)
        data = requests.read(size)
        if len(data) < size:
            return 0
        try:
            n = tokenizer.count(data.decode("utf-8", "surrogatepass"))
        except Exception:  # noqa: BLE001 - the parent counts again itself and reports the error
            n = -1
        answers.write(_LEN.pack(n))
        answers.flush()


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1]))
