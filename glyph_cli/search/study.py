"""The search loop: Optuna ask-and-tell over a journal file (or any Optuna storage URL).

- The base config (the `glyph` preset unless told otherwise) is enqueued first; generation 0 is it
  plus samples; later generations come from the proposer.
- Every trial gets a fresh sampler seeded from (seed, number of finished trials), so a run resumed
  after a kill draws exactly what the uninterrupted run would have drawn (with one worker).
- A trial left RUNNING by a dead process of this host is marked abandoned on `--resume`, and its
  parameters are enqueued again: the history of finished trials is the same as without the kill.
- Candidates are cached by config sha256: a config already measured is told its old values.
- The budget counts trials of the whole study (evaluations and cache hits), or minutes of this run.
- `workers` > 1 starts that many processes on the same storage (how several machines share a study).
"""

from __future__ import annotations

import math
import os
import socket
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

from glyph_cli import log
from glyph_cli.errors import ConfigError, GlyphError, UsageError
from glyph_cli.search.proposer import LlmChildren, LlmSettings, make_sampler
from glyph_cli.search.space import SearchSpace

STUDY_NAME = "glyph-search"
SETTINGS_ATTR = "glyph_search"
MAX_CONSECUTIVE_FAILURES = 5
# Invalid points cost no evaluation, so more are allowed in a row; a space where nearly every point is
# invalid would otherwise fill the journal with failed trials for the whole budget.
MAX_CONSECUTIVE_INVALID = 200
# NSGA-II's generation of a trial (Optuna's BaseGASampler system attribute). An enqueued trial gets
# none, so a rerun of a cut-off trial is given the generation the cut-off one had.
GENERATION_KEY = "NSGAIISampler:generation"


@dataclass
class SearchSettings:
    storage: str
    space: SearchSpace
    objective: dict  # the objective's describe(): recorded, checked on resume
    proposer: str = "nsga"
    population: int = 8
    seed: int = 0
    budget_trials: int | None = 50
    budget_minutes: float | None = None
    accuracy_weight: float = 1.0
    compression_weight: float = 0.1
    min_accuracy: float | None = None
    min_compression: float | None = None
    study_name: str = STUDY_NAME
    llm: LlmSettings | None = None

    def recorded(self) -> dict:
        """What makes two runs the same search (the budget and workers may change on resume)."""
        return {"space": self.space.fingerprint(), "objective": self.objective, "proposer": self.proposer,
                "population": self.population, "seed": self.seed,
                "weights": [self.accuracy_weight, self.compression_weight],
                "min_accuracy": self.min_accuracy, "min_compression": self.min_compression,
                "llm": None if self.llm is None else {"base_url": self.llm.base_url, "model": self.llm.model,
                                                      "prompt": self.llm.prompt}}

    def score(self, accuracy: float, compression: float) -> float:
        return round(self.accuracy_weight * accuracy + self.compression_weight * compression, 6)

    def violations(self, accuracy: float, compression: float) -> dict[str, float]:
        out = {}
        if self.min_accuracy is not None:
            out["min_accuracy"] = self.min_accuracy - accuracy
        if self.min_compression is not None:
            out["min_compression"] = self.min_compression - compression
        return out


def parse_budget(values: list[str]) -> tuple[int | None, float | None]:
    """`50` trials, `20m` / `90s` / `2h` of wall time; both may be given (the first reached stops)."""
    trials = minutes = None
    for value in values:
        text = str(value).strip().lower()
        try:
            if text.endswith(("s", "m", "h")):
                minutes = float(text[:-1]) * {"s": 1 / 60, "m": 1, "h": 60}[text[-1]]
            else:
                trials = int(text)
        except ValueError:
            raise UsageError(f"--budget {value!r}: give a number of trials (50) or a time (20m, 90s, 2h)") from None
    if (trials is not None and trials < 1) or (minutes is not None and minutes <= 0):
        raise UsageError("--budget must be positive")
    return trials, minutes


def open_storage(spec: str):
    """A journal file path, or an Optuna storage URL (sqlite:///..., postgresql://...)."""
    if "://" in spec:
        return spec
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(spec))


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def load_study(storage: str, study_name: str = STUDY_NAME):
    import optuna

    _quiet_optuna()
    try:
        return optuna.load_study(study_name=study_name, storage=open_storage(storage))
    except KeyError:
        raise UsageError(f"{storage}: no study named {study_name!r}") from None


def prepare_study(settings: SearchSettings, resume: bool):
    """Create the study (base config enqueued), or reopen it for --resume after checking it is the
    same search, and recover trials abandoned by dead processes."""
    import optuna
    from optuna.trial import TrialState

    _quiet_optuna()
    storage = open_storage(settings.storage)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if settings.study_name in names:
        study = optuna.load_study(study_name=settings.study_name, storage=storage)
        if not resume:
            raise UsageError(f"{settings.storage} already holds the search {settings.study_name!r} "
                             f"({len(study.trials)} trials)", "pass --resume to continue it, or use another --study")
        recorded = study.user_attrs.get(SETTINGS_ATTR)
        mine = _jsonable(settings.recorded())
        if recorded != mine:
            differ = sorted(k for k in set(mine) | set(recorded or {}) if (recorded or {}).get(k) != mine.get(k))
            raise UsageError(f"{settings.storage}: --resume with other settings than the run that made it "
                             f"({', '.join(differ)} differ)", "resume with the same flags, or use another --study")
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            host, pid = trial.user_attrs.get("host"), trial.user_attrs.get("pid")
            if host == socket.gethostname() and pid is not None and not _alive(pid):
                abandon(study, trial._trial_id, trial.params)
                log.info(f"trial {trial.number} was cut off (process {pid} is gone): it runs again")
        return study
    study = optuna.create_study(study_name=settings.study_name, storage=storage,
                                directions=["maximize", "maximize"])
    study.set_user_attr(SETTINGS_ATTR, _jsonable(settings.recorded()))
    study.set_user_attr("base_config", settings.space.base.to_dict())
    study.enqueue_trial(settings.space.base_params(), user_attrs={"base": True})
    return study


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def abandon(study, trial_id: int, params: dict) -> None:
    """Fail a cut-off trial and queue its parameters again, so the finished history does not change."""
    from optuna.trial import TrialState

    frozen = study._storage.get_trial(trial_id)
    study._storage.set_trial_user_attr(trial_id, "abandoned", True)
    study._storage.set_trial_state_values(trial_id, TrialState.FAIL)
    keep = {k: v for k, v in frozen.user_attrs.items() if k in ("base", "source", "op", "parents")}
    if GENERATION_KEY in frozen.system_attrs:
        keep["rerun_generation"] = frozen.system_attrs[GENERATION_KEY]
    study.enqueue_trial(params, user_attrs=keep)


def finished_trials(study) -> list:
    """Trials that count: finished, not abandoned."""
    from optuna.trial import TrialState

    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
            if not t.user_attrs.get("abandoned")]


def trial_score(trial) -> float | None:
    return trial.user_attrs.get("score")


class Worker:
    """One process's share of the search."""

    def __init__(self, settings: SearchSettings, objective_factory: Callable[[], Any], progress: bool = True):
        self.settings = settings
        self.objective_factory = objective_factory
        self.show_progress = progress
        self.evaluated = 0
        self.cached = 0

    def _seed(self, n: int) -> int:
        return (self.settings.seed * 1_000_003 + n * 7919) % (2 ** 31 - 1)

    def run(self) -> None:
        from optuna.trial import TrialState

        settings = self.settings
        study = load_study(settings.storage, settings.study_name)
        objective = self.objective_factory()
        llm = None
        if settings.proposer == "llm":
            llm = LlmChildren(settings.space, settings.llm, settings.population, objectives=self._objective_text(),
                              accuracy=str(settings.objective.get("reader", "reader")) + " accuracy (0..1)",
                              score=trial_score)
        distributions = settings.space.distributions()
        deadline = None if settings.budget_minutes is None else time.monotonic() + 60 * settings.budget_minutes
        bar = log.progress(total=settings.budget_trials, desc="search", unit="trial") if self.show_progress else None
        failures = invalid = 0
        try:
            while True:
                counted = [t for t in study.get_trials(deepcopy=False)
                           if not t.user_attrs.get("abandoned") and t.state != TrialState.WAITING]
                done = [t for t in counted if t.state.is_finished()]
                if bar is not None:
                    bar.n = len(done)
                    bar.set_postfix_str(self._best_text(done), refresh=True)
                if settings.budget_trials is not None and len(counted) >= settings.budget_trials:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                study.sampler = make_sampler(settings.proposer, self._seed(len(done)), settings.population, llm)
                if llm is not None:
                    llm.note = None
                trial = study.ask(fixed_distributions=distributions)
                if settings.proposer != "random":
                    self._place_in_generation(study, trial)
                trial.set_user_attr("host", socket.gethostname())
                trial.set_user_attr("pid", os.getpid())
                try:
                    outcome = self._evaluate(study, trial, objective, llm)
                except BaseException:
                    abandon(study, trial._trial_id, trial.params)
                    raise
                failures = failures + 1 if outcome == "error" else 0
                if failures >= MAX_CONSECUTIVE_FAILURES:
                    raise GlyphError(f"{failures} candidates in a row failed to evaluate; stopping "
                                     "(see the warnings above)")
                invalid = invalid + 1 if outcome == "invalid" else 0
                if invalid >= MAX_CONSECUTIVE_INVALID:
                    raise GlyphError(f"{invalid} sampled configs in a row were invalid (the last: "
                                     f"{trial.user_attrs.get('invalid', '')}); "
                                     "the search space is mostly invalid: narrow its ranges or fix the base config")
        finally:
            if bar is not None:
                bar.close()
            if llm is not None:
                llm.backend.close()

    @staticmethod
    def _place_in_generation(study, trial) -> None:
        """Enqueued trials (the base config, reruns) skip NSGA-II's sampling and get no generation;
        without one they would never be parents."""
        frozen = study._storage.get_trial(trial._trial_id)
        if GENERATION_KEY in frozen.system_attrs:
            return
        rerun = frozen.user_attrs.get("rerun_generation")
        if rerun is not None:
            study._storage.set_trial_system_attr(trial._trial_id, GENERATION_KEY, rerun)
        else:
            study.sampler.get_trial_generation(study, frozen)

    def _objective_text(self) -> str:
        s = self.settings
        lines = [f"score = {s.accuracy_weight:g} * accuracy + {s.compression_weight:g} * compression"]
        if s.min_accuracy is not None:
            lines.append(f"constraint: accuracy >= {s.min_accuracy:g}")
        if s.min_compression is not None:
            lines.append(f"constraint: compression >= {s.min_compression:g}")
        return "\n".join(lines)

    def _best_text(self, done: list) -> str:
        feasible = [t for t in done if t.state.name == "COMPLETE" and t.user_attrs.get("feasible", True)]
        if not feasible:
            return "best: -"
        best = max(feasible, key=lambda t: (t.user_attrs["score"], -t.number))
        return (f"best {best.user_attrs['score']:.4f} (acc {best.values[0]:.4f}, {best.values[1]:.2f}x, "
                f"trial {best.number})")

    def _evaluate(self, study, trial, objective, llm) -> str:
        from optuna.trial import TrialState

        settings = self.settings
        if llm is not None and llm.note:
            for key, value in llm.note.items():
                trial.set_user_attr(key, value)
        elif "source" not in trial.user_attrs:
            trial.set_user_attr("source", "base" if trial.user_attrs.get("base") else settings.proposer)
        try:
            cfg = settings.space.to_config(trial.params)
        except ConfigError as exc:
            trial.set_user_attr("invalid", str(exc))
            study.tell(trial, state=TrialState.FAIL)
            log.debug(f"trial {trial.number}: invalid config: {exc}")
            return "invalid"
        sha = cfg.sha256()
        trial.set_user_attr("config_sha256", sha)
        trial.set_user_attr("config", cfg.to_dict())
        previous = next((t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                         if t.user_attrs.get("config_sha256") == sha), None)
        if previous is not None:
            measured = {k: previous.user_attrs[k] for k in ("metrics",) if k in previous.user_attrs}
            trial.set_user_attr("cached_from", previous.number)
            values = list(previous.values)
            metrics = measured.get("metrics", {})
            self.cached += 1
        else:
            try:
                m = objective.evaluate(cfg)
            except GlyphError as exc:
                log.warn(f"trial {trial.number}: {exc}")
                trial.set_user_attr("error", str(exc)[:500])
                study.tell(trial, state=TrialState.FAIL)
                return "error"
            values = [m.accuracy, m.compression]
            metrics = m.to_dict()
            self.evaluated += 1
        trial.set_user_attr("metrics", metrics)
        trial.set_user_attr("score", settings.score(*values))
        violations = settings.violations(*values)
        trial.set_user_attr("feasible", all(v <= 0 for v in violations.values()))
        for key, value in violations.items():
            trial.set_constraint(key, value)
        study.tell(trial, values)
        return "cached" if previous is not None else "evaluated"


def _worker_main(settings: SearchSettings, objective_factory) -> None:
    log.settings.progress = False
    Worker(settings, objective_factory, progress=False).run()


def run_search(settings: SearchSettings, objective_factory: Callable[[], Any], *, resume: bool = False,
               workers: int = 1) -> Any:
    """Run (or continue) a search; returns the study."""
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    study = prepare_study(settings, resume)
    if workers == 1:
        Worker(settings, objective_factory).run()
        return study
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker_main, args=(settings, objective_factory)) for _ in range(workers)]
    for p in procs:
        p.start()
    bar = log.progress(total=settings.budget_trials, desc="search", unit="trial")
    try:
        while any(p.is_alive() for p in procs):
            time.sleep(0.5)
            bar.n = len(finished_trials(study))
            bar.refresh()
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        raise
    finally:
        bar.close()
        for p in procs:
            p.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise GlyphError(f"{len(failed)} search worker(s) failed (exit {failed[0]})")
    return study


# -- reading results -----------------------------------------------------------------------------

def candidates(study) -> list[dict]:
    """Every finished trial with a measurement, as records (the Pareto front's and the report's rows)."""
    from optuna.trial import TrialState

    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.user_attrs.get("abandoned"):
            continue
        out.append({
            "type": "candidate", "v": 1, "trial": t.number,
            "generation": t.system_attrs.get(GENERATION_KEY),
            "accuracy": t.values[0], "compression": t.values[1], "score": t.user_attrs.get("score"),
            "feasible": t.user_attrs.get("feasible", True), "source": t.user_attrs.get("source"),
            "base": bool(t.user_attrs.get("base")), "cached_from": t.user_attrs.get("cached_from"),
            "config_sha256": t.user_attrs.get("config_sha256"), "params": t.params,
            "metrics": t.user_attrs.get("metrics", {}), "config": t.user_attrs.get("config"),
        })
    return out


def pareto_front(rows: list[dict]) -> list[dict]:
    """Feasible, distinct configs that no other feasible one beats on both objectives."""
    pool = [r for r in rows if r["feasible"] and r["cached_from"] is None]
    front = []
    for r in pool:
        dominated = any(o["accuracy"] >= r["accuracy"] and o["compression"] >= r["compression"]
                        and (o["accuracy"] > r["accuracy"] or o["compression"] > r["compression"]) for o in pool)
        if not dominated:
            front.append(r)
    return sorted(front, key=lambda r: (-r["compression"], -r["accuracy"], r["trial"]))


def best(rows: list[dict]) -> dict | None:
    pool = [r for r in rows if r["feasible"] and r["cached_from"] is None]
    if not pool:
        return None
    return max(pool, key=lambda r: (r["score"], -r["trial"]))


def history(study) -> list[tuple]:
    """(params, state, values) of the finished trials in order: what a rerun from the seed repeats."""
    return [(sorted(t.params.items(), key=lambda kv: kv[0]), t.state.name,
             None if t.values is None else tuple(t.values)) for t in finished_trials(study)]


def generation_of(trial_row: dict) -> int:
    g = trial_row.get("generation")
    return 0 if g is None or (isinstance(g, float) and math.isnan(g)) else int(g)
