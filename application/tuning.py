"""Fit-time tuning: settings chosen on the deployment's own data, within a time budget.

The training part is split again the way the service is asked (each learner's latest courses,
or a random share when the outer protocol is random); each candidate setting is fitted on the
inner training part and scored by NDCG@10 on the inner held-out part. The test part of an
evaluation is never passed here. Pinned settings are used as given and never searched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from application.validation_split import ValidationSplit
from application.weight_search import search_weights
from domain.model import Course, Interaction, Recommendation
from domain.ports import Recommender

#: name -> recommender built from keyword settings (e.g. item_cf(regularization=100.0))
Factories = Mapping[str, Callable[..., Recommender]]
#: progress(one line saying what the search is doing)
TuningProgress = Callable[[str], None]

#: a strategy's settings are searched in this order; settings that act when scoring only
#: (Recommender.scoring_settings: item_cf's recency) come first, as their trials rescore the model
#: already fitted instead of fitting another (at 10k courses an item_cf fit takes 15 s)
SEARCH: Mapping[str, Mapping[str, Sequence[Any]]] = {
    "item_cf": {
        "recency_decay": (1.0, 0.7, 0.5, 0.3),
        # before λ: one fit, which at 10k courses the budget reaches (λ's last values it may not)
        "proximity_weight": (0.0, 4.0),
        "regularization": (100.0, 10.0, 50.0, 250.0, 500.0, 1000.0),
    },
    "sequence": {"recency_decay": (0.5, 1.0, 0.3)},
    "two_tower": {"objective": ("next", "all")},
}
#: searched in this order: two_tower's objective first, as it moves quality most (CNPC's
#: validation NDCG@10 0.24 "next" vs 0.16 "all", MovieLens' 0.13 vs 0.20); then sequence, whose
#: whole search is one fit and two rescorings (8 s at 10k courses), before item_cf's grid of
#: full-size fits (15 s each there) spends what is left of the budget
HYBRID_COMPONENTS = ("popularity", "content", "two_tower", "sequence", "item_cf")
#: settings a tuning may hold besides SEARCH's (two_tower's size is chosen after its trials)
CHOSEN_AFTER = {"two_tower": ("members",), "hybrid": ("weights",)}
DEFAULT_BUDGET_SECONDS = 120.0
POOL = 100
SHARED_TRIALS = ("two_tower",)
MAX_MEMBERS = 3
#: the final two_tower fit may take this many search budgets (it is not part of the search)
FINAL_FIT_BUDGETS = 3


@dataclass
class TuningResult:
    #: strategy -> the settings to fit it with (chosen or pinned); "hybrid" -> {"weights": {...}}
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: strategy -> {"ndcg@10": ...} on the inner validation part, with the chosen settings
    validation: dict[str, dict[str, float]] = field(default_factory=dict)
    #: every setting tried: {"strategy", "settings", "ndcg@10", "seconds", "learners" fitted on}
    trials: list[dict[str, Any]] = field(default_factory=list)
    pinned: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    budget_seconds: float = DEFAULT_BUDGET_SECONDS
    budget_exhausted: bool = False
    #: learners of the inner training part, and how many of them two_tower's trials fitted on
    learners: int = 0
    trial_learners: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "validation": self.validation,
            "pinned": self.pinned,
            "trials": self.trials,
            "seconds": round(self.seconds, 1),
            "budget_seconds": self.budget_seconds,
            "budget_exhausted": self.budget_exhausted,
            "learners": self.learners,
            "trial_learners": self.trial_learners,
        }


def tune(
    courses: Sequence[Course],
    interactions: Sequence[Interaction],
    factories: Factories,
    pinned: Mapping[str, Mapping[str, Any]] | None = None,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    progress: TuningProgress | None = None,
    protocol: str = "temporal",
    seed: int = 42,
    blend: bool = True,
) -> TuningResult:
    """Choose each strategy's settings by validation NDCG@10 on `interactions` (training data).

    factories: strategy name -> callable taking keyword settings and returning an unfitted
      Recommender; "item_cf" takes regularization/proximity_weight/recency_decay, "two_tower"
      objective/members (plus its config defaults), "popularity"/"content" take none. Only the names given are
      tuned; the hybrid's weights are searched over the HYBRID_COMPONENTS among them.
    pinned: strategy -> {setting: value} used as given and never searched, e.g.
      {"two_tower": {"objective": "next"}, "hybrid": {"weights": {"item_cf": 1.0}}}.
    budget_seconds: budget for the coordinate search in seconds of work (wall clock, or this
      process's CPU time when that is less: on a busy machine the search takes longer by the
      clock, and chooses the same); the final fits are not in it. When it runs out the best
      setting found so far is kept (config defaults if none was tried).
      two_tower's trials train one member; once its settings are chosen, the ensemble size that
      will be served is trained once more on the inner training part (sized like the final fit,
      so at most FINAL_FIT_BUDGETS budgets), and the hybrid's weights are searched on its lists.
    progress: called with one line per step.
    blend: also search the hybrid's weights (an evaluation without the hybrid leaves them out).
    protocol: "random" holds out a random 20% of each learner's courses; anything else the
      latest 20% of them (what a deployment is asked: what comes next).
    Above validation_split.MAX_TRIAL_EVENTS inner training events two_tower's trials fit on a
    random share of the learners (every validation learner among them); its size is then
    estimated for the whole data, and the chosen settings are trained once more on the whole
    inner part for the hybrid.
    Returns the settings per strategy (searched ones merged with the pinned ones) and the
    validation figures; refit on all data with `result.settings[name]` afterwards.
    """
    search = _Search(
        courses,
        interactions,
        pinned or {},
        budget_seconds,
        progress,
        protocol,
        seed,
        share=any(name in factories for name in SHARED_TRIALS),
    )
    lists: dict[str, list[list[Recommendation]]] = {}
    for name in HYBRID_COMPONENTS:
        if name in factories:
            lists[name] = search.strategy(name, factories[name])
    if blend:
        search.hybrid(lists)
    search.result.seconds = _since(search.started)
    return search.result


def known_settings(name: str) -> frozenset[str]:
    """The settings of `name` this version can choose (a tuning published by a newer version may
    hold others, which this one's factories would refuse)."""
    return frozenset((*SEARCH.get(name, {}), *CHOSEN_AFTER.get(name, ())))


def _now() -> tuple[float, float]:
    return time.monotonic(), time.process_time()


def _since(start: tuple[float, float]) -> float:
    """Seconds of work since `start`: the smaller of the wall clock and this process's CPU time,
    so other jobs on a shared machine do not eat the budget (nor make the ensemble smaller), and
    a fit on many threads still counts by the wall clock."""
    wall, cpu = _now()
    return min(wall - start[0], cpu - start[1])


class _Search:
    def __init__(
        self,
        courses: Sequence[Course],
        interactions: Sequence[Interaction],
        pinned: Mapping[str, Mapping[str, Any]],
        budget_seconds: float,
        progress: TuningProgress | None,
        protocol: str,
        seed: int,
        share: bool = False,
    ) -> None:
        """share: draw the share SHARED_TRIALS' trials fit on when the data is large."""
        self.started = _now()
        #: seconds of work outside the search's budget (the served-size two_tower trial)
        self.outside = 0.0
        #: strategy -> what its last trial fitted (on the share or not, and the settings that
        #: need a fit) and the fitted recommender, which a trial of scoring settings rescores
        self.fitted: dict[str, tuple[tuple[bool, dict[str, Any]], Recommender]] = {}
        self.budget_seconds = budget_seconds
        self.say = progress or (lambda line: None)
        self.courses = courses
        self.result = TuningResult(
            pinned={n: dict(p) for n, p in pinned.items()}, budget_seconds=budget_seconds
        )
        #: what each trial is fitted on and scored by
        self.split = ValidationSplit(interactions, protocol, seed, share)
        self.result.learners = self.split.train_learners
        self.result.trial_learners = self.split.trial_learners
        #: the inner training part's events per event of the share
        self.event_scale = len(self.split.train) / max(1, len(self.split.trial_train))
        shared = (
            f", two_tower's trials on {self.result.trial_learners} of its "
            f"{self.result.learners} learners ({len(self.split.trial_train)} events)"
            if self.result.trial_learners < self.result.learners
            else ""
        )
        self.say(
            f"tuning: {len(self.split.train)} inner training events{shared}, "
            f"{len(self.split.learners)} validation learners, budget {budget_seconds:g} s"
        )

    def _left(self) -> float:
        return self.budget_seconds - (_since(self.started) - self.outside)

    def _shared(self, name: str) -> bool:
        return name in SHARED_TRIALS and len(self.split.trial_train) < len(self.split.train)

    def _trial(
        self,
        name: str,
        factory: Callable[..., Recommender],
        settings: dict[str, Any],
        whole: bool = False,
    ) -> tuple[float, list[list[Recommendation]]]:
        started = _now()
        recommender = factory(**settings)
        shared = self._shared(name) and not whole
        scoring = recommender.scoring_settings
        fit = (shared, {k: v for k, v in settings.items() if k not in scoring})
        last = self.fitted.pop(name, None)
        if last is not None and scoring and last[0] == fit:
            recommender = last[1].rescored(**{k: v for k, v in settings.items() if k in scoring})
        else:
            del last  # before fitting another: two fitted models at once may not fit in memory
            recommender.fit(self.courses, self.split.trial_train if shared else self.split.train)
        self.fitted[name] = (fit, recommender)
        split = self.split
        lists = recommender.recommend_many(split.learners, POOL, split.excludes, explain=False)
        ndcg = split.score(lists)
        seconds = _since(started)
        self.result.trials.append(
            {
                "strategy": name,
                "settings": dict(settings),
                "ndcg@10": round(ndcg, 4),
                "seconds": round(seconds, 1),
                "learners": self.result.trial_learners if shared else self.result.learners,
            }
        )
        self.say(f"tuning {name} {settings}: validation ndcg@10 {ndcg:.4f} ({seconds:.1f} s)")
        return ndcg, lists

    def strategy(
        self, name: str, factory: Callable[..., Recommender]
    ) -> list[list[Recommendation]]:
        """Coordinate search over SEARCH[name] (one setting at a time, the others held at their
        best so far), skipping pinned settings; returns the best setting's candidate lists."""
        pinned = dict(self.result.pinned.get(name, {}))
        space = {k: v for k, v in SEARCH.get(name, {}).items() if k not in pinned}
        chosen = pinned | {k: values[0] for k, values in space.items()}
        resized = name == "two_tower" and "members" not in pinned
        if resized:
            chosen["members"] = 1  # one member per trial; the size is chosen afterwards
        # with nothing to compare, the one trial fits what is served, on every learner
        only = not space and not resized
        best, lists = self._trial(name, factory, chosen, whole=only)
        inert = self.fitted[name][1].inert_settings() & set(space)
        if inert:  # e.g. item_cf's λ and proximity weight when it fitted item-kNN
            self.say(f"tuning {name}: {', '.join(sorted(inert))} do not act on this data")
        trials = [(k, v) for k, values in space.items() if k not in inert for v in values[1:]]
        for key, value in trials:
            if self._left() <= 0:
                self.result.budget_exhausted = True
                self.say(f"tuning: budget spent, keeping {name} {chosen}")
                break
            ndcg, trial_lists = self._trial(name, factory, chosen | {key: value})
            if ndcg > best:
                best, lists, chosen = ndcg, trial_lists, chosen | {key: value}
        if resized:
            chosen["members"] = self._members(name)
        if resized and chosen["members"] > 1 or self._shared(name) and not only:
            # the hybrid's weights are searched on the lists of what is served: an ensemble
            # ranks better than one member, a model of every learner better than of a share,
            # and lists of the lesser one undersell it
            started = _now()
            best, lists = self._trial(name, factory, chosen, whole=True)
            self.outside += _since(started)  # sized like the final fit, not the search
        self.fitted.pop(name, None)
        self.result.validation[name] = {"ndcg@10": round(best, 4)}
        if best == 0 and trials:  # every setting tied at nothing: the first would pass for a choice
            self.say(f"tuning {name}: no setting found a held-out course; the configured ones stay")
            self.result.settings[name] = pinned | (
                {"members": chosen["members"]} if resized else {}
            )
            return lists
        # what did not act is not published as chosen
        self.result.settings[name] = {k: v for k, v in chosen.items() if k not in inert}
        return lists

    def _members(self, name: str) -> int:
        """two_tower's size: trials train one member; the final ensemble gets as many members
        (up to MAX_MEMBERS) as FINAL_FIT_BUDGETS budgets could train on a quarter more data (and
        on all of the learners, when the trials fitted on a share of them)."""
        seconds = [t["seconds"] for t in self.result.trials if t["strategy"] == name]
        each = max(1e-3, 1.25 * self.event_scale * sum(seconds) / len(seconds))
        allowed = FINAL_FIT_BUDGETS * self.result.budget_seconds
        return max(1, min(MAX_MEMBERS, int(allowed // each)))

    def hybrid(self, lists: Mapping[str, list[list[Recommendation]]]) -> None:
        pinned = self.result.pinned.get("hybrid", {})
        if "weights" in pinned:
            weights = dict(pinned["weights"])
            self.result.settings["hybrid"] = {"weights": weights}
            return
        if not lists:
            return
        weights, ndcg = search_weights(lists, self.split.truth)
        self.result.validation["hybrid"] = {"ndcg@10": round(ndcg, 4)}
        if ndcg == 0:  # every setting ties at nothing: the grid's first would pass for a choice
            self.say(
                "tuning hybrid: no weights found a held-out course (validation ndcg@10 0); "
                "the configured weights stay"
            )
            return
        self.result.settings["hybrid"] = {"weights": weights}
        self.say(f"tuning hybrid: weights {weights}, validation ndcg@10 {ndcg:.4f}")
