"""What the erasure check costs a home request on PostgreSQL: RecommendHome as served (the
erasure mark read before the learner's history, at most every 10 s; the slate recorded under the
erasure hold once no erasure of the learner is found after that mark) against the same requests
with the check made a no-op, in interleaved rounds of the same process; medians of the
per-request time and their ratio. One learner was erased beforehand, as on a live service.

    .venv/bin/python -m benchmarks.home_erasure_check [--rounds 10] [--requests 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from contextlib import ExitStack
from unittest import mock

import torch

from adapters.sqlalchemy.learners import SqlErasureRepository
from application.slate_recorder import SlateRecorder
from application.use_cases.recommend_home import RecommendHomeQuery
from benchmarks.common import fresh_bench_database
from benchmarks.serving import container_for
from benchmarks.serving_data import generate
from domain.model import UserId

LEARNERS = 2000


def unchecked() -> ExitStack:
    """The home path as it was before the check: no erasure mark, no hold, no lookup."""
    stack = ExitStack()
    stack.enter_context(mock.patch.object(SlateRecorder, "mark", lambda self, uow: 0))
    stack.enter_context(
        mock.patch.object(SqlErasureRepository, "erased_after", lambda self, hashes, mark: {})
    )
    stack.enter_context(mock.patch.object(SqlErasureRepository, "hold", lambda self: None))
    return stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--strategy", default="item_cf")
    args = parser.parse_args()
    torch.set_num_threads(1)
    url = fresh_bench_database()
    generate(url, courses=300, learners=LEARNERS, events=60_000, seed=7)
    with tempfile.TemporaryDirectory() as models:
        container = container_for(url, models, refresh_seconds=3600)
        container.fit_strategies.add_kwargs(train_two_tower=None)  # not what is measured
        container.fit_strategies().execute()
        container.erase_learner().execute(UserId(f"learner{LEARNERS - 1}"))
        home = container.recommend_home()
        rng = random.Random(7)

        def requests() -> float:
            began = time.perf_counter()
            for _ in range(args.requests):
                learner = UserId(f"learner{rng.randrange(LEARNERS - 1)}")
                home.execute(RecommendHomeQuery(learner, 10, args.strategy))
            return (time.perf_counter() - began) / args.requests * 1000

        requests()  # warm-up: the snapshot loads
        ms: dict[str, list[float]] = {"checked": [], "unchecked": []}
        for _ in range(args.rounds):
            ms["checked"].append(requests())
            with unchecked():
                ms["unchecked"].append(requests())
        medians = {label: statistics.median(v) for label, v in ms.items()}
        print(
            f"home ({args.strategy}, PostgreSQL, {args.requests} requests x {args.rounds} "
            f"rounds): checked {medians['checked']:.2f} ms, unchecked "
            f"{medians['unchecked']:.2f} ms, ratio {medians['checked'] / medians['unchecked']:.3f}"
        )
        container.engine().dispose()


if __name__ == "__main__":
    main()
