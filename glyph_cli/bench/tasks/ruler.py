"""RULER's synthetic tasks (Hsieh et al. 2024, NVIDIA/RULER), generated offline and deterministically.

Templates, needle sentence, noise haystack, task settings (RULER's scripts/synthetic.yaml), answer
prefixes and generation budgets follow RULER. What differs, on purpose:

- The context is kept apart from the instruction and the question, and the few-shot examples of vt
  and cwe are not part of the task: Glyph renders the context into pages and asks the question as
  text, without them. `fewshot()` makes RULER's example for a task, which `glyph bench accuracy
  --protocol ruler` puts in front of the prompt (as text), outside the task's measured length.
- Words come from glyph's own list (glyph_cli/data/bench_words.txt), not from `wonderwords`; a key
  is "word-word" as RULER's is "adjective-noun".
- The essay haystack is any local prose the user names (RULER downloads Paul Graham's essays).
- Needles sit at exact depths: a needle at depth d follows int(n * d / 100) of the n haystack
  sentences. Depths are drawn from RULER's 40 evenly spaced depths unless given.
- The haystack grows one unit (sentence, word) at a time, so every task lands within 2% of its
  target length (or within one unit, where one unit is more than 2%: uuid needles at 1K tokens)
  instead of RULER's steps of 25-500 units.

Length is RULER's: tokens of instruction + context + question + answer prefix, plus the tokens the
model may generate, in the tokenizer the caller counts with. A task never exceeds its target.
"""

from __future__ import annotations

import random
import re
import string
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from glyph_cli.bench.tasks import Counter, Task, sample_seed
from glyph_cli.bench.words import words
from glyph_cli.errors import GlyphError, UsageError

NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
NEEDLE = "One of the special magic {type_v} for {key} is: {value}."
# RULER's depth grid: np.round(np.linspace(0, 100, 40)); no value falls on .5, so round() agrees.
DEPTHS = tuple(round(i * 100 / 39) for i in range(40))
LENGTH_TOLERANCE = 0.02

NIAH_INSTRUCTION = ("Some special magic {type_v} are hidden within the following text. Make sure to memorize it. "
                    "I will quiz you about the {type_v} afterwards.\n")
NIAH_QUESTION = "\nWhat are all the special magic {type_v} for {query} mentioned in the provided text?"
NIAH_PREFIX = " The special magic {type_v} for {query} mentioned in the provided text are"
VT_INSTRUCTION = "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n"
VT_QUESTION = "\nQuestion: Find all variables that are assigned the value {query} in the text above."
VT_PREFIX = (" Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables "
             "are assigned the value {query}, they are: ")
CWE_INSTRUCTION = ("Below is a numbered list of words. In these words, some appear more often than others. "
                   "Memorize the ones that appear most often.\n")
CWE_QUESTION = "\nQuestion: What are the {num_cw} most common words in the above list?"
CWE_PREFIX = " Answer: The top {num_cw} words that appear most often in the list are:"
FWE_INSTRUCTION = ("Read the following coded text and track the frequency of each coded word. Find the three most "
                   "frequently appeared coded words. ")
FWE_QUESTION = ("\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What are the three most "
                "frequently appeared words in the above coded text?")
FWE_PREFIX = " Answer: According to the coded text above, the three most frequently appeared words are:"


@dataclass(frozen=True)
class NiahSpec:
    haystack: str  # noise | needle | essay
    type_k: str  # words | numbers | uuids
    type_v: str
    num_k: int = 1
    num_v: int = 1
    num_q: int = 1


@dataclass(frozen=True)
class VtSpec:
    num_chains: int = 1
    num_hops: int = 4


@dataclass(frozen=True)
class CweSpec:
    freq_cw: int = 30
    freq_ucw: int = 3
    num_cw: int = 10


@dataclass(frozen=True)
class FweSpec:
    alpha: float = 2.0
    coded_wordlen: int = 6


# RULER's scripts/synthetic.yaml, less the two QA tasks (they need SQuAD and HotpotQA downloads).
TASKS: dict[str, NiahSpec | VtSpec | CweSpec | FweSpec] = {
    "niah_single_1": NiahSpec("noise", "words", "numbers"),
    "niah_single_2": NiahSpec("essay", "words", "numbers"),
    "niah_single_3": NiahSpec("essay", "words", "uuids"),
    "niah_multikey_1": NiahSpec("essay", "words", "numbers", num_k=4),
    "niah_multikey_2": NiahSpec("needle", "words", "numbers"),
    "niah_multikey_3": NiahSpec("needle", "uuids", "uuids"),
    "niah_multivalue": NiahSpec("essay", "words", "numbers", num_v=4),
    "niah_multiquery": NiahSpec("essay", "words", "numbers", num_k=4, num_q=4),  # RULER: num_k >= num_q
    "vt": VtSpec(),
    "cwe": CweSpec(),
    "fwe": FweSpec(),
}
# RULER's tokens_to_generate per task family.
MAX_NEW_TOKENS = {NiahSpec: 128, VtSpec: 30, CweSpec: 120, FweSpec: 50}
HAYSTACKS = ("noise", "needle", "essay")


def _random_value(rng: random.Random, kind: str) -> str:
    if kind == "numbers":
        return str(rng.randint(10**6, 10**7 - 1))
    if kind == "words":
        vocab = words()
        return f"{rng.choice(vocab)}-{rng.choice(vocab)}"
    if kind == "uuids":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    raise ValueError(f"unknown needle type {kind!r}")


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d\u2019)])\s+")


class Essay:
    """Prose for the essay haystack: its words, taken n at a time (repeated when n exceeds them)."""

    def __init__(self, text: str, name: str = "essay"):
        self.words = re.sub(r"\s+", " ", text).strip().split(" ")
        if len(self.words) < 50:
            raise UsageError(f"{name}: an essay haystack needs prose of at least 50 words, got {len(self.words)}")
        self.name = name

    def sentences(self, n_words: int) -> list[str]:
        repeats = -(-n_words // len(self.words))
        text = " ".join((self.words * repeats)[:n_words])
        return [s for s in _SENTENCE_END.split(text) if s]



def _insert_at_depths(units: list[str], needles: Sequence[str], depths: Sequence[float], sep: str
                      ) -> tuple[str, list[dict]]:
    """Join haystack units with the needles, the i-th smallest depth taking the i-th needle.

    A needle at depth d follows int(n * d / 100) of the n units (RULER assigns its shuffled needles
    to its sorted insertion points the same way). Returns the context and where each needle landed.
    """
    n = len(units)
    placed = [(int(n * d / 100), d, needle) for d, needle in zip(sorted(depths), needles)]
    pieces: list[str] = []
    info: list[dict] = []
    length = 0

    def add(piece: str) -> int:
        nonlocal length
        start = length + (len(sep) if pieces else 0)
        pieces.append(piece)
        length = start + len(piece)
        return start

    cursor = 0
    for position, depth, needle in placed:
        while cursor < position:
            add(units[cursor])
            cursor += 1
        info.append({"text": needle, "depth": depth, "position": position, "offset": add(needle)})
    while cursor < n:
        add(units[cursor])
        cursor += 1
    return sep.join(pieces), info


def _singular(template: str) -> str:
    # RULER's rewording when one value is asked for, applied to the template before it is filled in.
    return template.replace("Some", "A").replace("are all", "is").replace("are", "is").replace("answers", "answer")


def _build_niah(name: str, spec: NiahSpec, seed: int, n: int, depths: Sequence[float] | None,
                essay: Essay | None) -> Task:
    rng = random.Random(seed)
    keys: list[str] = []
    values: list[list[str]] = []
    needles: list[str] = []
    for _ in range(spec.num_k):
        key = _random_value(rng, spec.type_k)
        while key in keys:
            key = _random_value(rng, spec.type_k)
        keys.append(key)
        values.append([_random_value(rng, spec.type_v) for _ in range(spec.num_v)])
        needles += [NEEDLE.format(type_v=spec.type_v, key=key, value=v) for v in values[-1]]
    rng.shuffle(needles)
    chosen_depths = list(depths) if depths is not None else rng.sample(DEPTHS, len(needles))
    asked = rng.sample(range(spec.num_k), spec.num_q)

    if spec.haystack == "noise":
        units, sep = [NOISE] * n, "\n"
    elif spec.haystack == "needle":
        # Distractors come from their own stream, so a longer haystack extends a shorter one.
        drng = random.Random(sample_seed(seed, "distractors"))
        units, sep = [], "\n"
        while len(units) < n:
            key = _random_value(drng, spec.type_k)
            value = _random_value(drng, spec.type_v)
            if key not in keys:
                units.append(NEEDLE.format(type_v=spec.type_v, key=key, value=value))
    else:
        assert essay is not None
        units, sep = essay.sentences(n), " "
    context, placed = _insert_at_depths(units, needles, chosen_depths, sep)

    queries = [keys[i] for i in asked]
    query = ", ".join(queries[:-1]) + ", and " + queries[-1] if len(queries) > 1 else queries[0]
    type_v = spec.type_v
    instruction, question, prefix = NIAH_INSTRUCTION, NIAH_QUESTION, NIAH_PREFIX
    if spec.num_q * spec.num_v == 1:
        instruction, question, prefix = _singular(instruction), _singular(question), _singular(prefix)
        type_v = type_v[:-1]
    return Task(
        id="", suite="ruler", task=name, context=context,
        instruction=instruction.format(type_v=type_v),
        question=question.format(type_v=type_v, query=query),
        answer_prefix=prefix.format(type_v=type_v, query=query),
        answers=[v for i in asked for v in values[i]],
        metric="string_match_all", max_new_tokens=MAX_NEW_TOKENS[NiahSpec],
        details={"haystack": spec.haystack, "haystack_units": n, "needles": placed, "queries": queries,
                 **({"essay": essay.name} if spec.haystack == "essay" and essay else {})},
    )


def _build_vt(name: str, spec: VtSpec, seed: int, n: int, name_len: int = 5) -> Task:
    rng = random.Random(seed)
    needed = spec.num_chains * (spec.num_hops + 1)
    names: list[str] = []
    while len(names) < needed:
        var = "".join(rng.choices(string.ascii_uppercase, k=name_len))
        if var not in names:
            names.append(var)
    step = spec.num_hops + 1
    chains = [names[i:i + step] for i in range(0, needed, step)]
    values = [str(rng.randrange(10000, 99999)) for _ in chains]
    sentences = [NOISE] * n
    prng = random.Random(sample_seed(seed, "positions", n))
    for variables, value in zip(chains, values):
        lines = [f"VAR {variables[0]} = {value}"]
        lines += [f"VAR {variables[j + 1]} = VAR {variables[j]} " for j in range(spec.num_hops)]
        positions = sorted(prng.sample(range(len(sentences)), len(lines)))
        for j, position in enumerate(positions):
            sentences.insert(position + j, lines[j])
    context = "\n".join(sentences).replace(". \n", ".\n")
    query = values[0]
    return Task(
        id="", suite="ruler", task=name, context=context,
        instruction=VT_INSTRUCTION, question=VT_QUESTION.format(query=query),
        answer_prefix=VT_PREFIX.format(num_v=step, query=query),
        answers=list(chains[0]), metric="string_match_all", max_new_tokens=MAX_NEW_TOKENS[VtSpec],
        details={"haystack": "noise", "haystack_units": n,
                 "chains": [{"variables": v, "value": x} for v, x in zip(chains, values)]},
    )


def _cwe_list(vocab: Sequence[str], num_cw: int, freq_cw: int, freq_ucw: int,
              order_seed: int) -> tuple[str, list[str]]:
    common, uncommon = list(vocab[:num_cw]), list(vocab[num_cw:])
    listed = common * freq_cw + uncommon * freq_ucw
    random.Random(order_seed).shuffle(listed)
    return " ".join(f"{i + 1}. {word}" for i, word in enumerate(listed)), common


def _build_cwe(name: str, spec: CweSpec, seed: int, n: int, target: int) -> Task:
    rng = random.Random(seed)
    order = list(words())
    rng.shuffle(order)
    # RULER lowers the repetitions below 4K tokens so that the list still has room for words.
    freq_cw, freq_ucw = (spec.freq_cw, spec.freq_ucw) if target >= 4096 else (6, 1)
    context, common = _cwe_list(order[:n], spec.num_cw, freq_cw, freq_ucw, sample_seed(seed, "order", n))
    return Task(
        id="", suite="ruler", task=name, context=context,
        instruction=CWE_INSTRUCTION, question=CWE_QUESTION.format(num_cw=spec.num_cw),
        answer_prefix=CWE_PREFIX.format(num_cw=spec.num_cw),
        answers=common, metric="string_match_all", max_new_tokens=MAX_NEW_TOKENS[CweSpec],
        details={"haystack_units": n, "freq_common": freq_cw, "freq_uncommon": freq_ucw},
    )


FEWSHOT_TASKS = ("vt", "cwe")
VT_EXAMPLE_TOKENS = 500  # RULER sizes its variable-tracking example to 500 tokens


def fewshot(record: dict, count: Counter) -> str:
    """RULER's in-context example for a vt or cwe task record ("" for the other tasks), as RULER puts
    it in front of the task prompt, the same for the same record.

    vt: one solved chain task of 500 tokens (noise haystack, 3-letter variables, its own value), the
    answer after its prefix, then a blank line. cwe: one solved word list (below 4K tokens 20 words,
    10 of them 3 times; else 40 words, 10 of them 10 times, the rest 3 times), the answer numbered
    after its prefix, then a newline.
    """
    spec = TASKS.get(str(record.get("task")))
    seed = sample_seed(record.get("id"), record.get("seed"), "fewshot")
    if isinstance(spec, VtSpec):
        def build(n: int) -> Task:
            task = _build_vt("vt", spec, seed, n, name_len=3)
            task.max_new_tokens = 0
            return task

        example = _fit(build, count, VT_EXAMPLE_TOKENS, spec.num_chains * (spec.num_hops + 1), None,
                       "ruler vt few-shot example")
        return example.prompt_text() + example.answer_prefix + " " + " ".join(example.answers) + "\n\n"
    if isinstance(spec, CweSpec):
        rng = random.Random(seed)
        short = int(record.get("target_length") or record.get("length") or 0) < 4096
        n_words, freq_cw, freq_ucw = (20, 3, 1) if short else (40, 10, 3)
        context, common = _cwe_list(rng.sample(words(), n_words), spec.num_cw, freq_cw, freq_ucw,
                                    sample_seed(seed, "order"))
        answer = " ".join(f"{i + 1}. {word}" for i, word in enumerate(common))
        return (CWE_INSTRUCTION + context + CWE_QUESTION.format(num_cw=spec.num_cw)
                + CWE_PREFIX.format(num_cw=spec.num_cw) + " " + answer + "\n")
    return ""


def _zeta(alpha: float) -> float:
    """Riemann zeta for alpha > 1: a partial sum plus its Euler-Maclaurin tail."""
    n = 1000
    partial = sum(k ** -alpha for k in range(1, n))
    return partial + n ** (1 - alpha) / (alpha - 1) + 0.5 * n ** -alpha + alpha / 12 * n ** (-alpha - 1)


def _build_fwe(name: str, spec: FweSpec, seed: int, n: int, target: int) -> Task:
    rng = random.Random(seed)
    vocab_size = max(target // 50, 8)  # RULER: max_seq_length // 50 coded words
    vocab: set[str] = set()
    while len(vocab) < vocab_size:
        vocab.add("".join(rng.choices(string.ascii_lowercase, k=spec.coded_wordlen)))
    ranked = sorted(vocab)
    rng.shuffle(ranked)
    ranked[0] = "..."  # the most frequent "word" is noise that the question says to ignore
    zeta = _zeta(spec.alpha)
    counts = [int(n * k ** -spec.alpha / zeta) for k in range(1, vocab_size + 1)]
    listed = [word for word, count in zip(ranked, counts) for _ in range(count)]
    random.Random(sample_seed(seed, "order", n)).shuffle(listed)
    return Task(
        id="", suite="ruler", task=name, context=" ".join(listed),
        instruction=FWE_INSTRUCTION, question=FWE_QUESTION, answer_prefix=FWE_PREFIX,
        answers=ranked[1:4], metric="string_match_all", max_new_tokens=MAX_NEW_TOKENS[FweSpec],
        details={"haystack_units": n, "vocab_size": vocab_size, "counts_top5": counts[:5]},
    )


def _length(task: Task, count: Counter) -> int:
    return count(task.prompt_text() + task.answer_prefix) + task.max_new_tokens


def _fit(build: Callable[[int], Task], count: Counter, target: int, smallest: int, largest: int | None,
         what: str) -> Task:
    """The largest haystack whose task fits the target length (RULER's search, one unit at a time)."""
    def measured(n: int) -> Task:
        task = build(n)
        task.length = _length(task, count)
        return task

    fits = measured(smallest)
    if fits.length > target:
        raise UsageError(f"{what}: target length {target} is below the {fits.length} tokens of the smallest task",
                         "ask for a longer length")
    lo = smallest
    # Start from a linear estimate of the size, then bracket and bisect.
    probe = measured(smallest * 2)
    per_unit = max((probe.length - fits.length) / smallest, 1e-6)
    if probe.length <= target:
        lo, fits = smallest * 2, probe
    hi = max(lo + 1, int(smallest + (target - fits.length) / per_unit * 1.02) + 1)
    while True:
        if largest is not None and hi > largest:
            top = measured(largest)
            if top.length <= target:
                lo, fits, hi = largest, top, largest + 1
                break
            hi = largest
        candidate = measured(hi)
        if candidate.length > target:
            break
        lo, fits = hi, candidate
        hi = hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        candidate = measured(mid)
        if candidate.length <= target:
            lo, fits = mid, candidate
        else:
            hi = mid
    assert fits.length is not None
    # One unit can be larger than 2% of a short target (a uuid needle is ~45 tokens): then the
    # promise is "short by less than one unit", which is as close as whole units get.
    slack = max(LENGTH_TOLERANCE * target, per_unit * 1.5)
    if fits.length < target - slack:
        raise GlyphError(f"{what}: the longest task that fits is {fits.length} tokens, more than "
                         f"{LENGTH_TOLERANCE:.0%} short of the target {target}",
                         "the word list or the essay cannot fill this length; ask for a shorter one")
    return fits


def task_id(task: str, target_length: int, index: int) -> str:
    return f"ruler-{task}-{target_length}-{index:04d}"


def generate(task: str, target_length: int, count: Counter, *, seed: int = 42, index: int = 0,
             depths: Sequence[float] | None = None, haystack: str | None = None, essay: Essay | None = None,
             fewshot_room: bool = False) -> Task:
    """One RULER task of `target_length` tokens (as counted by `count`), the same for the same arguments.

    With `fewshot_room`, a vt or cwe task leaves room for RULER's in-context example (`fewshot()`),
    which then counts toward its length as RULER counts it: the task is sized for `glyph bench
    accuracy --protocol ruler`, and its `length` is that protocol's prompt.

    `depths` (percent, one per needle) and `haystack` (noise | needle | essay) override RULER's
    settings for the needle tasks; an essay haystack needs `essay`.
    """
    spec = TASKS.get(task)
    if spec is None:
        raise UsageError(f"unknown RULER task {task!r}", f"choose from {', '.join(TASKS)}")
    what = f"ruler {task} at {target_length}"
    seed_i = sample_seed(seed, task, target_length, index)
    if isinstance(spec, NiahSpec):
        if haystack is not None:
            if haystack not in HAYSTACKS:
                raise UsageError(f"haystack must be one of {', '.join(HAYSTACKS)}, got {haystack!r}")
            spec = NiahSpec(haystack, spec.type_k, spec.type_v, spec.num_k, spec.num_v, spec.num_q)
        if spec.haystack == "essay" and essay is None:
            raise UsageError(f"{task} uses an essay haystack and no essay text was given",
                             "pass --essay FILE (any long prose) or --haystack noise")
        n_needles = spec.num_k * spec.num_v
        if depths is not None:
            if len(depths) != n_needles or any(not 0 <= d <= 100 for d in depths):
                raise UsageError(f"{task} has {n_needles} needle(s): give as many depths, each 0..100")
        built = _fit(lambda n: _build_niah(task, spec, seed_i, n, depths, essay), count, target_length,
                     1, None, what)
    elif depths is not None or haystack is not None:
        raise UsageError(f"depths and haystack apply to the niah_* tasks, not {task}")
    elif isinstance(spec, (VtSpec, CweSpec)):
        example = ""
        if fewshot_room:
            example = fewshot({"task": task, "id": task_id(task, target_length, index), "seed": seed,
                               "target_length": target_length}, count)
        fit_count = (lambda text: count(example + text)) if example else count
        if isinstance(spec, VtSpec):
            built = _fit(lambda n: _build_vt(task, spec, seed_i, n), fit_count, target_length,
                         spec.num_chains * (spec.num_hops + 1), None, what)
        else:
            built = _fit(lambda n: _build_cwe(task, spec, seed_i, n, target_length), fit_count, target_length,
                         spec.num_cw + 1, len(words()), what)
        if example:
            built.details.update(sized_for="ruler", fewshot_tokens=count(example))
    else:
        built = _fit(lambda n: _build_fwe(task, spec, seed_i, n, target_length), count, target_length,
                     100, None, what)
        top = built.details["counts_top5"]
        if not top[1] > top[2] > top[3] > top[4]:
            raise GlyphError(f"{what}: too short for three distinct most frequent words", "ask for a longer length")
    built.id = task_id(task, target_length, index)
    built.target_length = target_length
    built.seed = seed
    return built


def generate_suite(tasks: Iterable[str], lengths: Iterable[int], samples: int, count: Counter, *,
                   seed: int = 42, haystack: str | None = None, essay: Essay | None = None,
                   fewshot_room: bool = False) -> Iterator[Task]:
    """Every (task, length, index) combination, task-major, in a fixed order."""
    lengths = list(lengths)
    for name in tasks:
        for length in lengths:
            for index in range(samples):
                yield generate(name, length, count, seed=seed, index=index,
                               haystack=haystack if name.startswith("niah_") else None, essay=essay,
                               fewshot_room=fewshot_room)
