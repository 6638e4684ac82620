"""Real English prose available offline on every machine: the Python documentation that ships with
the interpreter (pydoc topics and stdlib docstrings), as JSONL documents, deterministic."""

from __future__ import annotations

import importlib
import inspect

MODULES = ["argparse", "asyncio", "collections", "concurrent.futures", "contextlib", "csv", "dataclasses",
           "datetime", "decimal", "email", "enum", "functools", "http.client", "http.server", "inspect", "io",
           "itertools", "json", "logging", "multiprocessing", "os", "pathlib", "pickle", "re", "shutil",
           "socket", "sqlite3", "statistics", "string", "subprocess", "tarfile", "tempfile", "textwrap",
           "threading", "typing", "unittest", "urllib.request", "uuid", "xml.etree.ElementTree", "zipfile",
           "ast", "calendar", "cmd", "configparser", "copy", "difflib", "doctest", "ftplib", "gettext", "glob",
           "gzip", "hashlib", "heapq", "imaplib", "ipaddress", "locale", "mailbox", "mimetypes", "numbers",
           "optparse", "pdb", "platform", "pprint", "queue", "random", "sched", "selectors", "shlex", "smtplib",
           "ssl", "struct", "tokenize", "trace", "traceback", "turtle", "types", "warnings", "weakref",
           "xml.dom.minidom", "zoneinfo", "codecs", "bisect", "fractions", "getopt", "netrc", "pydoc", "sysconfig",
           "html.parser", "email.message", "email.utils", "unittest.mock", "urllib.parse", "logging.handlers"]


def _docstrings(module_name: str) -> str:
    mod = importlib.import_module(module_name)
    parts = [inspect.getdoc(mod) or ""]
    for name, obj in sorted(vars(mod).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
            continue
        doc = inspect.getdoc(obj)
        if doc:
            parts.append(f"{name}\n\n{doc}")
    return "\n\n".join(p for p in parts if p)


def prose_documents(target_chars: int = 1_000_000) -> list[dict]:
    import pydoc_data.topics

    docs = [{"id": f"topic/{k}", "text": v} for k, v in sorted(pydoc_data.topics.topics.items())]
    docs += [{"id": f"module/{m}", "text": _docstrings(m)} for m in MODULES]
    out, total = [], 0
    for d in docs:
        if total >= target_chars:
            break
        text = d["text"][: target_chars - total]
        out.append({"id": d["id"], "text": text})
        total += len(text)
    return out


if __name__ == "__main__":
    import sys

    import orjson

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    for d in prose_documents(n):
        sys.stdout.buffer.write(orjson.dumps(d) + b"\n")
