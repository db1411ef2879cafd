"""The question a settings search is scored on: the training part split again as the service is asked."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence

from application.evaluation.metrics import ndcg_at_k
from application.evaluation.splits import random_split, temporal_split
from domain.model import CourseId, Interaction, LearnerHistory, Recommendation

MAX_USERS = 2000
#: above this many inner training events two_tower's trials fit on a random share of the
#: learners (the validation learners and others up to about this many events): a trial costs
#: time in proportion to the events (at 2M events one trial spent the whole default budget), and
#: which objective fits the data shows on a share. item_cf's trials fit on the whole part: their
#: cost is the catalog's inverse whatever the learners, and the best λ depends on the data's size
#: (measured at 10k courses: the λ chosen on a 16% share, scaled up, ranked worse on the whole)
MAX_TRIAL_EVENTS = 250_000


class ValidationSplit:
    """`interactions` (an evaluation's training part, or a deployment's events) split again:
    protocol "random" holds out a random 20% of each learner's courses, anything else each
    learner's latest 20% of courses (what a deployment is asked: what comes next), every event
    of a course on one side. Up to MAX_USERS learners with something held out are asked, each
    for the courses held out that they have not already taken."""

    def __init__(
        self, interactions: Sequence[Interaction], protocol: str, seed: int, share: bool = False
    ) -> None:
        """share: also draw the share of learners that trials of large data fit on."""
        split = (
            random_split(interactions, 0.8, seed)
            if protocol == "random"
            else temporal_split(interactions, 0.8)
        )
        #: the inner training part, what a trial fits on
        self.train = split.train
        histories: dict[str, list[Interaction]] = defaultdict(list)
        for event in split.train:
            histories[event.user_id].append(event)
        truth: dict[str, set[CourseId]] = defaultdict(set)
        for event in split.test:
            truth[event.user_id].add(event.course_id)
        users = sorted(u for u in truth if u in histories)
        users = random.Random(seed).sample(users, min(len(users), MAX_USERS))
        #: the learners asked, what each has taken (left out of their lists), what each should find
        self.learners = [LearnerHistory(u, tuple(histories[u])) for u in users]
        self.excludes = [learner.seen() for learner in self.learners]
        self.truth = [truth[u] - self.excludes[i] for i, u in enumerate(users)]
        kept = self._share(histories, set(users), seed) if share else None
        #: the share's training events (all of them when the data is small or share is False)
        self.trial_train = (
            self.train if kept is None else [e for e in self.train if e.user_id in kept]
        )
        self.train_learners = len(histories)
        self.trial_learners = len(histories) if kept is None else len(kept)

    def _share(
        self, histories: Mapping[str, list[Interaction]], validation: set[str], seed: int
    ) -> set[str] | None:
        """None (every learner), or above MAX_TRIAL_EVENTS the validation learners and as many
        others, drawn at random, as bring their histories to about that many events."""
        if len(self.train) <= MAX_TRIAL_EVENTS:
            return None
        others = sorted(set(histories) - validation)
        random.Random(seed).shuffle(others)
        kept, events = set(validation), sum(len(histories[u]) for u in validation)
        for user in others:
            if events >= MAX_TRIAL_EVENTS:
                break
            kept.add(user)
            events += len(histories[user])
        return kept

    def score(self, lists: Sequence[Sequence[Recommendation]]) -> float:
        """Mean NDCG@10 of one list per asked learner, over the learners with something to find."""
        scored = [
            ndcg_at_k([r.course_id for r in items], relevant, 10)
            for items, relevant in zip(lists, self.truth, strict=True)
            if relevant
        ]
        return sum(scored) / len(scored) if scored else 0.0
