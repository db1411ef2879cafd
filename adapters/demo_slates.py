"""Thirty days of served recommendation lists for the demo LMS, with the clicks and enrolments
they earned: each strategy has its own true click-through rate, and a bandit that shifts its
traffic towards the best strategy as the days go by, so the first dashboard shows real curves."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from application.ports import UnitOfWork
from domain.model import (
    Course,
    EventType,
    Interaction,
    Recommendation,
    RecommendationId,
    Slate,
    UserId,
)

#: the probability that one shown course is clicked, per strategy (the story the charts tell)
TRUE_CTR = {
    "hybrid": 0.085,
    "two_tower": 0.07,
    "sequence": 0.06,
    "item_cf": 0.055,
    "content": 0.035,
    "popularity": 0.025,
}
ENROL_AFTER_CLICK = 0.3
#: relative traffic per hour of the day (UTC): quiet nights, a lunch bump, busy evenings
HOURLY = (1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 8, 8, 8, 8, 9, 10, 11, 10, 7, 4, 2)
SLATE_SIZE = 5
#: how the ids of the demo's lists begin
DEMO_PREFIX = "demo-"
#: higher ranks are seen more often; scaled so a slate's mean click chance is the true CTR
POSITION = [1 / (1 + 0.3 * rank) for rank in range(SLATE_SIZE)]
POSITION = [SLATE_SIZE * p / sum(POSITION) for p in POSITION]


@dataclass(frozen=True)
class DemoSlates:
    slates: list[Slate]
    #: clicks and enrolments carrying the recommendation_id of the slate they came from
    interactions: list[Interaction]


def demo_slates(
    courses: list[Course],
    learners: int,
    seed: int = 42,
    days: int = 30,
    now: datetime | None = None,
) -> DemoSlates:
    rng = random.Random(seed * 7919 + 1)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    active = [c for c in courses if c.active]
    # The long tail of appeal again: lists favour the courses learners like.
    appeal = [rng.paretovariate(1.2) for _ in active]
    strategies = list(TRUE_CTR)
    best = max(TRUE_CTR, key=TRUE_CTR.__getitem__)
    per_day = max(20, learners // 30)
    slates: list[Slate] = []
    events: list[Interaction] = []
    for day in range(days, 0, -1):
        start = (now - timedelta(days=day)).replace(hour=0, minute=0, second=0)
        # The bandit explores less as it learns: all arms alike on day 1, mostly the best at the end.
        explore = max(0.2, 1.0 - (days - day) / days)
        weekend = start.weekday() >= 5
        for _ in range(int(per_day * (0.6 if weekend else 1.0) * rng.uniform(0.85, 1.15))):
            served_at = start + timedelta(
                hours=rng.choices(range(24), weights=HOURLY)[0], seconds=rng.uniform(0, 3600)
            )
            if served_at >= now - timedelta(minutes=10):
                continue
            strategy = rng.choice(strategies) if rng.random() < explore else best
            user = UserId(f"user{rng.randint(1, learners)}")
            slate = _slate(rng, active, appeal, user, strategy, served_at)
            slates.append(slate)
            events += _outcomes(rng, slate, now)
    return DemoSlates(slates, sorted(events, key=lambda e: (e.occurred_at, e.event_id)))


def demo_lists_served(uow_factory: Callable[[], UnitOfWork]) -> bool:
    """Whether the demo's lists are stored."""
    with uow_factory() as uow:
        return uow.slates.any_named(DEMO_PREFIX)


def _slate(
    rng: random.Random,
    active: list[Course],
    appeal: list[float],
    user: UserId,
    strategy: str,
    served_at: datetime,
) -> Slate:
    chosen: dict[str, Course] = {}
    while len(chosen) < SLATE_SIZE:
        course = rng.choices(active, weights=appeal)[0]
        chosen[course.course_id] = course
    key = f"{user}|{strategy}|{served_at.isoformat()}"
    items = tuple(
        Recommendation(c.course_id, round(1.0 - rank / 10, 3), rank, strategy)
        for rank, c in enumerate(chosen.values(), start=1)
    )
    slate_id = RecommendationId(DEMO_PREFIX + hashlib.sha1(key.encode()).hexdigest()[:24])
    return Slate(slate_id, user, strategy, items, served_at, selected_by="bandit")  # as auto serves


def _outcomes(rng: random.Random, slate: Slate, now: datetime) -> list[Interaction]:
    found = []
    for item in slate.items:
        if rng.random() >= TRUE_CTR[slate.strategy] * POSITION[item.rank - 1]:
            continue
        clicked = slate.served_at + timedelta(seconds=rng.uniform(5, 600))
        found.append(_event(slate, item, EventType.CLICK, min(clicked, now)))
        if rng.random() < ENROL_AFTER_CLICK:
            enrolled = clicked + timedelta(seconds=rng.uniform(30, 1800))
            found.append(_event(slate, item, EventType.ENROLL, min(enrolled, now)))
    return found


def _event(slate: Slate, item: Recommendation, kind: EventType, moment: datetime) -> Interaction:
    key = f"{slate.recommendation_id}|{item.course_id}|{kind.value}"
    return Interaction(
        event_id="demo-" + hashlib.sha1(key.encode()).hexdigest()[:20],
        user_id=slate.user_id,
        course_id=item.course_id,
        event_type=kind,
        occurred_at=moment,
        recommendation_id=slate.recommendation_id,
    )
