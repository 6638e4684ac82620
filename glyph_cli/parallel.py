"""One bounded parallel map for all of glyph: output in input order (or as finished, `ordered=False`),
and at most `window` items in flight or waiting to be emitted, so a 200 MB input never sits in a queue.

Threads for work that releases the GIL (zlib, zstd, sha256, numpy: the bundle; HTTP requests: the
openai backend), processes for work that does not (typesetting). Items are pulled by a feeder thread,
so a result is emitted as soon as it is ready even while the next item is slow to come (a pipe).
`daemon=True` threads do not hold the process at exit: Ctrl-C ends it without waiting for the
requests still out. Without it, closing the map waits for the items already running.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_FED, _BROKEN = object(), object()  # the feeder's last words: all items fed; the items raised


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, *, processes: bool = False,
                initializer: Callable | None = None, initargs: tuple = (), window: int | None = None,
                ordered: bool = True, daemon: bool = False) -> Iterator[R]:
    """fn over items on `workers` threads (or processes); results in input order unless not `ordered`.

    An exception `fn` raises comes out in that item's place (the run stops there, as it would
    without workers); an error raised by `items` comes out after the results of the items before it.
    """
    if workers <= 1:
        if initializer:
            initializer(*initargs)
        for item in items:
            yield fn(item)
        return
    window = window or 2 * workers
    pool = None
    if processes:
        import concurrent.futures as cf
        import multiprocessing

        from glyph_cli.interrupts import start_forkserver

        start_forkserver()
        pool = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                                      initializer=initializer, initargs=initargs)

        def call(item):
            return pool.submit(fn, item).result()
    else:
        call = fn
    todo: queue.Queue = queue.Queue()
    done: queue.Queue = queue.Queue()
    slots = threading.Semaphore(window)
    stop = threading.Event()
    fed = [0]

    def feed() -> None:
        source = iter(items)
        try:
            while True:
                while not slots.acquire(timeout=0.1):  # a slot first: at most `window` items pulled ahead
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                try:
                    item = next(source)
                except StopIteration:
                    return
                todo.put((fed[0], item))
                fed[0] += 1
        except BaseException as exc:  # the input failed: the consumer re-raises it in order
            done.put((_BROKEN, exc, False))
        finally:
            for _ in range(workers):
                todo.put(None)
            done.put((_FED, None, False))

    def work() -> None:
        if initializer and not processes:
            initializer(*initargs)
        while (task := todo.get()) is not None and not stop.is_set():
            seq, item = task
            try:
                done.put((seq, call(item), False))
            except BaseException as exc:  # raised in the consumer, in this item's place
                done.put((seq, exc, True))

    # the feeder may block inside `items` (a pipe), so it never holds the process at exit
    threading.Thread(target=feed, name="glyph-feed", daemon=True).start()
    threads = [threading.Thread(target=work, name=f"glyph-{i}", daemon=daemon) for i in range(workers)]
    for t in threads:
        t.start()
    held: dict[int, tuple] = {}
    emitted, total, failure = 0, None, None
    try:
        while total is None or emitted < total:
            seq, value, raised = done.get()
            if seq is _FED:
                total = fed[0]
                continue
            if seq is _BROKEN:
                failure = value  # raised once the items fed before it are out
                continue
            if not ordered:
                held[emitted] = (value, raised)
            else:
                held[seq] = (value, raised)
            while emitted in held:
                value, raised = held.pop(emitted)
                emitted += 1
                slots.release()
                if raised:
                    raise value
                yield value
        if failure is not None:
            raise failure
    finally:
        stop.set()
        for _ in range(workers):
            todo.put(None)
        if not daemon:
            for t in threads:
                t.join()
        if pool is not None:
            pool.shutdown(wait=not daemon, cancel_futures=True)
