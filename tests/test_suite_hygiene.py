"""Tests that can fail: the suite is scanned (ast) for three ways a test stops testing.

- `importorskip` of glyph's own modules: a broken import of glyph would skip, not fail;
- wall-clock assertions (a measured duration compared with a bound): a loaded CI machine breaks them,
  and they belong in benchmarks/; a deadline that only bounds a polling loop is not one;
- unused fixtures: one defined and requested nowhere, or one a test requests and never uses.

Each finding names file:line.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

TESTS = Path(__file__).resolve().parent

CLOCKS = {"time", "perf_counter", "monotonic", "time_ns", "perf_counter_ns", "monotonic_ns"}
# pytest's fixtures that hand the test a value (a test that asks for one and ignores it wastes it)
VALUE_FIXTURES = {"tmp_path", "tmpdir", "tmp_path_factory", "capsys", "capfd", "capsysbinary", "capfdbinary",
                  "caplog", "monkeypatch", "request", "recwarn"}


def _sources(folder: Path) -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(folder.glob("*.py"))}


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.name}:{node.lineno}"


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute):
            return func.attr
        if isinstance(func, ast.Name):
            return func.id
    return None


# -- importorskip -------------------------------------------------------------------------------------


def importorskip_of_glyph(sources: dict[Path, ast.Module]) -> list[str]:
    found = []
    for path, tree in sources.items():
        for node in ast.walk(tree):
            if _call_name(node) == "importorskip" and node.args and isinstance(node.args[0], ast.Constant):
                name = str(node.args[0].value)
                if name == "glyph_cli" or name.startswith("glyph_cli."):
                    found.append(f"{_where(path, node)}: importorskip({name!r}) of glyph's own module")
    return found


# -- wall-clock assertions ----------------------------------------------------------------------------


def _is_clock(node: ast.AST) -> bool:
    """A reading of the wall clock: time.time(), time.perf_counter(), monotonic(), ..."""
    return _call_name(node) in CLOCKS and not (isinstance(node.func, ast.Attribute)
                                               and isinstance(node.func.value, ast.Name)
                                               and node.func.value.id not in ("time",))


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _measures(node: ast.AST, timed: set[str], timing_functions) -> bool:
    """Whether `node` holds a measured duration: a clock reading minus something (or the reverse),
    a name holding one, or a call of a helper that returns one."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Sub) and (_is_clock(sub.left) or _is_clock(sub.right)):
            return True
        if isinstance(sub, ast.Name) and sub.id in timed:
            return True
        if _call_name(sub) in timing_functions:
            return True
    return False


def _targets(node: ast.AST) -> set[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _functions(tree: ast.Module):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _timing_functions(sources: dict[Path, ast.Module]) -> dict[str, set[int] | None]:
    """Helpers that return a duration: name -> the positions of the returned tuple that hold one
    (`return recs, time.monotonic() - start`: {1}), or None when the whole value is one."""
    timing: dict[str, set[int] | None] = {}
    for tree in sources.values():
        for fn in _functions(tree):
            for node in ast.walk(fn):
                if not (isinstance(node, ast.Return) and node.value is not None and _measures(node.value, set(), {})):
                    continue
                if isinstance(node.value, ast.Tuple):
                    positions = {i for i, e in enumerate(node.value.elts) if _measures(e, set(), {})}
                    timing[fn.name] = positions if timing.get(fn.name, set()) is not None else None
                else:
                    timing[fn.name] = None
    return timing


def _timed_targets(node: ast.AST, timing: dict[str, set[int] | None]) -> set[str]:
    """The names an assignment of a timing helper's tuple binds to a duration."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    positions = timing.get(_call_name(node.value)) if isinstance(node.value, ast.Call) else None
    if positions is not None and len(targets) == 1 and isinstance(targets[0], ast.Tuple):
        return {e.id for i, e in enumerate(targets[0].elts) if i in positions and isinstance(e, ast.Name)}
    return _targets(node)


def wall_clock_assertions(sources: dict[Path, ast.Module]) -> list[str]:
    timing = _timing_functions(sources)
    found = []
    for path, tree in sources.items():
        for fn in _functions(tree):
            timed: set[str] = set()
            body = sorted((n for n in ast.walk(fn) if hasattr(n, "lineno")), key=lambda n: (n.lineno, n.col_offset))
            for node in body:
                if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value is not None:
                    if _measures(node.value, timed, timing):
                        timed |= _timed_targets(node, timing)
                elif isinstance(node, ast.Assert) and _measures(node.test, timed, timing):
                    found.append(f"{_where(path, node)}: asserts on a measured duration (a loaded machine breaks it)")
    return found


# -- unused fixtures ----------------------------------------------------------------------------------


def _fixture_decorator(fn: ast.AST) -> ast.AST | None:
    for dec in getattr(fn, "decorator_list", []):
        target = dec.func if isinstance(dec, ast.Call) else dec
        if (isinstance(target, ast.Attribute) and target.attr == "fixture") or \
                (isinstance(target, ast.Name) and target.id == "fixture"):
            return dec
    return None


def _autouse(dec: ast.AST) -> bool:
    return isinstance(dec, ast.Call) and any(k.arg == "autouse" and isinstance(k.value, ast.Constant) and k.value.value
                                             for k in dec.keywords)


def _parametrized(fn: ast.AST) -> set[str]:
    names: set[str] = set()
    for dec in fn.decorator_list:
        if isinstance(dec, ast.Call) and _call_name(dec) == "parametrize" and dec.args:
            first = dec.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names |= {n.strip() for n in first.value.split(",")}
            elif isinstance(first, (ast.Tuple, ast.List)):
                names |= {e.value for e in first.elts if isinstance(e, ast.Constant)}
    return names


def _params(fn: ast.AST) -> list[ast.arg]:
    return [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]


def unused_fixtures(sources: dict[Path, ast.Module]) -> list[str]:
    defined: dict[str, tuple[Path, ast.AST, bool]] = {}
    requested: set[str] = set()
    for path, tree in sources.items():
        for fn in _functions(tree):
            dec = _fixture_decorator(fn)
            if dec is not None:
                defined[fn.name] = (path, fn, _autouse(dec))
            requested |= {a.arg for a in _params(fn)}
        for node in ast.walk(tree):  # usefixtures("x"), request.getfixturevalue("x")
            if _call_name(node) in ("usefixtures", "getfixturevalue"):
                requested |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    found = [f"{_where(path, fn)}: fixture {name!r} is defined and requested nowhere"
             for name, (path, fn, autouse) in sorted(defined.items()) if not autouse and name not in requested]
    fixtures = set(defined) | VALUE_FIXTURES
    for path, tree in sources.items():
        for fn in _functions(tree):
            if not fn.name.startswith("test") and _fixture_decorator(fn) is None:
                continue
            used = set().union(*(_names(stmt) for stmt in fn.body)) if fn.body else set()
            for arg in _params(fn):
                if arg.arg in fixtures and arg.arg not in _parametrized(fn) and arg.arg not in used:
                    found.append(f"{_where(path, arg)}: {fn.name} requests fixture {arg.arg!r} and never uses it "
                                 "(for its side effect only: @pytest.mark.usefixtures)")
    return found


# -- the suite, and the scanner on planted faults ------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _suite() -> dict[Path, ast.Module]:
    return _sources(TESTS)


def test_no_importorskip_of_glyph_modules():
    assert importorskip_of_glyph(_suite()) == []


def test_no_wall_clock_assertions():
    assert wall_clock_assertions(_suite()) == []


def test_no_unused_fixtures():
    assert unused_fixtures(_suite()) == []


PLANTED = '''
import time
import pytest

bundle = pytest.importorskip("glyph_cli.bundle")
ray = pytest.importorskip("ray")


@pytest.fixture
def never():
    return 1


@pytest.fixture
def used():
    return 2


@pytest.fixture(autouse=True)
def automatic():
    yield


def timed_run():
    start = time.monotonic()
    return 1, time.monotonic() - start


def test_fast(used, tmp_path):
    start = time.perf_counter()
    assert used == 2
    elapsed = time.perf_counter() - start
    took = elapsed * 1000
    assert took < 5
    assert time.time() - start < 1
    count, seconds = timed_run()
    assert count == 1
    assert seconds < 2


def test_polls_with_a_deadline(monkeypatch):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert deadline > 0 and time.monotonic() < deadline
        break
    monkeypatch.setenv("X", "1")


@pytest.mark.parametrize("tmp_path", [1])
def test_parametrized(tmp_path):
    pass
'''


def test_the_scanner_finds_planted_faults(tmp_path):
    (tmp_path / "test_planted.py").write_text(PLANTED)
    sources = _sources(tmp_path)
    assert importorskip_of_glyph(sources) == ["test_planted.py:5: importorskip('glyph_cli.bundle') of glyph's own module"]
    clock = wall_clock_assertions(sources)
    assert [c.split(":")[1] for c in clock] == ["34", "35", "38"], clock  # the deadline of a polling loop is not one
    unused = unused_fixtures(sources)
    assert [u.split(":")[1] for u in unused] == ["10", "29"], unused  # `never`; test_fast's tmp_path
    assert "'never' is defined and requested nowhere" in unused[0] and "'tmp_path'" in unused[1]
