"""`glyph bench ...` through the real entry point."""

from __future__ import annotations

import json

import pytest



def _jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def test_ruler_tasks_hit_the_length_in_qwen_tokens_and_repeat_exactly(glyph):
    from glyph_cli.bench.tasks import task_from_record
    from glyph_cli.tokens.text import get_tokenizer

    args = ("bench", "tasks", "ruler", "-t", "niah_single_1,niah_multikey_2,vt,cwe,fwe", "-l", "4k", "-n", "2",
            "--seed", "3")
    first = glyph(*args, check=True)
    records = _jsonl(first.stdout)
    # the same seed gives the same task in another process
    from glyph_cli.bench.tasks import ruler

    again = ruler.generate("vt", 4096, get_tokenizer("qwen2.5").count, seed=3, index=1).to_record("qwen2.5")
    assert json.loads(json.dumps(again)) == next(r for r in records if r["id"] == "ruler-vt-4096-0001")
    assert len(records) == 10 and records[0]["tokenizer"] == "qwen2.5"
    count = get_tokenizer("qwen2.5").count
    for rec in records:
        task = task_from_record(rec)
        length = count(task.prompt_text() + task.answer_prefix) + task.max_new_tokens
        assert length == rec["length"] and 0.98 * 4096 <= length <= 4096, rec["id"]
    assert b"wrote 10 ruler task(s)" in first.stderr


def test_task_records_render_as_documents(glyph):
    tasks = glyph("bench", "tasks", "ruler", "-t", "vt", "-l", "1500", check=True).stdout
    rendered = _jsonl(glyph("render", "-", input=tasks, check=True).stdout)
    doc = rendered[0]
    assert doc["type"] == "doc" and doc["id"] == "ruler-vt-1500-0000"
    assert doc["meta"]["metric"] == "string_match_all" and doc["meta"]["question"].startswith("\nQuestion:")


def test_compression_jsonl_rows_summaries_and_direction(glyph):
    out = _jsonl(glyph("bench", "compression", "--dpi", "72,120", "--format", "jsonl", check=True).stdout)
    assert [r["type"] for r in out] == ["provenance", "compression", "compression", "summary", "summary"]
    prov = out[0]
    assert prov["parameters"]["tokenizer"] == "qwen2.5" and prov["glyph"] and prov["machine"]["cpu"]
    low, high = out[3], out[4]
    assert (low["variant"], high["variant"]) == ("glyph@72dpi", "glyph@120dpi")
    assert low["compression"]["glm4v"]["mean"] > high["compression"]["glm4v"]["mean"]
    row = out[1]
    assert row["compression"]["glm4v"] == pytest.approx(row["text_tokens"] / row["visual_tokens"]["glm4v"], abs=1e-3)


def test_compression_markdown_table_on_stdout(glyph, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "a", "text": "short text " * 50}) + "\n"
                    + json.dumps({"id": "b", "text": "a longer text " * 800}) + "\n")
    proc = glyph("bench", "compression", str(docs), "-p", "dpi72", "-p", "dpi96", check=True)
    table = proc.stdout.decode()
    assert table.startswith("| variant | dpi | docs | pages |")
    assert "| dpi72 | 72 | 2 |" in table and "| dpi96 | 96 | 2 |" in table


def test_compression_reads_documents_page_streams_and_bundles_alike(glyph, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "a", "text": "short text " * 50}) + "\n"
                    + json.dumps({"id": "b", "text": "a longer text " * 800}) + "\n")
    stream = tmp_path / "pages.jsonl"
    stream.write_bytes(glyph("render", str(docs), check=True).stdout)
    bundle = tmp_path / "docs.glyph"
    glyph("pack", str(stream), "-o", str(bundle), check=True)
    rows = {}
    for name in (docs, stream, bundle):
        out = _jsonl(glyph("bench", "compression", str(name), "--format", "jsonl", check=True).stdout)
        rows[name.name] = [(r["doc"], r["text_tokens"], r["visual_tokens"]) for r in out if r["type"] == "compression"]
    assert len(rows["docs.jsonl"]) == 2
    assert rows["docs.jsonl"] == rows["pages.jsonl"] == rows["docs.glyph"]


@pytest.mark.slow
def test_compression_with_tesseract_report(glyph, tmp_path):
    import shutil

    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed")
    report = tmp_path / "report"
    glyph("bench", "compression", "--dpi", "72,120", "--reader", "tesseract", "--report", str(report), check=True)
    names = sorted(p.name for p in report.iterdir())
    assert names == ["compression_vs_dpi.png", "compression_vs_length.png", "readability_vs_compression.png",
                     "results.jsonl", "table.md"]
    summaries = [r for r in _jsonl((report / "results.jsonl").read_bytes()) if r["type"] == "summary"]
    low, high = summaries
    # the trade-off: fewer dots per inch, more compression, fewer characters read right
    assert low["compression"]["glm4v"]["mean"] > high["compression"]["glm4v"]["mean"]
    assert low["ocr"]["cer"] > high["ocr"]["cer"]
    assert (report / "compression_vs_dpi.png").read_bytes().startswith(b"\x89PNG")
    # the report says what made it: the provenance line first in results, its summary atop the table
    first = _jsonl((report / "results.jsonl").read_bytes())[0]
    assert first["type"] == "provenance" and first["parameters"]["reader"]["name"] == "tesseract"
    assert (report / "table.md").read_text().startswith("- benchmark: compression; glyph ")


def test_speed_table(glyph):
    out = glyph("bench", "speed", "--rounds", "1", "--format", "jsonl", check=True).stdout
    rows = _jsonl(out)
    assert rows[0]["type"] == "provenance" and rows[1]["type"] == "render_speed"
    assert {"model", "server", "protocol", "time_utc", "glyph"} <= set(rows[0])
    assert rows[1]["pages"] >= 1 and rows[1]["pages_per_s"] > 0
    assert rows[1]["pack_pages_per_s"] > 0 and rows[1]["unpack_pages_per_s"] > 0
    assert 0 < rows[1]["bundle_kb_per_page"] < rows[1]["png_mb"] * 1000 / rows[1]["pages"] + 4


def test_usage_errors_exit_2(glyph):
    proc = glyph("bench", "tasks", "ruler", "-t", "vt")
    assert proc.returncode == 2 and b"--length" in proc.stderr
    assert glyph("bench", "compression", "--dpi", "seventy").returncode == 2
    proc = glyph("bench", "tasks", "mrcr")
    assert proc.returncode == 2 and b"local copy" in proc.stderr


def test_compression_vs_dpi_plot_panels_series_and_legend(tmp_path, monkeypatch):
    from glyph_cli.bench import report

    families = {"glm4v": 2.0, "qwen2vl": 2.0, "deepseek-ocr-tiny": 16.0}
    summaries = [{"variant": f"{base}@{dpi}dpi", "dpi": dpi,
                  "compression": {f: {"mean": v * 72 / dpi, "min": v * 60 / dpi, "max": v * 80 / dpi}
                                  for f, v in families.items()}}
                 for base in ("glyph", "dpi96") for dpi in (72, 96, 120)]  # the two bases: equal values
    figures = []
    monkeypatch.setattr(report, "_save", lambda plt, fig, path: figures.append(fig))
    report.compression_vs_dpi(report._pyplot(), summaries, tmp_path / "x.png")
    fig = figures[0]
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == list(families)  # one panel per family
    assert {ax.get_yscale() for ax in panels} == {"log"} and len({ax.get_ylim() for ax in panels}) == 1
    for ax in panels:
        # the series, not the error-bar caps or the line at 1
        series = [line for line in ax.get_lines() if line.get_linestyle() != "None" and len(line.get_xdata()) == 3]
        assert len(series) == 2
        (a, b) = (list(line.get_xdata()) for line in series)
        assert all(x != y for x, y in zip(a, b))  # nudged apart: neither hides the other
        assert series[0].get_marker() != series[1].get_marker()
        assert ax.get_legend() is None  # the legend is the figure's, below the panels
    assert len(fig.legends) == 1
