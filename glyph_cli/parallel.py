"""Ordered, bounded parallel map over processes: output order is input order, and at most
`window` items are in flight, so a 200 MB input never sits in a queue."""

from __future__ import annotations

import collections
import concurrent.futures as cf
import multiprocessing
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(func: Callable[[T], R], items: Iterable[T], workers: int,
                initializer: Callable | None = None, initargs: tuple = (), window: int | None = None
                ) -> Iterator[R]:
    if workers <= 1:
        if initializer:
            initializer(*initargs)
        yield from map(func, items)
        return
    window = window or workers * 2
    ctx = multiprocessing.get_context("forkserver")
    with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=initializer, initargs=initargs) as pool:
        pending: collections.deque = collections.deque()
        try:
            for item in items:
                pending.append(pool.submit(func, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()
