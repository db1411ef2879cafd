"""Bandit policies that pick which strategy serves a slate, learning from rewards in [0, 1]."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from domain.model import ArmStats, EventType
from domain.ports import Bandit

#: reward of a served slate by the strongest event it earned (complete > enroll > click > view)
DEFAULT_REWARDS: dict[EventType, float] = {
    EventType.VIEW: 0.05,
    EventType.CLICK: 0.3,
    EventType.ENROLL: 0.7,
    EventType.COMPLETE: 1.0,
}


def _best(arms: Sequence[str], stats: Mapping[str, ArmStats], value) -> list[str]:  # type: ignore[no-untyped-def]
    top = max(value(a) for a in arms)
    return [a for a in arms if value(a) >= top - 1e-12]


class EpsilonGreedy(Bandit):
    """With probability epsilon a random arm, otherwise the arm with the best mean reward."""

    name = "epsilon_greedy"

    def __init__(self, epsilon: float = 0.1) -> None:
        self.epsilon = epsilon

    def choose(self, arms: Sequence[str], stats: Mapping[str, ArmStats], rng: random.Random) -> str:
        if rng.random() < self.epsilon:
            return rng.choice(list(arms))
        return rng.choice(_best(arms, stats, lambda a: stats.get(a, ArmStats()).mean))

    def probabilities(self, arms: Sequence[str], stats: Mapping[str, ArmStats]) -> dict[str, float]:
        best = _best(arms, stats, lambda a: stats.get(a, ArmStats()).mean)
        return {
            a: self.epsilon / len(arms) + (1 - self.epsilon) * (a in best) / len(best) for a in arms
        }


class UCB1(Bandit):
    """Every arm once, then the best upper confidence bound: mean + sqrt(2 ln N / n)."""

    name = "ucb1"

    def _value(self, arm: str, stats: Mapping[str, ArmStats], total: int) -> float:
        own = stats.get(arm, ArmStats())
        if own.pulls == 0:
            return math.inf
        return own.mean + math.sqrt(2 * math.log(max(total, 1)) / own.pulls)

    def choose(self, arms: Sequence[str], stats: Mapping[str, ArmStats], rng: random.Random) -> str:
        total = sum(stats.get(a, ArmStats()).pulls for a in arms)
        return rng.choice(_best(arms, stats, lambda a: self._value(a, stats, total)))

    def probabilities(self, arms: Sequence[str], stats: Mapping[str, ArmStats]) -> dict[str, float]:
        total = sum(stats.get(a, ArmStats()).pulls for a in arms)
        best = _best(arms, stats, lambda a: self._value(a, stats, total))
        return {a: (a in best) / len(best) for a in arms}


class ThompsonSampling(Bandit):
    """Each arm's mean reward drawn from Beta(1 + rewards, 1 + pulls - rewards); the best draw wins."""

    name = "thompson"

    def _draw(self, arm: str, stats: Mapping[str, ArmStats], rng: random.Random) -> float:
        own = stats.get(arm, ArmStats())
        return rng.betavariate(1 + own.reward_sum, 1 + max(0.0, own.pulls - own.reward_sum))

    def choose(self, arms: Sequence[str], stats: Mapping[str, ArmStats], rng: random.Random) -> str:
        return max(arms, key=lambda a: self._draw(a, stats, rng))

    def probabilities(self, arms: Sequence[str], stats: Mapping[str, ArmStats]) -> dict[str, float]:
        rng = random.Random(0)
        wins = dict.fromkeys(arms, 0)
        for _ in range(2000):
            wins[self.choose(arms, stats, rng)] += 1
        return {a: wins[a] / 2000 for a in arms}


POLICIES: dict[str, type[Bandit]] = {p.name: p for p in (EpsilonGreedy, UCB1, ThompsonSampling)}


def make_policy(name: str, epsilon: float = 0.1) -> Bandit:
    if name not in POLICIES:
        raise ValueError(f"unknown bandit policy {name!r}; choose from {', '.join(POLICIES)}")
    return EpsilonGreedy(epsilon) if name == EpsilonGreedy.name else POLICIES[name]()
