"""The sharded writer layer: rows -> zero-padded shards in a directory, resumable.

Every shard is written under a temporary name and renamed when whole. After each shard the
manifest (`_manifest.json`: the recorded parameters and the finished shards) is rewritten
atomically; `_SUCCESS` is written last, once every shard is. A rerun into the same directory skips
the shards the manifest lists as finished (file present, same size) when the recorded parameters
match, and refuses when they differ (overwrite=True starts over). Memory holds one row group.
`write(rows, on_complete=...)` lets a caller add its own files (the training set's manifest) after
the last shard and before `_SUCCESS`, or refuse the result by raising, so no marker is written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import orjson

from glyph_cli import __version__, log
from glyph_cli.errors import ConfigError
from glyph_cli.streams.io import ensure_dir, write_bytes_atomic

MANIFEST = "_manifest.json"
SUCCESS = "_SUCCESS"


class ShardFile(ABC):
    """One shard being written to a temporary path."""

    @abstractmethod
    def add(self, row: dict) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


@dataclass
class ShardFormat:
    name: str
    suffix: str  # "" for a directory shard
    open: Callable[[Path], ShardFile]


@dataclass
class ExportResult:
    shards: int = 0
    skipped: int = 0  # shards already finished by an earlier run
    rows: int = 0
    bytes: int = 0
    names: list[str] = field(default_factory=list)


def shard_name(fmt: ShardFormat, number: int) -> str:
    return f"part-{number:05d}{fmt.suffix}"


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class ShardedWriter:
    """Rows into shards of `shard_rows` rows each. `params` are recorded and compared on a rerun;
    `resumable=False` (input from a pipe, which cannot be compared) always starts over."""

    def __init__(self, directory: str | os.PathLike, fmt: ShardFormat, params: dict, *, shard_rows: int = 1000,
                 overwrite: bool = False, resumable: bool = True):
        if shard_rows < 1:
            raise ConfigError(f"shard size must be at least 1 row, got {shard_rows}")
        self.directory = ensure_dir(directory)
        self.fmt = fmt
        self.shard_rows = shard_rows
        self.params = {"format": fmt.name, "shard_rows": shard_rows, "glyph": __version__, **params}
        self.finished: list[dict] = []
        self._reusable: dict[str, int] = {}
        self._plan(overwrite, resumable)

    def _plan(self, overwrite: bool, resumable: bool) -> None:
        path = self.directory / MANIFEST
        if not path.exists():
            return
        try:
            old = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            old = {}
        same = resumable and old.get("params") == self.params
        if not same and not overwrite:
            raise ConfigError(f"{self.directory} holds an export made with other parameters (or from a pipe)",
                              "export into a new directory, or pass --overwrite to start over")
        if not same:
            for shard in old.get("shards", []):
                _remove(self.directory / shard["name"])
            _remove(self.directory / SUCCESS)
            _remove(path)
            return
        for shard in old.get("shards", []):
            target = self.directory / shard["name"]
            if target.exists() and _size(target) == shard.get("bytes"):
                self._reusable[shard["name"]] = shard["rows"]

    def _save_manifest(self) -> None:
        write_bytes_atomic(self.directory / MANIFEST, orjson.dumps(
            {"params": self.params, "shards": self.finished}, option=orjson.OPT_INDENT_2) + b"\n")

    def write(self, rows: Iterable[dict], on_complete: Callable[[ExportResult], None] | None = None) -> ExportResult:
        result = ExportResult()
        number, pending, current, tmp = 0, 0, None, None
        _remove(self.directory / SUCCESS)

        def finish_shard() -> None:
            nonlocal current, tmp
            name = shard_name(self.fmt, number)
            if current is not None:
                current.close()
                target = self.directory / name
                _remove(target)
                os.replace(tmp, target)
                current = tmp = None
            size = _size(self.directory / name)
            self.finished.append({"name": name, "rows": pending, "bytes": size})
            self._save_manifest()
            result.shards += 1
            result.rows += pending
            result.bytes += size
            result.names.append(name)

        try:
            for row in rows:
                name = shard_name(self.fmt, number)
                reused = self._reusable.get(name)
                if reused is None and current is None:
                    tmp = self.directory / f".{name}.part"
                    _remove(tmp)
                    current = self.fmt.open(tmp)
                if current is not None:
                    current.add(row)
                pending += 1
                if pending == self.shard_rows:
                    if reused is not None:
                        result.skipped += 1
                        log.info(f"{self.directory / name}: finished by an earlier run with the same parameters; skipped")
                    finish_shard()
                    number, pending = number + 1, 0
            if pending:
                reused = self._reusable.get(shard_name(self.fmt, number))
                if reused == pending:
                    result.skipped += 1
                    log.info(f"{self.directory / shard_name(self.fmt, number)}: finished by an earlier run "
                             "with the same parameters; skipped")
                elif reused is not None:  # the last shard was short then; this input has more rows
                    raise ConfigError(f"{self.directory}: shard {number} holds {reused} rows, the input {pending}",
                                      "the input changed; pass --overwrite to start over")
                finish_shard()
        except BaseException:
            if current is not None:
                with contextlib.suppress(Exception):
                    current.close()
                _remove(tmp)
            raise
        if on_complete is not None:
            on_complete(result)
        write_bytes_atomic(self.directory / SUCCESS, orjson.dumps(
            {"params": self.params, "shards": result.shards, "rows": result.rows}) + b"\n")
        return result
