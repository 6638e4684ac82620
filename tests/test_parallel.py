import pytest

from glyph_cli.parallel import ordered_map


def square(x: int) -> int:
    return x * x


def failing_input(n: int):
    yield from range(n)
    raise ValueError("input broke")


@pytest.mark.parametrize("processes", [False, True])
def test_results_come_in_input_order(processes):
    assert list(ordered_map(square, range(40), 2, processes=processes)) == [x * x for x in range(40)]


@pytest.mark.parametrize("processes", [False, True])
def test_an_input_error_comes_after_the_results_before_it(processes):
    out = []
    with pytest.raises(ValueError, match="input broke"):
        for r in ordered_map(square, failing_input(7), 2, processes=processes):
            out.append(r)
    assert out == [x * x for x in range(7)]


def test_input_is_pulled_lazily_within_the_window():
    pulled = []

    def items():
        for i in range(1000):
            pulled.append(i)
            yield i

    results = ordered_map(square, items(), 2)
    assert next(results) == 0
    assert len(pulled) <= 2 * 2 + 1
    results.close()
