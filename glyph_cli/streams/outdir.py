"""`--out DIR`: a page stream as PNG files plus DIR/index.jsonl (`glyph render --out`, `glyph unpack --out`).

Nothing is lost and nothing looks complete after a failed run:
- every document gets its own folder whose name is collision-free on any file system (`doc_dirname`):
  `a/b` and `a_b` never share one, nor do `Report` and `report` on a case-insensitive one (macOS,
  Windows), nor an NFC and an NFD spelling of one name; two documents with the same id are an error;
- the output is built in a hidden folder next to DIR and put in place only when the run succeeds, so an
  interrupted run leaves DIR as it was, and a rerun never mixes in stale pages of a previous run;
- DIR may be empty or a previous glyph output (it has index.jsonl and only the folders it names);
  anything else is refused rather than deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import unicodedata
import weakref
from pathlib import Path

from glyph_cli.errors import GlyphError, UsageError
from glyph_cli.streams.io import dumps

INDEX = "index.jsonl"
_KEEP = re.compile(r"[a-z0-9_-][a-z0-9._-]{0,79}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
# Names Windows gives to devices, whatever the extension; `index.jsonl` is the folder's own index.
_RESERVED = re.compile(r"(index\.jsonl|(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?)")


def doc_dirname(doc_id: str) -> str:
    """The folder (or file) name of a document id: the id itself when it is a plain lowercase name
    (`[a-z0-9._-]`, at most 80 characters, not starting or ending with `.`, not reserved); otherwise
    its safe form (other characters as `_`, leading dots dropped, cut to 80) plus `-` and 12 hex digits
    of the id's sha1.

    Depends only on the id, so it is stable across runs. Every name is ASCII, so Unicode
    normalisation (macOS stores NFD) cannot merge two, and a name kept as the id has no capitals, so
    ids that differ only in case (`Report`, `report`) get different names under casefold too.
    """
    if _KEEP.fullmatch(doc_id) and not doc_id.endswith(".") and not _RESERVED.fullmatch(doc_id):
        return doc_id
    safe = _UNSAFE.sub("_", doc_id)[:80].lstrip(".") or "_"
    return f"{safe}-{hashlib.sha1(doc_id.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def name_key(name: str) -> str:
    """What a case-insensitive, normalising file system (macOS, Windows) compares file names by."""
    return unicodedata.normalize("NFC", name).casefold()


def _previous_output(directory: Path) -> bool:
    """Whether `directory` is empty or holds only a previous --out run (index.jsonl and its folders)."""
    entries = {p.name for p in directory.iterdir()}
    if not entries:
        return True
    if INDEX not in entries:
        return False
    named: set[str] = set()
    try:
        with open(directory / INDEX, "rb") as fh:
            for raw in fh:
                with contextlib.suppress(ValueError):
                    import orjson

                    rec = orjson.loads(raw)
                    if isinstance(rec, dict) and isinstance(rec.get("file"), str):
                        named.add(rec["file"].split("/", 1)[0])
                    elif isinstance(rec, dict) and rec.get("type") == "doc" and isinstance(rec.get("id"), str):
                        named.add(doc_dirname(rec["id"]))
    except OSError:
        return False
    return entries - {INDEX} <= named


class PageDir:
    """Writes one --out folder. Use as a context manager; `close(ok=True)` puts it in place."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        if self.directory.exists():
            if not self.directory.is_dir():
                raise UsageError(f"{self.directory}: exists and is not a folder")
            if not _previous_output(self.directory):
                raise UsageError(f"{self.directory}: is not empty and is not a previous glyph --out-dir folder",
                                 "name a new or empty folder; glyph replaces only its own output")
        parent = self.directory.resolve().parent
        if not parent.is_dir():
            raise UsageError(f"{self.directory}: folder {parent} does not exist")
        # The stage is made here, not by mkdtemp, so that an interrupt (KeyboardInterrupt: Ctrl-C,
        # SIGTERM) landing anywhere from its mkdir on is inside the try; once made, a finalizer
        # removes it when this object goes without close() putting it in place (an interrupt between
        # this __init__ and the caller's own try, say).
        while True:
            stage = parent / f".{self.directory.name}.{secrets.token_hex(4)}.part"
            try:
                try:
                    os.mkdir(stage)  # the umask applies, as for any new folder
                except FileExistsError:
                    continue
                self._stage = stage
                self._cleanup = weakref.finalize(self, shutil.rmtree, str(stage), True)
                break
            except BaseException:
                shutil.rmtree(stage, ignore_errors=True)
                raise
        self._index = open(self._stage / INDEX, "wb")
        self._names: dict[str, str] = {}  # name_key(folder name) -> id
        self._current: str | None = None
        self._closed = False

    def __enter__(self) -> "PageDir":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(exc_type is None)

    # -- documents --------------------------------------------------------------------------------

    def begin(self, record: dict) -> bytes:
        """A doc record: reserves its folder. Returns its index line (written by `write`)."""
        doc_id = str(record.get("id"))
        name = doc_dirname(doc_id)
        other = self._names.get(name_key(name))
        if other == doc_id:
            raise GlyphError(f"{self.directory}: two documents with the id {doc_id!r}; the second would "
                             "overwrite the first's pages", "give documents unique ids")
        if other is not None:  # only ids made to collide get here: kept names have no capitals
            raise GlyphError(f"{self.directory}: documents {other!r} and {doc_id!r} would share the folder "
                             f"{name!r} on a case-insensitive file system", "rename one of them")
        self._names[name_key(name)] = doc_id
        self._current = name
        return dumps(record)

    def page(self, record: dict, png: bytes) -> bytes:
        """A page record and its PNG: the file is written, the index line returned."""
        name = self._current if self._current is not None else doc_dirname(str(record.get("doc")))
        rel = f"{name}/page-{int(record['index']):05d}.png"
        folder = self._stage / name
        folder.mkdir(exist_ok=True)
        (self._stage / rel).write_bytes(png)
        saved = {key: value for key, value in record.items() if key != "image"}
        saved["file"] = rel
        return dumps(saved)

    def drop(self) -> None:
        """The current document is damaged: its files go, its name is free again."""
        if self._current is not None:
            shutil.rmtree(self._stage / self._current, ignore_errors=True)
            self._names.pop(name_key(self._current), None)
            self._current = None

    def write(self, line: bytes) -> None:
        self._index.write(line)

    # -- the end ----------------------------------------------------------------------------------

    def close(self, ok: bool) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._index.close()
            if ok:
                self._install()
        finally:
            self._cleanup()  # the stage, if it is still there

    def _install(self) -> None:
        old = None
        if self.directory.exists():
            old = self._stage.with_name(self._stage.name + ".old")
            os.rename(self.directory, old)
        try:
            os.rename(self._stage, self.directory)
        except OSError as exc:
            if old is not None:
                os.rename(old, self.directory)
            raise GlyphError(f"{self.directory}: cannot put the output in place: {exc.strerror}") from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
