import pytest

from glyph_cli.typeset.text import prepare


def _map(p):
    return [p.to_source(i) for i in range(len(p.display) + 1)]


def test_plain_text_is_identity():
    p = prepare("hello world", newline="marker", marker_text=" \\n ", tab_width=4)
    assert p.display == "hello world"
    assert _map(p) == list(range(12))


def test_cleanup_and_exact_map_back_to_source():
    src = "ab\r\ncd\tx\u00ady\n"
    p = prepare(src, newline="marker", marker_text=" \\n ", tab_width=4)
    assert p.display == "ab \\n cd    xy \\n "
    assert p.markers == [2, 14]
    assert _map(p) == [0, 1, 2, 2, 2, 2, 4, 5, 6, 6, 6, 6, 7, 9, 10, 10, 10, 10, 11]


@pytest.mark.parametrize("brk", ["\r\n", "\r", "\n", "\v", "\f", "\x85", "\u2028", "\u2029"])
def test_every_line_break_kind_is_a_newline(brk):
    p = prepare(f"a{brk}b", newline="break", marker_text="", tab_width=4)
    assert p.display == "a\nb"
    assert p.to_source(2) == 1 + len(brk)


def test_invisible_and_control_characters_are_not_drawn_but_kept_in_spans():
    src = "\ufeffa\u200bb\x00c\x7fd\x9be"
    p = prepare(src, newline="break", marker_text="", tab_width=4)
    assert p.display == "abcde"
    assert [p.to_source(i) for i in range(5)] == [1, 3, 5, 7, 9]
    assert p.to_source(5) == len(src)


def test_runs_of_spaces_are_kept():
    assert prepare("a   b", newline="break", marker_text="", tab_width=4).display == "a   b"
