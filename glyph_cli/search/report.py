"""What a search found: the front as a table, the best config as a render config file, and plots of
accuracy against compression over the generations."""

from __future__ import annotations

from pathlib import Path

import orjson

from glyph_cli import log
from glyph_cli.search.study import best, generation_of, pareto_front
from glyph_cli.streams.io import dumps, ensure_dir, write_bytes_atomic


def best_config_bytes(row: dict) -> bytes:
    """The config file `glyph render --config` takes: every key resolved, nothing left to a preset."""
    return orjson.dumps(row["config"], option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_best(row: dict, path: str | Path) -> None:
    write_bytes_atomic(path, best_config_bytes(row))


def table(rows: list[dict]) -> str:
    """Markdown: the base config, the best, then the front (most compression first)."""
    head = "| trial | generation | source | accuracy | compression | score | render s | read s | changed from base |"
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    base = next((r for r in rows if r["base"]), None)
    top = best(rows)
    shown: list[tuple[str, dict]] = []
    if base is not None:
        shown.append(("base", base))
    if top is not None:
        shown.append(("best", top))
    shown += [("front", r) for r in pareto_front(rows)]
    for label, r in shown:
        changed = ", ".join(f"{k}={round(v, 4) if isinstance(v, float) else v}" for k, v in r["params"].items()
                            if base is not None and base["params"].get(k) != v) or "-"
        m = r["metrics"]
        lines.append(f"| {r['trial']} ({label}) | {generation_of(r)} | {r['source']} | {r['accuracy']:.4f} | "
                     f"{r['compression']:.3f}x | {r['score']:.4f} | {m.get('render_s', 0):.2f} | "
                     f"{m.get('read_s', 0):.2f} | {changed} |")
    return "\n".join(lines) + "\n"


def summary(rows: list[dict]) -> dict:
    measured = [r for r in rows if r["cached_from"] is None]
    return {"candidates": len(rows), "evaluations": len(measured), "cache_hits": len(rows) - len(measured),
            "render_s": round(sum(r["metrics"].get("render_s", 0) for r in measured), 2),
            "read_s": round(sum(r["metrics"].get("read_s", 0) for r in measured), 2)}


def plots(rows: list[dict], out_dir: Path) -> list[Path]:
    """pareto.png (accuracy vs compression, coloured by generation) and progress.png (per generation)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warn("matplotlib is not installed: the report has no plots (pip install 'glyph-cli[bench]')")
        return []
    written = []
    measured = [r for r in rows if r["cached_from"] is None]
    gens = [generation_of(r) for r in measured]
    fig, ax = plt.subplots(figsize=(7, 5))
    sc = ax.scatter([r["compression"] for r in measured], [r["accuracy"] for r in measured], c=gens,
                    cmap="viridis", s=18)
    front = pareto_front(rows)
    ax.plot([r["compression"] for r in front], [r["accuracy"] for r in front], "r-", lw=1, label="Pareto front")
    for r in measured:
        if r["base"]:
            ax.scatter([r["compression"]], [r["accuracy"]], marker="*", s=160, c="k", label="base config")
    ax.set_xlabel("compression (text tokens / visual tokens)")
    ax.set_ylabel("accuracy")
    fig.colorbar(sc, label="generation")
    ax.legend(loc="lower left")
    fig.tight_layout()
    written.append(_save(fig, out_dir / "pareto.png"))
    by_gen: dict[int, list[dict]] = {}
    for r, g in zip(measured, gens):
        by_gen.setdefault(g, []).append(r)
    order = sorted(by_gen)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(order, [max(r["compression"] for r in by_gen[g]) for g in order], "o-", label="max compression")
    ax2 = ax.twinx()
    ax2.plot(order, [max(r["accuracy"] for r in by_gen[g]) for g in order], "s--", c="C1", label="max accuracy")
    ax.set_xlabel("generation")
    ax.set_ylabel("compression")
    ax2.set_ylabel("accuracy")
    fig.legend(loc="lower right")
    fig.tight_layout()
    written.append(_save(fig, out_dir / "progress.png"))
    return written


def _save(fig, path: Path) -> Path:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())
    return path


def write_report(rows: list[dict], out_dir: str | Path) -> Path:
    out = Path(out_dir)
    ensure_dir(out)
    write_bytes_atomic(out / "trials.jsonl", b"".join(dumps(r) for r in rows))
    write_bytes_atomic(out / "front.jsonl", b"".join(dumps(r) for r in pareto_front(rows)))
    top = best(rows)
    if top is not None:
        write_best(top, out / "best.json")
    s = summary(rows)
    images = plots(rows, out)
    text = ["# glyph search report", "",
            f"{s['candidates']} candidates, {s['evaluations']} evaluated, {s['cache_hits']} cache hits; "
            f"rendering {s['render_s']} s, reading {s['read_s']} s.", "", table(rows)]
    text += [f"![{p.stem}]({p.name})" for p in images]
    write_bytes_atomic(out / "report.md", ("\n".join(text) + "\n").encode())
    return out
