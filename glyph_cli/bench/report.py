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


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")


def compression_vs_dpi(plt, summaries: list[dict], path: Path) -> None:
    """Small multiples: one panel per VLM family, all on one shared log axis (ratios from below 1 to
    above 10 stay comparable across families); in a panel one series per preset/config, each with
    its own marker and line style and nudged sideways, so equal values never hide one another; the
    legend below the panels, off the data."""
    import math

    families = list(summaries[0]["compression"])
    bases = list(dict.fromkeys(_base(s["variant"]) for s in summaries))
    dpis = sorted({s["dpi"] for s in summaries})
    span = (dpis[-1] - dpis[0]) if len(dpis) > 1 else 1.0
    step = 0.03 * span  # the sideways nudge between series, in dpi
    cols = min(4, len(families))
    rows = math.ceil(len(families) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols + 0.6, 2.5 * rows + 1.0), sharex=True, sharey=True,
                             squeeze=False)
    handles = {}
    for ax, family in zip(axes.flat, families):
        for i, base in enumerate(bases):
            mine = sorted((s for s in summaries if _base(s["variant"]) == base), key=lambda s: s["dpi"])
            points = [(s["dpi"], s["compression"][family]) for s in mine if s["compression"][family]["mean"] is not None]
            if not points:
                continue
            shift = (i - (len(bases) - 1) / 2) * step
            xs = [d + shift for d, _ in points]
            means = [st["mean"] for _, st in points]
            spread = [[m - st["min"] for m, (_, st) in zip(means, points)],
                      [st["max"] - m for m, (_, st) in zip(means, points)]]
            handles[base] = ax.errorbar(xs, means, yerr=spread, marker=MARKERS[i % len(MARKERS)],
                                        ls=LINESTYLES[i % len(LINESTYLES)], capsize=2.5, ms=5, lw=1.2,
                                        mfc="none" if i % 2 else None, color=f"C{i % 10}", label=base)
        ax.set_title(family, fontsize=9)
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.grid(alpha=0.3, which="both")
    for ax in list(axes.flat)[len(families):]:
        ax.set_visible(False)
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axes[0][0].set_yscale("log")
    axes[0][0].yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes[0][0].yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    axes[0][0].yaxis.set_minor_formatter(NullFormatter())
    axes[0][0].set_xticks(dpis)
    axes[0][0].set_xticklabels([f"{d:g}" for d in dpis])
    for ax in axes[-1]:
        ax.set_xlabel("dpi")
    for row in axes:
        row[0].set_ylabel("text / visual tokens")
    what = "" if len(bases) > 1 else f" of {bases[0]}"
    fig.suptitle(f"Compression{what} vs dpi per VLM family (log scale; mean over documents, bars: min-max)",
                 fontsize=10)
    if len(bases) > 1:
        fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(len(bases), 6),
                   fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.0))
        fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    else:
        fig.tight_layout(rect=(0, 0, 1, 0.95))
    _save(plt, fig, path)


def compression_vs_length(plt, rows: list[dict], family: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == label and r["compression"].get(family) is not None]
        ax.scatter([r["text_tokens"] for r in mine], [r["compression"][family] for r in mine], s=18, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("document length (text tokens)")
    ax.set_ylabel(f"compression ({family}), per document")
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
    ax.set_xlabel(f"compression ({family}), mean over documents")
    ax.set_ylabel(f"character accuracy, % ({reader}), pooled over characters")
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
