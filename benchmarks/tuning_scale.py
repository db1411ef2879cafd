"""The trainer's settings search at scale: trials on the whole data against trials on a share.

    nice -n 10 .venv/bin/python -m benchmarks.tuning_scale [--courses 10000] [--learners 100000]
        [--events 2000000] [--budget 120] [--threads 1]

Data from benchmarks.serving_data (seeded). The search runs as the trainer runs it (split by
time, the deployment's factories and the shipped two_tower config, RS_TUNING_BUDGET_SECONDS
--budget), twice in this process: "whole" fits two_tower's trials on the whole inner training
part (as before application.validation_split.MAX_TRIAL_EVENTS), "share" on the validation
learners and a random share of the others. For each it prints the seconds of work, the trials
it got through within the budget, the two_tower trial on every learner outside the budget (if
any), its choices and the validation figures of what it chose (every figure of a model fitted on
the whole inner part).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections import Counter

import torch

from application import tuning, validation_split
from benchmarks.serving_data import synthesise
from entrypoints.config import load_settings
from entrypoints.container import Container


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", default="whole,share")
    parser.add_argument(
        "--dense-limit",
        type=int,
        default=0,
        help="item_cf's max_dense_items (default its own, 20,000): below the catalog's size it "
        "fits item-kNN, as a deployment above 20,000 courses does",
    )
    parser.add_argument(
        "--strategies", default="", help="search only these (comma-separated), e.g. item_cf"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    data = synthesise(args.courses, args.learners, args.events, seed=7)
    events = [e for batch in data.batches() for e in batch]
    print(
        f"{len(data.courses):,} courses, {len(events):,} events generated in "
        f"{time.perf_counter() - started:.0f} s; budget {args.budget:.0f} s, "
        f"torch {args.threads} thread(s)",
        flush=True,
    )
    settings = load_settings({"RS_DATABASE_URL": "memory://"})
    settings["two_tower"] = {**(settings.get("two_tower") or {}), "threads": args.threads}
    container = Container()
    container.config.from_dict(settings)
    factories = dict(container.deployment_tuning_factories())
    if args.dense_limit:
        factories["item_cf"] = functools.partial(
            factories["item_cf"], max_dense_items=args.dense_limit
        )
    if args.strategies:
        factories = {n: f for n, f in factories.items() if n in args.strategies.split(",")}
    shipped = validation_split.MAX_TRIAL_EVENTS
    try:
        for run in args.runs.split(","):
            validation_split.MAX_TRIAL_EVENTS = shipped if run == "share" else len(events)
            search(run, data.courses, events, factories, args.budget)
    finally:
        validation_split.MAX_TRIAL_EVENTS = shipped


def search(run: str, courses, events, factories, budget: float) -> None:  # type: ignore[no-untyped-def]
    wall = time.perf_counter()
    result = tuning.tune(
        courses,
        events,
        factories,
        budget_seconds=budget,
        progress=lambda line: print(f"  {line}", flush=True),
    )
    tried = Counter(t["strategy"] for t in result.trials)
    towers = [t for t in result.trials if t["strategy"] == "two_tower"]
    shared = result.trial_learners < result.learners
    outside = (
        f"then trained on {towers[-1]['learners']:,} learners outside the budget in "
        f"{towers[-1]['seconds']:.0f} s"
        if towers
        and (
            towers[-1]["settings"]["members"] > 1
            or shared
            and towers[-1]["learners"] == result.learners
        )
        else "no trial outside the budget"
    )
    print(
        f"{run}: {result.seconds:.0f} s of work, {time.perf_counter() - wall:.0f} s by the "
        f"clock; two_tower's trials on {result.trial_learners:,} of {result.learners:,} learners, "
        f"{outside}; trials {dict(tried)}; budget spent: {result.budget_exhausted}; chose "
        f"{result.settings}; validation {result.validation}",
        flush=True,
    )


if __name__ == "__main__":
    main()
