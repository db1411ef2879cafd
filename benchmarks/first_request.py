"""What the first `/similar` and home requests after a catalog change cost against the requests
after them, and what the refresher's check that loads the change costs (off the request path):
in memory, 10,000 generated courses, popularity and content published; one catalog change, the
refresher's check, then one request timed alone and `--requests` more, per round; medians. A
home request without filters is the reference a filtered one compares with: the filter's own
cost is the difference.

    .venv/bin/python -m benchmarks.first_request [--courses 10000] [--rounds 9] [--requests 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from adapters.fs_artifacts import FilesystemArtifactStore
from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from adapters.popularity import PopularityRecommender
from adapters.tfidf import ContentRecommender
from application.filters import check_filters
from application.strategies import StrategyRegistry
from application.use_cases.find_similar import FindSimilar, FindSimilarQuery
from application.use_cases.fit_strategies import FitStrategies
from application.use_cases.recommend_home import RecommendHome, RecommendHomeQuery
from benchmarks.serving_data import catalog
from domain.model import EventType, Interaction, Level, UserId


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(7)
    courses = catalog(args.courses, 7)
    store = InMemoryStore()

    def uow() -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(store)

    began = datetime(2026, 1, 1, tzinfo=UTC)
    with uow() as unit:
        unit.courses.upsert(courses)
        unit.interactions.add_batch(
            [
                Interaction(
                    f"e{n}",
                    UserId(f"u{n % 2000}"),
                    rng.choice(courses).course_id,
                    EventType("enroll"),
                    began + timedelta(minutes=n),
                )
                for n in range(20_000)
            ]
        )
        unit.commit()
    factories = {"popularity": lambda: PopularityRecommender(None), "content": ContentRecommender}
    with tempfile.TemporaryDirectory() as models:
        artifacts = FilesystemArtifactStore(models)
        FitStrategies(uow, factories, artifacts).execute()
        registry = StrategyRegistry(factories, uow, artifacts, refresh_seconds=3600)
        registry.snapshot()
        similar, home = FindSimilar(registry), RecommendHome(uow, registry, "popularity")
        asked = [c.course_id for c in courses]
        requests: dict[str, Callable[[], object]] = {
            "/similar": lambda: similar.execute(FindSimilarQuery(rng.choice(asked))),
            "home (no filter)": lambda: home.execute(
                RecommendHomeQuery(UserId(f"u{rng.randrange(2000)}"), 10, None)
            ),
            "home (category and level)": lambda: filtered_home(registry, home, rng),
        }
        refresh: list[float] = []
        first: dict[str, list[float]] = {name: [] for name in requests}
        after: dict[str, list[float]] = {name: [] for name in requests}
        for _ in range(args.rounds):
            for name, request in requests.items():
                with uow() as unit:  # the catalog changes: one course stored again
                    unit.courses.upsert([rng.choice(courses)])
                    unit.commit()
                refresh.append(_ms(registry._check_in_background))
                first[name].append(_ms(request))
                after[name].append(statistics.median(_ms(request) for _ in range(args.requests)))
    print(f"{args.courses} courses, medians of {args.rounds} rounds:")
    print(f"  the refresher's check after a catalog change: {statistics.median(refresh):.1f} ms")
    for name in requests:
        once, then = statistics.median(first[name]), statistics.median(after[name])
        print(f"  {name}: first {once:.2f} ms, after {then:.2f} ms, first pays {once - then:.2f}")


def filtered_home(registry: StrategyRegistry, home: RecommendHome, rng: random.Random) -> object:
    """A home request with filters as the API serves it: the filters checked, then the list."""
    check_filters(registry.snapshot(), "Programming", Level.BEGINNER)
    return home.execute(
        RecommendHomeQuery(
            UserId(f"u{rng.randrange(2000)}"), 10, None, "Programming", Level.BEGINNER
        )
    )


def _ms(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


if __name__ == "__main__":
    main()
