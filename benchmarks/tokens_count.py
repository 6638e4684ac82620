"""How fast the built-in tokenizer counts long texts, and whether the cost grows linearly.

Prints seconds and MB/s for 1..16 MB of two texts (Python standard-library sources, which are
real prose-and-code on every machine; and seeded mixed English/CJK/emoji text), the ratio of
chunked counting (what glyph does) to one tiktoken call on the whole text, and pathological
inputs with no whitespace at all. Run: `nice python benchmarks/tokens_count.py`.
"""

from __future__ import annotations

import random
import sys
import sysconfig
import tempfile
import time
import unicodedata
from pathlib import Path

from glyph_cli.tokens.text import get_tokenizer

MB = 1 << 20


def stdlib_text(chars: int) -> str:
    parts, total = [], 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if "site-packages" in path.parts:  # installed packages change; the stdlib does not
            continue
        parts.append(path.read_text(encoding="utf-8", errors="replace"))
        total += len(parts[-1])
        if total >= chars:
            break
    return "".join(parts)[:chars]


def mixed_text(chars: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    words = ("the of and to in is that for it as with was on be by this are from at or an "
             "compression visual token page render glyph 你好 世界 文本 压缩 😀 naïve café 2025 3.14").split()
    out, total = [], 0
    while total < chars:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 25))) + "\n"
        out.append(line)
        total += len(line)
    return "".join(out)[:chars]


def trained_tokenizer_json():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=8000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    bpe.train_from_iterator(stdlib_text(2 * MB).splitlines(), trainer)
    directory = Path(tempfile.mkdtemp()) / "bench-bpe"
    directory.mkdir()
    bpe.save(str(directory / "tokenizer.json"))
    return get_tokenizer(str(directory))


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    tok = get_tokenizer("qwen2.5")
    whole = tok._encoding.encode_ordinary
    print(f"tokenizer: {tok!r}")
    for label, make in (("stdlib .py", stdlib_text), ("mixed en/zh/emoji", mixed_text)):
        print(f"\n{label}")
        print(f"{'MB':>4} {'tokens':>10} {'chunked s':>10} {'MB/s':>6} {'one-call s':>10} {'chunked/one-call':>17}")
        for size in (1, 2, 4, 10, 16):
            text = make(size * MB)
            t_chunked, count = timed(tok.count, text)
            t_whole, ids = timed(lambda s: whole(unicodedata.normalize("NFC", s)), text)
            assert count == len(ids), "chunked count differs from one call"
            print(f"{size:>4} {count:>10} {t_chunked:>10.3f} {len(text.encode()) / MB / t_chunked:>6.1f} "
                  f"{t_whole:>10.3f} {t_chunked / t_whole:>17.2f}")
    print("\nlocal tokenizer.json (byte-level BPE, 8k vocabulary trained here on 2 MB of the stdlib text)")
    hf = trained_tokenizer_json()
    assert hf.cuts_after_newlines
    print(f"{'MB':>4} {'tokens':>10} {'chunked s':>10} {'MB/s':>6} {'one-call s':>10} {'chunked/one-call':>17}")
    for size in (1, 4, 10):
        text = mixed_text(size * MB)
        t_chunked, count = timed(hf.count, text)
        t_whole, ids = timed(hf._encode_whole, text)
        assert count == len(ids), "chunked count differs from one call"
        print(f"{size:>4} {count:>10} {t_chunked:>10.3f} {len(text.encode()) / MB / t_chunked:>6.1f} "
              f"{t_whole:>10.3f} {t_chunked / t_whole:>17.2f}")
    print("\nno whitespace at all (one regex piece): seconds per size, to show the growth")
    for label, unit in (("'a' * n", "a"), ("'ab1' * n/3", "ab1"), ("'你' * n", "你")):
        row = []
        for size in (0.25, 0.5, 1, 2):
            text = unit * int(size * MB / len(unit))
            seconds, _ = timed(tok.count, text)
            row.append(f"{size} MB {seconds:.3f}s")
        print(f"{label:>14}: " + ", ".join(row))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
