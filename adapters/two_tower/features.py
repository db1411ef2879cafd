"""Deterministic feature hashing: the same course or history always maps to the same buckets.

Nothing here is fitted, so nothing needs saving beside the model but the bucket count.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from domain.model import Course, EventType, LearnerHistory

TOKEN = re.compile(r"[a-z0-9][a-z0-9+#-]*")
STOP = frozenset(
    "a an and the of in on for to with from by at is are your you this that it its as or be".split()
)


@functools.lru_cache(maxsize=1 << 20)
def bucket(feature: str, buckets: int) -> int:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % buckets


@dataclass(frozen=True)
class Bag:
    """A batch of weighted feature bags in torch.nn.EmbeddingBag's (indices, offsets, weights) form."""

    indices: np.ndarray
    offsets: np.ndarray
    weights: np.ndarray
    #: a second weighting of the same features (learner histories: recency-weighted)
    recent: np.ndarray | None = None


def _bag(rows: Sequence[Sequence[tuple[int, float]]]) -> Bag:
    offsets = np.zeros(len(rows), dtype=np.int64)
    indices: list[int] = []
    weights: list[float] = []
    for i, row in enumerate(rows):
        offsets[i] = len(indices)
        for index, weight in row:
            indices.append(index)
            weights.append(weight)
    return Bag(np.array(indices, dtype=np.int64), offsets, np.array(weights, dtype=np.float32))


class CourseFeatures:
    """Hashed id, category, level, tags and title/description words of a course."""

    def __init__(self, buckets: int) -> None:
        self.buckets = buckets

    def named(self, course: Course, with_id: bool = True) -> list[tuple[str, float]]:
        """The course's features by name, with their weights."""
        words = [
            w
            for w in TOKEN.findall(f"{course.title} {course.description}".lower())
            if w not in STOP
        ]
        named = [(f"category={course.category.lower()}", 1.0), (f"level={course.level.value}", 1.0)]
        named += [(f"tag={t.lower()}", 1.0) for t in course.tags]
        named += [(f"word={w}", 1.0 / max(1, len(words)) ** 0.5) for w in dict.fromkeys(words)]
        if with_id:
            named.append((f"id={course.course_id}", 1.0))
        return named

    def features(self, course: Course, with_id: bool = True) -> list[tuple[int, float]]:
        return [(bucket(name, self.buckets), w) for name, w in self.named(course, with_id)]

    def encode(self, courses: Sequence[Course], trained_ids: Iterable[str] | None = None) -> Bag:
        """Courses the model never saw in training get no id feature: their content speaks for them."""
        known = None if trained_ids is None else set(trained_ids)
        return _bag([self.features(c, known is None or c.course_id in known) for c in courses])


class LearnerFeatures:
    """Hashed user id, and the courses (and their categories) in the history weighted by event type."""

    def __init__(
        self,
        buckets: int,
        user_buckets: int,
        event_weights: Mapping[EventType, float],
        recency_decay: float = 1.0,
    ) -> None:
        self.buckets = buckets
        self.user_buckets = user_buckets
        self.event_weights = event_weights
        self.recency_decay = recency_decay

    def history_bag(
        self, histories: Sequence[Mapping[str, float]], categories: Mapping[str, str]
    ) -> Bag:
        """Each history's courses (and their categories) as one bag. Histories are in the order
        taken; with recency_decay < 1 the bag also carries `recent` weights, in which each step
        back in time counts recency_decay times less (what a learner took last term says most
        about what they take next)."""
        rows = []
        recent: list[float] = []
        for history in histories:
            even, late = _shares(history, 1.0), _shares(history, self.recency_decay)
            row = []
            for course_id, share in even.items():
                row.append((bucket(f"course={course_id}", self.buckets), share))
                recent.append(late[course_id])
                if course_id in categories:
                    category = bucket(f"category={categories[course_id].lower()}", self.buckets)
                    row.append((category, 0.5 * share))
                    recent.append(0.5 * late[course_id])
            rows.append(row)
        bag = _bag(rows)
        if self.recency_decay < 1.0:
            bag = replace(bag, recent=np.array(recent, dtype=np.float32))
        return bag

    def user_ids(self, user_ids: Sequence[str], known: Iterable[str] | None = None) -> np.ndarray:
        """Bucket of each user id; -1 (no id feature) for learners the model never trained on."""
        # A set is used as it is: copying 100k trained ids per request cost milliseconds.
        allowed = known if known is None or isinstance(known, set | frozenset) else set(known)
        return np.array(
            [
                bucket(f"user={u}", self.user_buckets) if allowed is None or u in allowed else -1
                for u in user_ids
            ],
            dtype=np.int64,
        )

    def weights(self, learner: LearnerHistory) -> dict[str, float]:
        """The learner's courses by their strongest event, of the types weighted (those the
        model was trained on) only."""
        return {
            c: self.event_weights[e]
            for c, e in learner.strongest().items()
            if e in self.event_weights
        }


def _shares(history: Mapping[str, float], decay: float) -> dict[str, float]:
    """Each course's weight, times decay per step back from the latest, as a share of the whole."""
    age = len(history) - 1
    weights = {c: w * decay ** (age - i) for i, (c, w) in enumerate(history.items())}
    total = sum(weights.values()) or 1.0
    return {c: w / total for c, w in weights.items()}
