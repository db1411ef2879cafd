"""The serving benchmark's data generator: a seeded catalog and a funnel of events, in any database."""

from __future__ import annotations

from collections import Counter

import numpy as np
from sqlalchemy import select

from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.tables import interactions
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from benchmarks.serving_data import generate, synthesise
from domain.model import EventType


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    first, again, other = (
        synthesise(90, 40, 600, 3),
        synthesise(90, 40, 600, 3),
        synthesise(90, 40, 600, 4),
    )
    assert first.courses == again.courses and np.array_equal(first.items, again.items)
    assert not np.array_equal(first.items, other.items)


def test_events_follow_the_funnel_and_the_levels_in_time():
    data = synthesise(300, 200, 5_000, 1)
    kinds = Counter(data.kinds.tolist())
    assert len(data.users) == 5_000 and np.all(np.diff(data.seconds) >= 0)
    assert kinds[0] > kinds[1] > kinds[2] > kinds[3] > 0  # view > click > enrol > complete
    assert data.seconds[-1] - data.seconds[0] > 200 * 86400  # spread over most of a year
    rows = {c.course_id: i for i, c in enumerate(data.courses)}
    first_seen: dict[tuple[int, int], float] = {}
    for user, item, when in zip(data.users, data.items, data.seconds, strict=True):
        first_seen.setdefault((int(user), int(item)), float(when))
    for (user, item), when in first_seen.items():
        for prerequisite in data.courses[item].prerequisites:
            before = first_seen.get((user, rows[prerequisite]))
            assert before is None or before <= when  # a learner reaches a level after the one below
    popularity = np.sort(np.bincount(data.items))[::-1]
    assert popularity[: len(popularity) // 10].sum() > 0.3 * popularity.sum()  # a long tail


def test_generate_writes_the_catalog_and_every_event_through_the_repositories(database_url):
    result = generate(database_url, courses=60, learners=30, events=500, seed=2)
    engine = build_engine(database_url)
    uow = SqlAlchemyUnitOfWork(engine)
    with uow:
        assert uow.courses.count() == 60 and uow.interactions.count() == 500
        course = uow.courses.get(uow.courses.all()[1].course_id)
        assert course is not None and course.prerequisites and course.tags and course.description
        # A stored learner (the generator's clock is "now", so a second synthesis may differ).
        stored = uow.connection.execute(select(interactions.c.user_id).limit(1)).scalar_one()
        history = uow.interactions.history(stored)
        assert history.events and {e.event_type for e in history.events} <= set(EventType)
    engine.dispose()
    assert result["events"] == 500 and result["rows_per_s"] > 0
