"""Split protocols: random per-learner stratified, by time (each learner's latest share of courses,
or only the latest course), or the dataset's own."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from domain.model import CourseId, Interaction, UserId


@dataclass(frozen=True)
class Split:
    train: list[Interaction]
    test: list[Interaction]


def _by_user(interactions: Sequence[Interaction]) -> dict[UserId, list[Interaction]]:
    grouped: dict[UserId, list[Interaction]] = defaultdict(list)
    for event in interactions:
        grouped[event.user_id].append(event)
    return grouped


def random_split(interactions: Sequence[Interaction], ratio: float = 0.75, seed: int = 42) -> Split:
    """Each learner's courses shuffled (seeded) and cut at `ratio`, every event of a course on
    the side of its course; every learner keeps >= 1 course in train. Cut by event, a course
    viewed then enrolled in was mostly split across both parts, and a test course the learner
    has in training is never recommended nor counted: most learners had nothing left to find.
    With one event per course (MovieLens) the cut is the same as by event."""
    rng = random.Random(seed)
    train: list[Interaction] = []
    test: list[Interaction] = []
    for user in sorted(grouped := _by_user(interactions)):
        courses: dict[CourseId, list[Interaction]] = {}
        for event in grouped[user]:
            courses.setdefault(event.course_id, []).append(event)
        parts = list(courses.values())
        rng.shuffle(parts)
        cut = max(1, round(len(parts) * ratio))
        train += [event for part in parts[:cut] for event in part]
        test += [event for part in parts[cut:] for event in part]
    return Split(_chronological(train), _chronological(test))


def temporal_split(interactions: Sequence[Interaction], ratio: float = 0.75) -> Split:
    """Each learner's courses in the order first touched, the earliest `ratio` of them train and
    the rest test, every event of a course on the side of its course: the future is predicted
    from the past, as a live service must. Every learner keeps >= 1 course in train. Cut by
    event, a course viewed then enrolled in fell on both sides, and a test course the learner
    has in training is never recommended nor counted. Ordered by first touch, as leave-last-out:
    a course first viewed early and completed late is one the learner found early. With one
    event per course (MovieLens) the cut is the same as by event."""
    train: list[Interaction] = []
    test: list[Interaction] = []
    for events in _by_user(interactions).values():
        courses: dict[CourseId, list[Interaction]] = {}
        for event in _chronological(events):
            courses.setdefault(event.course_id, []).append(event)
        parts = list(courses.values())  # in the order first touched (dicts keep insertion order)
        cut = max(1, round(len(parts) * ratio))
        train += [event for part in parts[:cut] for event in part]
        test += [event for part in parts[cut:] for event in part]
    return Split(_chronological(train), _chronological(test))


def leave_last_out(interactions: Sequence[Interaction]) -> Split:
    """Each learner's latest course (the one first touched last) is the test, with every event
    of it; learners with a single course only train. The latest event alone was mostly a later
    touch of a course already in training (enroll after view, complete after enroll), which is
    neither recommended nor counted: on an LMS export 50 of 57 learners had nothing to find."""
    train: list[Interaction] = []
    test: list[Interaction] = []
    for events in _by_user(interactions).values():
        ordered = _chronological(events)
        first: dict[CourseId, Interaction] = {}
        for event in ordered:
            first.setdefault(event.course_id, event)
        if len(first) < 2:
            train += ordered
            continue
        latest = max(first.values(), key=lambda e: (e.occurred_at, e.event_id)).course_id
        train += [e for e in ordered if e.course_id != latest]
        test += [e for e in ordered if e.course_id == latest]
    return Split(_chronological(train), _chronological(test))


def fixed_split(train: Sequence[Interaction], test: Sequence[Interaction]) -> Split:
    """The dataset's own split, each part in time order: a file's rows need not be (an export
    sorted by learner), and sequence and two_tower read a history in the order it is given."""
    return Split(_chronological(list(train)), _chronological(list(test)))


def _chronological(events: list[Interaction]) -> list[Interaction]:
    return sorted(events, key=lambda e: (e.occurred_at, e.event_id))
