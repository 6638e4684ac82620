"""An ordered, bounded thread map: page work (zlib, zstd, sha256, numpy) releases the GIL."""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """fn over items in `workers` threads, results in input order, at most 2 x workers in flight.

    An error raised by `items` comes out after the results of the items before it, as it would
    without threads.
    """
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    from concurrent.futures import ThreadPoolExecutor

    pending: deque = deque()
    source = iter(items)
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glyph-bundle")
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
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
