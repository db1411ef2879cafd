"""A large, seeded LMS for the serving and training benchmarks, written through our own repositories.

    python -m benchmarks.serving_data --url sqlite:///var/bench.db [--courses 10000]
        [--learners 100000] [--events 2000000] [--seed 7]

Courses: every subject of adapters/demo_data.CATALOG crossed with an application domain ("Python for
Healthcare"), at three levels, each level requiring the one below. Events: subjects have a
power-law appeal; each learner has one or two favourite categories and walks up subjects' levels
over time (view, then sometimes click, enrol, complete: a funnel), starting somewhere in the year
before `end`; how active a learner is follows a log-normal, so a few learners do a lot.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import event

from adapters.demo_data import CATALOG
from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.model import Course, CourseId, EventType, Interaction, Level, UserId

DOMAINS = (
    "Healthcare, Finance, Retail, Education, Startups, Government, Manufacturing, Energy, Media, "
    "Logistics, Science, Nonprofits, Law, Games, Agriculture, Telecoms, Insurance, Travel, Sports, "
    "Music, Architecture, Biology, Chemistry, Public Health, Journalism, Real Estate, Hospitality, "
    "Automotive, Aerospace, Pharma, Banking, Marketing Teams, Engineers, Managers, Researchers, "
    "Teachers, Designers, Analysts, Beginners at Work, Small Business, Remote Teams, Consultants, "
    "Nurses, Students, Scientists, Developers, Writers, Artists, Volunteers, Entrepreneurs"
).split(", ")
LEVELS = (
    (Level.BEGINNER, "{name} Basics for {domain}", "Start from zero with {name} in {domain}:"),
    (Level.INTERMEDIATE, "Intermediate {name} for {domain}", "Real {domain} projects in {name}:"),
    (Level.ADVANCED, "Advanced {name} for {domain}", "Expert {name} for {domain}:"),
)
KINDS = list(EventType)
BATCH = 20_000


def catalog(courses: int, seed: int) -> list[Course]:
    """`courses` courses in chains of three levels; subject and domain order shuffled by seed.
    Past the 10,350 subject and domain pairs make, they come again as further editions."""
    rng = np.random.default_rng(seed)
    subjects = [(cat, name, kw) for cat, subs in CATALOG.items() for name, kw in subs.values()]
    pairs = [(s, d) for d in DOMAINS for s in subjects]
    order = rng.permutation(len(pairs))
    chains = -(-courses // 3)
    result: list[Course] = []
    for at in range(chains):
        (category, name, keywords), domain = pairs[order[at % len(order)]]
        edition = at // len(order)
        previous: tuple[CourseId, ...] = ()
        for level, title, opening in LEVELS:
            course_id = CourseId(f"c{len(result):06d}")
            text = opening.format(name=name, domain=domain)
            named = title.format(name=name, domain=domain)
            result.append(
                Course(
                    course_id,
                    f"{named}, edition {edition + 1}" if edition else named,
                    f"{text} {', '.join(keywords)} and how {domain.lower()} use them.",
                    category,
                    level,
                    (*keywords, domain.lower().replace(" ", "-")),
                    previous,
                )
            )
            previous = (course_id,)
    return result[:courses]


@dataclass
class Generated:
    """Events as parallel arrays in time order (a few bytes an event, not a Python object each)."""

    courses: list[Course]
    users: np.ndarray  # learner number
    items: np.ndarray  # index into courses
    kinds: np.ndarray  # index into EventType
    seconds: np.ndarray  # POSIX time
    seed: int

    def batches(self, size: int = BATCH) -> Iterator[list[Interaction]]:
        for start in range(0, len(self.users), size):
            stop = start + size
            yield [
                Interaction(
                    f"g{self.seed}-{start + i:010d}",  # in index order: appends, no page splits
                    UserId(f"learner{u}"),
                    self.courses[c].course_id,
                    KINDS[k],
                    datetime.fromtimestamp(s, UTC),
                )
                for i, (u, c, k, s) in enumerate(
                    zip(
                        self.users[start:stop].tolist(),
                        self.items[start:stop].tolist(),
                        self.kinds[start:stop].tolist(),
                        self.seconds[start:stop].tolist(),
                        strict=True,
                    )
                )
            ]

    def histories(self) -> dict[UserId, dict[CourseId, EventType]]:
        """The strongest event per (learner, course), courses in the order first touched."""
        result: dict[UserId, dict[CourseId, EventType]] = {}
        for u, c, k in zip(
            self.users.tolist(), self.items.tolist(), self.kinds.tolist(), strict=True
        ):
            history = result.setdefault(UserId(f"learner{u}"), {})
            course = self.courses[c].course_id
            if course not in history or k > history[course].strength:
                history[course] = KINDS[k]
        return result


def synthesise(
    courses: int, learners: int, events: int, seed: int = 7, end: datetime | None = None
) -> Generated:
    """`events` events by `learners` learners (those with no budget left out) over `courses`."""
    rng = random.Random(seed)
    catalog_ = catalog(courses, seed)
    end_s = (end or datetime(2026, 1, 1, tzinfo=UTC)).timestamp()
    chains = [list(range(i, min(i + 3, len(catalog_)))) for i in range(0, len(catalog_), 3)]
    appeal = [rng.paretovariate(1.1) for _ in chains]  # a few subjects are far more popular
    by_category: dict[str, list[int]] = {}
    for n, chain in enumerate(chains):
        by_category.setdefault(catalog_[chain[0]].category, []).append(n)
    categories = sorted(by_category)
    cumulative = {
        c: list(itertools.accumulate(appeal[n] for n in by_category[c])) for c in categories
    }
    everything = list(itertools.accumulate(appeal))
    category_weight = [cumulative[c][-1] for c in categories]
    activity = np.random.default_rng(seed).lognormal(0.0, 1.0, learners)
    spare = max(0, events - learners)
    budgets = np.random.default_rng(seed).multinomial(spare, activity / activity.sum())
    budgets += 1 if events >= learners else 0
    out_u, out_c, out_k, out_s = array("i"), array("i"), array("b"), array("d")
    for user, budget in enumerate(budgets.tolist()):
        favourites = rng.choices(categories, category_weight, k=1 + (rng.random() < 0.3))
        moment = end_s - rng.random() * 365 * 86400
        reached: dict[int, int] = {}
        left = budget
        while left > 0:
            if rng.random() < 0.85:
                category = rng.choice(favourites)
                ids, weights = by_category[category], cumulative[category]
                chain = ids[bisect.bisect(weights, rng.random() * weights[-1], hi=len(ids) - 1)]
            else:
                chain = bisect.bisect(everything, rng.random() * everything[-1], hi=len(chains) - 1)
            for step in range(reached.get(chain, 0), len(chains[chain])):
                course = chains[chain][step]
                moment += 3600 + rng.random() * 5 * 86400
                funnel = [0]  # view; then click 55%, enrol half of those, complete 60% of those
                if rng.random() < 0.55:
                    funnel.append(1)
                    if rng.random() < 0.5:
                        funnel.append(2)
                        if rng.random() < 0.6:
                            funnel.append(3)
                for kind in funnel[:left]:
                    if kind == 3:  # completing takes days; the next level starts after it
                        moment += (5 + 25 * rng.random()) * 86400
                    out_u.append(user)
                    out_c.append(course)
                    out_k.append(kind)
                    out_s.append(min(end_s, moment + 60.0 * kind))
                left -= len(funnel)
                if left <= 0 or len(funnel) < 4 or rng.random() < 0.4:
                    break
                reached[chain] = step + 1
    seconds = np.frombuffer(out_s, dtype=np.float64)
    order = np.argsort(seconds, kind="stable")
    return Generated(
        catalog_,
        np.frombuffer(out_u, dtype=np.int32)[order],
        np.frombuffer(out_c, dtype=np.int32)[order],
        np.frombuffer(out_k, dtype=np.int8)[order],
        seconds[order],
        seed,
    )


def generate(
    url: str, courses: int = 10_000, learners: int = 100_000, events: int = 2_000_000, seed: int = 7
) -> dict[str, float]:
    """Write the catalog and events into the (migrated) database at `url`; returns timings."""
    started = time.perf_counter()
    data = synthesise(courses, learners, events, seed)
    made = time.perf_counter()
    upgrade(url)
    engine = build_engine(url)
    if engine.dialect.name == "sqlite":
        # The default 2 MB page cache makes every index insert a disk read once the table is big.
        event.listen(engine, "connect", _big_sqlite_cache)
    uow = SqlAlchemyUnitOfWork(engine)
    with uow:
        for start in range(0, len(data.courses), 2_000):
            uow.courses.upsert(data.courses[start : start + 2_000])
        uow.commit()
    written = 0
    for batch in data.batches():
        with uow:
            written += uow.interactions.add_batch(batch)
            uow.commit()
    done = time.perf_counter()
    engine.dispose()
    return {
        "courses": float(len(data.courses)),
        "events": float(written),
        "generate_s": made - started,
        "write_s": done - made,
        "rows_per_s": (written + len(data.courses)) / (done - made),
    }


def _big_sqlite_cache(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.execute("PRAGMA cache_size=-262144")  # 256 MB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = generate(args.url, args.courses, args.learners, args.events, args.seed)
    print(
        f"{result['courses']:,.0f} courses and {result['events']:,.0f} events: generated in "
        f"{result['generate_s']:.1f} s, written in {result['write_s']:.1f} s "
        f"({result['rows_per_s']:,.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
