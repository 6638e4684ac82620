"""glyph_cli.parallel's options beyond the ordered default: unordered output and daemon threads,
as the openai backend uses them (its own copy of the map is gone)."""

from __future__ import annotations

import threading

import pytest

from glyph_cli.parallel import ordered_map


def test_unordered_emits_a_result_as_soon_as_it_is_done():
    release = threading.Event()

    def work(i):
        if i == 0:
            release.wait(30)  # item 0 finishes only after the consumer saw item 1
        return i

    results = ordered_map(work, range(2), 2, ordered=False)
    assert next(results) == 1
    release.set()
    assert list(results) == [0]


def test_an_error_of_fn_comes_in_its_items_place():
    def work(i):
        if i == 3:
            raise KeyError(i)
        return i

    out = []
    with pytest.raises(KeyError):
        for r in ordered_map(work, range(10), 3):
            out.append(r)
    assert out == [0, 1, 2]


@pytest.mark.parametrize("daemon", [False, True])
def test_daemon_threads_and_what_closing_waits_for(daemon):
    seen, release, finished = [], threading.Event(), threading.Event()

    def work(i):
        seen.append(threading.current_thread().daemon)
        if i == 1:
            release.wait(60)
            finished.set()
        return i

    results = ordered_map(work, range(2), 2, daemon=daemon)
    closer = threading.Thread(target=lambda: (next(results), results.close()))
    closer.start()
    if daemon:
        closer.join()  # closing does not wait for item 1, still held by `release` (were it to, this hangs)
        assert not finished.is_set()
    else:
        closer.join(0.5)
        assert closer.is_alive()  # closing waits for the running item (more load only makes it wait longer)
    release.set()
    closer.join()
    assert finished.wait(60) and set(seen) == {daemon}
