"""A seeded simulation of learners answering slates, to compare bandit policies offline."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.bandit import DEFAULT_REWARDS
from domain.model import ArmStats, EventType
from domain.ports import Bandit


@dataclass(frozen=True)
class SimulationResult:
    policy: str
    choices: list[str]
    cumulative_regret: list[float]
    best_arm: str


def simulate(
    policy: Bandit,
    behaviour: Mapping[str, Mapping[EventType, float]],
    rounds: int,
    seed: int = 0,
    rewards: Mapping[EventType, float] = DEFAULT_REWARDS,
    falls_back: Sequence[str] = (),
    fallback: str = "popularity",
) -> SimulationResult:
    """Each round the policy picks a strategy; the simulated learner then clicks, enrolls and
    completes with that strategy's probabilities (each step conditional on the one before), and
    the policy learns the reward at once. Regret is measured against the best expected reward.
    Arms in `falls_back` find nothing for any learner: `fallback` serves their lists, and the
    arm chosen is credited with what they earned (as update_bandit counts)."""
    rng = random.Random(seed)
    arms = [*behaviour, *falls_back]

    def expected(arm: str) -> float:
        chance, value, reached = behaviour[arm], 0.0, 1.0
        best = 0.0
        for event in (EventType.CLICK, EventType.ENROLL, EventType.COMPLETE):
            reached *= chance.get(event, 0.0)
            value += reached * (rewards[event] - best)
            best = rewards[event]
        return value

    best_arm = max(behaviour, key=expected)
    stats: dict[str, ArmStats] = {}
    regret = 0.0
    choices, curve = [], []
    for _ in range(rounds):
        arm = policy.choose(arms, stats, rng)
        served = fallback if arm in falls_back else arm
        reward = 0.0
        for event in (EventType.CLICK, EventType.ENROLL, EventType.COMPLETE):
            if rng.random() >= behaviour[served].get(event, 0.0):
                break
            reward = rewards[event]
        stats[arm] = stats.get(arm, ArmStats()).add(1, reward, None)
        regret += expected(best_arm) - expected(served)
        choices.append(arm)
        curve.append(regret)
    return SimulationResult(policy.name, choices, curve, best_arm)


#: strategies whose learners click, enroll and complete at different rates (two_tower is best)
DEFAULT_BEHAVIOUR: dict[str, dict[EventType, float]] = {
    "two_tower": {EventType.CLICK: 0.30, EventType.ENROLL: 0.50, EventType.COMPLETE: 0.40},
    "hybrid": {EventType.CLICK: 0.27, EventType.ENROLL: 0.45, EventType.COMPLETE: 0.40},
    "content": {EventType.CLICK: 0.20, EventType.ENROLL: 0.40, EventType.COMPLETE: 0.35},
    "popularity": {EventType.CLICK: 0.15, EventType.ENROLL: 0.35, EventType.COMPLETE: 0.30},
}
