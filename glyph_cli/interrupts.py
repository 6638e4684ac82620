"""Ctrl-C and kills: SIGINT and SIGTERM alike end a run with exit 130 and its temporary files removed.

The handlers go in first thing in the entry point (glyph_cli/__main__.py), before the app and its
imports, so a signal during start-up is an interrupt like one during the work, not a death by the
signal. A handler raises KeyboardInterrupt, which unwinds through every `with AtomicFile` and
`PageDir` (removing their temporary files) to the app, which exits 130. Stages that must not be
interrupted inside native code (render, training) install their own flag-setting handlers for the
time they run, and end the same way.

What no handler covers: the interpreter's own start-up (up to the first line of glyph_cli/__main__.py:
70-120 ms after exec on a loaded 2-core machine, most of it the bare interpreter's) and its shutdown
after the exit code is decided, where CPython restores the default actions; a signal there ends
the process by that signal (status -15 / -2), with nothing left half-written, since every output is
complete or removed by then.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys

INTERRUPTED = 130

received: int | None = None  # SIGTERM, once it came (a KeyboardInterrupt swallowed on the way still counts)


def _interrupt(signum, frame):
    global received
    received = signum
    raise KeyboardInterrupt


def _now(signum, frame):
    os._exit(INTERRUPTED)  # a signal while exiting: the outputs are settled, so stop at once


def install() -> None:
    """SIGTERM raises KeyboardInterrupt, as SIGINT does already (Python's own handler, which stages
    recognise to put in their own; an ignored SIGINT, as in a background job, stays ignored);
    SIGPIPE gets its default action, so `glyph ... | head` ends quietly."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, _interrupt)


def start_forkserver() -> None:
    """Start multiprocessing's forkserver (if it is not running yet) with SIGINT ignored.

    A Ctrl-C in a terminal goes to the whole process group. Landing in the forkserver, its resource
    tracker or a worker during its own start-up (before it ignores SIGINT), it killed that process
    with a traceback, and the parent, writing to it, could then die by SIGPIPE with its temporary
    files left (tried: 1 run in ~30 at -j 2). An ignored signal stays ignored across exec and fork, so
    started this way none of them ever sees SIGINT: the parent alone handles it and stops them. (A
    blocked mask would not do: the forkserver is started with the mask cleared.) The price: a Ctrl-C
    in the few milliseconds of this call is lost.
    """
    import multiprocessing.forkserver
    import threading

    if threading.current_thread() is not threading.main_thread():
        multiprocessing.forkserver.ensure_running()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def finish(code: int) -> None:
    """End the process with `code`, or 130 if a signal asked it to stop (whatever came of the work)."""
    if received is not None:
        code = INTERRUPTED
    for sig in (signal.SIGTERM, signal.SIGINT):
        if signal.getsignal(sig) not in (signal.SIG_IGN, None):
            signal.signal(sig, _now)
    if code != INTERRUPTED:
        sys.exit(code)
    # Not sys.exit: CPython ends a process by SIGINT (status -2, not 130) once a KeyboardInterrupt has
    # escaped an eval() of a string, even when it was caught later (typer evaluates annotations that
    # way at start-up). So an interrupted run leaves by os._exit, after what sys.exit would have done
    # that matters: flushed streams and the atexit handlers (multiprocessing stops its children there).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    try:
        atexit._run_exitfuncs()
    finally:
        os._exit(INTERRUPTED)
