"""The LLM proposer against a local fake server: valid, out-of-range, invalid and malformed proposals."""

from __future__ import annotations

import json

from glyph_cli.search.proposer import LlmSettings, parse_proposals
from glyph_cli.search.study import candidates, run_search
from tests.search_fake_llm import FakeLlm
from tests.search_synthetic import Synthetic, settings


def _reply(children: list) -> str:
    return "Here you go:\n```json\n" + json.dumps({"children": children}) + "\n```"


def test_parse_proposals_accepts_fenced_bare_and_thinking_replies():
    assert parse_proposals('<think>hm</think>{"children": [{"params": {}}]}') == [{"params": {}}]
    assert parse_proposals('[{"params": {"dpi": 80}}]') == [{"params": {"dpi": 80}}]
    for bad in ("no json here", '{"kids": []}', "```json\n{broken\n```"):
        try:
            parse_proposals(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} parsed")


def test_llm_children_are_validated_snapped_or_replaced(tmp_path, capsys):
    valid = {"op": "mutation", "parents": [0], "params": {"dpi": 96, "font_size": 10.0}}
    out_of_range = {"op": "mutation", "parents": [0], "params": {"dpi": 1000, "font_size": 10.26}}
    partial = {"op": "mutation", "parents": [0], "params": {"dpi": 97}}  # font_size from parent 0
    invalid = {"op": "crossover", "parents": [0, 1], "params": {"dpi": "many", "font_size": 9}}
    not_an_object = "dpi=96"
    first = _reply([valid, out_of_range, partial, invalid, not_an_object, valid])
    with FakeLlm([first, "I cannot help with that."]) as server:
        llm = LlmSettings(server.base_url, retries=0, timeout=10)
        objective = Synthetic()
        study = run_search(settings(tmp_path / "s.journal", 14, proposer="llm", population=6, llm=llm),
                           lambda: objective)
        prompts = list(server.prompts)
    assert len(prompts) == 2  # one request per generation
    assert '"name": "dpi"' in prompts[0] and '"trial": 0' in prompts[0]  # the space and the history
    rows = {r["trial"]: r for r in candidates(study)}
    gen1 = sorted((r for r in rows.values() if r["generation"] == 1), key=lambda r: r["trial"])
    assert [r["source"] for r in gen1] == ["llm", "llm", "llm", "nsga", "nsga", "llm"]
    assert gen1[0]["params"] == {"dpi": 96, "font_size": 10.0}
    assert gen1[1]["params"] == {"dpi": 300, "font_size": 10.5}  # clipped and snapped onto the grid
    assert gen1[2]["params"]["dpi"] == 97 and gen1[2]["params"]["font_size"] == rows[0]["params"]["font_size"]
    assert gen1[5]["cached_from"] == gen1[0]["trial"]  # the repeated proposal was not measured again
    gen2 = [r for r in rows.values() if r["generation"] == 2]
    assert gen2 and all(r["source"] == "nsga" for r in gen2)  # a malformed reply: NSGA-II's own children
    err = capsys.readouterr().err
    assert "LLM proposal 3" in err and "LLM proposal 4" in err and "LLM proposer:" in err
