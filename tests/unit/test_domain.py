"""The domain's own rules."""

from __future__ import annotations

from datetime import datetime

from domain.model import EventType, Interaction, LearnerHistory, Level, UserId
from tests.conftest import event


def test_event_types_carry_the_reward_order():
    assert [
        e.strength for e in (EventType.VIEW, EventType.CLICK, EventType.ENROLL, EventType.COMPLETE)
    ] == [0, 1, 2, 3]


def test_enrolling_or_completing_takes_a_course_but_viewing_does_not():
    history = LearnerHistory(
        UserId("u"),
        (
            event("u", "a", "view"),
            event("u", "b", "enroll"),
            event("u", "c", "click"),
            event("u", "c", "complete", 5),
            event("u", "d", "view", 6),
        ),
    )
    assert history.taken() == {"b", "c"}
    assert history.seen() == {"a", "b", "c", "d"}
    assert history.strongest()["c"] is EventType.COMPLETE


def test_a_naive_timestamp_is_read_as_utc():
    naive = Interaction("e", UserId("u"), "c", EventType.VIEW, datetime(2026, 1, 1))  # type: ignore[arg-type]
    assert naive.occurred_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_levels_are_ordered():
    assert Level.BEGINNER.step < Level.INTERMEDIATE.step < Level.ADVANCED.step
