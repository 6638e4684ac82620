"""A benchmark report folder: the results JSONL, the Markdown tables, and PNG plots (matplotlib)."""

from __future__ import annotations

import io
from pathlib import Path

from glyph_cli.errors import UsageError
from glyph_cli.streams.io import dumps, ensure_dir, write_bytes_atomic


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise UsageError("--report draws plots with matplotlib, which is not installed",
                         "pip install 'glyph-cli[bench]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> None:
    """Write the figure (atomically) and free it."""
    buf = io.BytesIO()
    # No timestamp in the PNG, so the same results give the same bytes.
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())


def _base(label: str) -> str:
    return label.split("@", 1)[0]


def compression_vs_dpi(plt, summaries: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    families = list(summaries[0]["compression"])
    for base in dict.fromkeys(_base(s["variant"]) for s in summaries):
        mine = sorted((s for s in summaries if _base(s["variant"]) == base), key=lambda s: s["dpi"])
        for family in families:
            stats = [s["compression"][family] for s in mine]
            if any(st["mean"] is None for st in stats):
                continue
            dpis = [s["dpi"] for s in mine]
            means = [st["mean"] for st in stats]
            spread = [[m - st["min"] for m, st in zip(means, stats)], [st["max"] - m for m, st in zip(means, stats)]]
            label = family if len({_base(s["variant"]) for s in summaries}) == 1 else f"{base} {family}"
            ax.errorbar(dpis, means, yerr=spread, marker="o", capsize=3, label=label)
    ax.set_xlabel("dpi")
    ax.set_ylabel("compression (text tokens / visual tokens)")
    ax.set_title("Compression vs dpi (mean over documents, bars: min-max)")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(plt, fig, path)


def compression_vs_length(plt, rows: list[dict], family: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == label and r["compression"].get(family) is not None]
        ax.scatter([r["text_tokens"] for r in mine], [r["compression"][family] for r in mine], s=18, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("document length (text tokens)")
    ax.set_ylabel(f"compression ({family})")
    ax.set_title("Compression vs document length")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(plt, fig, path)


def readability_tradeoff(plt, summaries: list[dict], family: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    points = [(s["compression"][family]["mean"], s["ocr"]["char_accuracy"], s) for s in summaries
              if "ocr" in s and s["compression"][family]["mean"] is not None]
    points.sort(key=lambda p: p[0])
    ax.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o")
    for x, y, s in points:
        ax.annotate(f"{s['dpi']:g} dpi", (x, 100 * y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    reader = points[0][2]["ocr"]["reader"] if points else "ocr"
    ax.set_xlabel(f"compression ({family})")
    ax.set_ylabel(f"character accuracy, % ({reader})")
    ax.set_title("Readability vs compression")
    ax.grid(alpha=0.3)
    _save(plt, fig, path)


def write_report(folder: str | Path, provenance: dict, rows: list[dict], summaries: list[dict], tables: str,
                 family: str) -> list[Path]:
    """Write the report; returns the files written."""
    plt = _pyplot()
    out = ensure_dir(folder)
    written = []
    results = out / "results.jsonl"
    write_bytes_atomic(results, b"".join(dumps(r) for r in [provenance, *rows, *summaries]))
    written.append(results)
    table = out / "table.md"
    from glyph_cli.bench.provenance import markdown

    write_bytes_atomic(table, (markdown(provenance) + "\n" + tables).encode("utf-8"))
    written.append(table)
    if summaries:
        compression_vs_dpi(plt, summaries, out / "compression_vs_dpi.png")
        compression_vs_length(plt, rows, family, out / "compression_vs_length.png")
        written += [out / "compression_vs_dpi.png", out / "compression_vs_length.png"]
        if any("ocr" in s for s in summaries):
            readability_tradeoff(plt, summaries, family, out / "readability_vs_compression.png")
            written.append(out / "readability_vs_compression.png")
    return written
