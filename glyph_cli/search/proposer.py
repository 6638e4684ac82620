"""Where candidates come from: random sampling, NSGA-II, or NSGA-II whose children an LLM proposes.

`--proposer llm` plugs into Optuna's `NSGAIISampler(child_generation_strategy=...)`: once per
generation the LLM (any OpenAI-compatible server, through ask's client with its retries and
timeouts) sees the search space and the ranked history and proposes children as JSON. Each proposal
is validated and snapped to the distributions (out-of-range numbers are clipped onto the step grid);
an invalid or malformed one is logged and replaced by NSGA-II's own crossover and mutation. The
prompt is a file (glyph_cli/search/data/propose.md by default) with {{placeholders}} filled in.
"""

from __future__ import annotations

import collections
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from glyph_cli import log
from glyph_cli.errors import ConfigError, GlyphError, UsageError
from glyph_cli.search.space import SearchSpace

PROPOSERS = ("random", "nsga", "llm")
DEFAULT_PROMPT = Path(__file__).resolve().parent / "data" / "propose.md"
HISTORY_LINES = 40  # the best candidates shown to the LLM; a long history would crowd its context
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


@dataclass(frozen=True)
class LlmSettings:
    base_url: str
    model: str | None = None
    prompt: str | None = None  # a prompt file; None: the packaged one
    temperature: float = 0.7
    max_tokens: int = 4096
    timeout: float = 300.0
    retries: int = 3
    api_key_env: str = "OPENAI_API_KEY"

    def prompt_text(self) -> str:
        path = Path(self.prompt) if self.prompt else DEFAULT_PROMPT
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{path}: cannot read the proposer prompt ({exc.strerror})") from None


def parse_proposals(text: str) -> list[dict]:
    """The children in an LLM reply: a JSON object with "children", or a bare list, possibly fenced
    or surrounded by prose. ValueError when there is no such JSON."""
    from glyph_cli.models.parse import split_thinking

    answer = split_thinking(text).answer
    candidates = [answer.strip()] + [m.group(1).strip() for m in _FENCE.finditer(answer)]
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = answer.find(opener), answer.rfind(closer)
        if 0 <= start < end:
            candidates.append(answer[start:end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("children"), list):
            return data["children"]
        if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
            return data
    raise ValueError("no JSON object with a \"children\" list in the reply")


class LlmChildren:
    """NSGA-II's child generation, by an LLM. One request per generation; children are handed out one
    per trial. Kept across the per-trial samplers of a run, so each generation is asked once."""

    def __init__(self, space: SearchSpace, settings: LlmSettings, population: int, objectives: str,
                 accuracy: str, score: Callable[[Any], float | None]):
        from glyph_cli.models.backend import Sampling
        from glyph_cli.models.openai_backend import OpenAIBackend

        self.space = space
        self.settings = settings
        self.template = settings.prompt_text()
        self.population = population
        self.objectives = objectives
        self.accuracy = accuracy
        self.score = score
        self.backend = OpenAIBackend(settings.base_url, settings.model, concurrency=1, timeout=settings.timeout,
                                     retries=settings.retries, api_key_env=settings.api_key_env,
                                     sampling=Sampling(max_new_tokens=settings.max_tokens,
                                                       temperature=settings.temperature, top_k=0,
                                                       repetition_penalty=1.0, repeat_window=0))
        self.queues: dict[tuple, collections.deque] = {}
        self.fallback: Callable | None = None
        self.note: dict | None = None  # how the last child was made, for the trial's record
        self.requests = 0

    def describe(self) -> dict:
        return {"base_url": self.settings.base_url, "model": self.settings.model,
                "prompt": self.settings.prompt or "default"}

    # -- the prompt ----------------------------------------------------------------------------

    def prompt(self, study, parents: list) -> str:
        from optuna.trial import TrialState

        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.user_attrs.get("cached_from") is None]
        done.sort(key=lambda t: (-(self.score(t) or float("-inf")), t.number))
        lines = []
        for t in done[:HISTORY_LINES]:
            lines.append(json.dumps({"trial": t.number, "params": t.params,
                                     "accuracy": t.values[0], "compression": t.values[1],
                                     "score": self.score(t), "feasible": t.user_attrs.get("feasible", True)},
                                    default=str))
        filled = {
            "space": "\n".join(json.dumps(p) for p in self.space.describe()),
            "history": "\n".join(lines) or "(none yet)",
            "parents": ", ".join(str(t.number) for t in parents),
            "n": str(self.population),
            "objectives": self.objectives,
            "accuracy": self.accuracy,
        }
        text = self.template
        for key, value in filled.items():
            text = text.replace("{{" + key + "}}", value)
        return text

    def ask_llm(self, study, parents: list) -> list[dict]:
        from glyph_cli.models.backend import Job
        from glyph_cli.models.prompts import Part

        self.requests += 1
        job = Job(0, "propose", "search", "propose children", [Part("text", self.prompt(study, parents))], "text", None)
        for _job, gen in self.backend.generate([job]):
            if isinstance(gen, Exception):
                raise gen
            return parse_proposals(gen.raw)
        return []

    # -- the child generation strategy ---------------------------------------------------------

    def validate(self, proposal: Any, parents: dict[int, Any], search_space: dict) -> tuple[dict, list[str]]:
        """The snapped parameters of one proposal. ValueError says why it cannot be used."""
        if not isinstance(proposal, dict) or not isinstance(proposal.get("params"), dict):
            raise ValueError("not an object with a \"params\" object")
        given = dict(proposal["params"])
        notes = [f"unknown parameter {k!r} ignored" for k in given if k not in self.space.params]
        named = proposal.get("parents") or []
        parent = next((parents[p] for p in named if isinstance(p, int) and p in parents), None)
        for name in self.space.params:
            if name not in given and parent is not None and name in parent.params:
                given[name] = parent.params[name]
                notes.append(f"{name} taken from parent {parent.number}")
        params, moved = self.space.snap(given)
        try:
            self.space.to_config(params)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return {k: v for k, v in params.items() if k in search_space}, notes + moved

    def __call__(self, study, search_space: dict, parent_population: list) -> dict:
        key = tuple(sorted(t.number for t in parent_population))
        if key not in self.queues:
            try:
                self.queues[key] = collections.deque(enumerate(self.ask_llm(study, parent_population)))
            except (GlyphError, ValueError) as exc:
                log.warn(f"LLM proposer: {exc}; this generation uses NSGA-II's own children")
                self.queues[key] = collections.deque()
        queue = self.queues[key]
        from optuna.trial import TrialState

        parents = {t.number: t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}
        while queue:
            index, proposal = queue.popleft()
            try:
                params, notes = self.validate(proposal, parents, search_space)
            except ValueError as exc:
                log.warn(f"LLM proposal {index}: {exc}; replaced by NSGA-II's own child")
                self.note = {"source": "nsga", "rejected_llm": f"{index}: {exc}"[:300]}
                return self.fallback(study, search_space, parent_population)
            if notes:
                log.debug(f"LLM proposal {index}: " + "; ".join(notes))
            self.note = {"source": "llm", "op": str(proposal.get("op", ""))[:20],
                         "parents": [p for p in proposal.get("parents") or [] if isinstance(p, int)][:4],
                         "snapped": notes[:10]}
            return params
        self.note = {"source": "nsga"}
        return self.fallback(study, search_space, parent_population)


def make_sampler(kind: str, seed: int, population: int, llm: LlmChildren | None = None):
    """A fresh sampler for one trial. Seeded per trial by the caller, so a resumed run draws what
    the uninterrupted run would have drawn."""
    import optuna

    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind not in PROPOSERS:
        raise UsageError(f"unknown proposer {kind!r}", f"choose one of {', '.join(PROPOSERS)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.NSGAIISampler(population_size=population, seed=seed,
                                                child_generation_strategy=llm)
    if llm is not None:
        # NSGA-II's own crossover and mutation, drawing from this sampler's seeded generator, replace
        # what the LLM could not propose.
        from optuna.samplers.nsgaii import UniformCrossover
        from optuna.samplers.nsgaii._child_generation_strategy import NSGAIIChildGenerationStrategy

        llm.fallback = NSGAIIChildGenerationStrategy(crossover=UniformCrossover(0.5), crossover_prob=0.9,
                                                     swapping_prob=0.5, rng=sampler._rng)
    return sampler
