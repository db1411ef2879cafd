"""Cumulative regret of each bandit policy on simulated learners (application.bandit_simulation).

.venv/bin/python -m benchmarks.bandit_sim [--rounds 10000] [--seeds 5] [--falling-back 0]

--falling-back N adds N arms that find nothing for any learner (a model that answers nobody):
popularity serves their lists, and the last column says how often one of them was chosen.
"""

from __future__ import annotations

import argparse
import statistics

from application.bandit_simulation import DEFAULT_BEHAVIOUR, simulate
from domain.bandit import UCB1, EpsilonGreedy, ThompsonSampling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--falling-back", type=int, default=0)
    args = parser.parse_args()
    dead = [f"dead{n}" for n in range(args.falling_back)]
    checkpoints = [c for c in (100, 1_000, 5_000, 10_000, 50_000) if c <= args.rounds]
    print(f"{args.rounds:,} rounds, mean over {args.seeds} seeds; best arm: two_tower")
    print(
        f"{'policy':<22}"
        + "".join(f"{'regret@' + format(c, ','):>16}" for c in checkpoints)
        + f"{'best-arm share, last 1k':>26}"
        + (f"{'fallen-back share, last 1k':>29}" if dead else "")
    )
    for make in (lambda: EpsilonGreedy(0.1), lambda: EpsilonGreedy(0.05), UCB1, ThompsonSampling):
        runs = [
            simulate(make(), DEFAULT_BEHAVIOUR, args.rounds, seed, falls_back=dead)
            for seed in range(args.seeds)
        ]
        policy = make()
        label = policy.name + (
            f" (e={policy.epsilon})" if isinstance(policy, EpsilonGreedy) else ""
        )
        regret = [statistics.mean(r.cumulative_regret[c - 1] for r in runs) for c in checkpoints]
        share = statistics.mean(r.choices[-1000:].count(r.best_arm) / 1000 for r in runs)
        fell = statistics.mean(sum(c in dead for c in r.choices[-1000:]) / 1000 for r in runs)
        print(
            f"{label:<22}"
            + "".join(f"{v:>16.1f}" for v in regret)
            + f"{share:>26.3f}"
            + (f"{fell:>29.3f}" if dead else "")
        )


if __name__ == "__main__":
    main()
