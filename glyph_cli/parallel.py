"""Ordered, bounded parallel map: output order is input order, and at most `window` items are in
flight, so a 200 MB input never sits in a queue. Threads for work that releases the GIL (zlib,
zstd, sha256, numpy: the bundle), processes for work that does not (typesetting)."""

from __future__ import annotations

import collections
import concurrent.futures as cf
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, *, processes: bool = False,
                initializer: Callable | None = None, initargs: tuple = (), window: int | None = None) -> Iterator[R]:
    """fn over items on `workers` threads (or processes), results in input order.

    An error raised by `items` comes out after the results of the items before it, as it would
    without workers.
    """
    if workers <= 1:
        if initializer:
            initializer(*initargs)
        for item in items:
            yield fn(item)
        return
    window = window or 2 * workers
    if processes:
        import multiprocessing

        from glyph_cli.interrupts import start_forkserver

        start_forkserver()
        executor: cf.Executor = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                                                       initializer=initializer, initargs=initargs)
    else:
        executor = cf.ThreadPoolExecutor(workers, thread_name_prefix="glyph", initializer=initializer,
                                         initargs=initargs)
    pending: collections.deque = collections.deque()
    source = iter(items)
    try:
        while True:
            try:
                item = next(source)
            except StopIteration:
                break
            except Exception:
                while pending:
                    yield pending.popleft().result()
                raise
            pending.append(executor.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
