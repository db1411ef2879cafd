"""two_tower as a strategy: FAISS candidates for learners and courses, from a trained model.

Serving loads the newest valid artifact version (a corrupt one is skipped and reported) and
embeds catalog courses the model has not seen from their content, so new courses need no
retraining. Evaluation passes a trainer instead, and fit() trains on the training part.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from adapters.faiss_index import FaissIndex
from adapters.scoring import ScoringRecommender
from adapters.two_tower.artifacts import NAME, LoadedModel, embed_courses, from_artifact
from adapters.two_tower.features import LearnerFeatures
from adapters.two_tower.trainer import TwoTowerTrainer
from application.ports import ArtifactStore, CorruptArtifact
from domain.errors import UnknownCourse
from domain.model import (
    DEFAULT_EVENT_WEIGHTS,
    Course,
    CourseId,
    EventType,
    Interaction,
    LearnerHistory,
    Recommendation,
    UserId,
)

log = logging.getLogger(__name__)


class TwoTowerRecommender(ScoringRecommender):
    name = "two_tower"

    def __init__(
        self,
        store: ArtifactStore | None = None,
        trainer: TwoTowerTrainer | None = None,
        event_weights: Mapping[EventType, float] = DEFAULT_EVENT_WEIGHTS,
        hnsw_above: int = 50_000,
    ) -> None:
        self.store = store
        self.trainer = trainer
        self.event_weights = dict(event_weights)
        self.hnsw_above = hnsw_above
        self.loaded: LoadedModel | None = None
        self.load_errors: list[str] = []
        self.index_catalog([])

    @property
    def ready(self) -> bool:
        return self.loaded is not None

    @property
    def model_version(self) -> str | None:
        return self.loaded.version if self.loaded else None

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        self.index_catalog(courses)
        if self.trainer is not None:
            histories: dict[UserId, dict[CourseId, EventType]] = defaultdict(dict)
            for event in interactions:
                best = histories[event.user_id].get(event.course_id)
                if best is None or event.event_type.strength > best.strength:
                    histories[event.user_id][event.course_id] = event.event_type
            self.loaded = self.trainer.fit(courses, histories)
        else:
            self.loaded = self._newest_valid()
        if self.loaded is not None:
            self._embed_catalog(self.loaded)

    def _newest_valid(self) -> LoadedModel | None:
        if self.store is None:
            return None
        current = self.store.current_version(NAME)
        for version in [v for v in [current] if v] + [
            v for v in self.store.versions(NAME) if v != current
        ]:
            try:
                return from_artifact(self.store.load(NAME, version), self.hnsw_above)
            except (CorruptArtifact, ValueError, RuntimeError, KeyError) as error:
                message = f"{NAME} version {version} rejected: {error}"
                log.error(message)
                self.load_errors.append(message)
        return None

    def _embed_catalog(self, loaded: LoadedModel) -> None:
        """Saved embeddings for courses the model knows; the course tower embeds the others."""
        saved = {c: i for i, c in enumerate(loaded.course_ids)}
        vectors = np.zeros((len(self.courses), loaded.embeddings.shape[1]), dtype=np.float32)
        new_rows = [i for i, c in enumerate(self.courses) if c.course_id not in saved]
        for i, course in enumerate(self.courses):
            if course.course_id in saved:
                vectors[i] = loaded.embeddings[saved[course.course_id]]
        if new_rows:
            vectors[new_rows] = embed_courses(
                loaded.model, [self.courses[i] for i in new_rows], loaded.trained_courses
            )
        self.vectors = vectors
        ids = [c.course_id for c in self.courses]
        if ids == loaded.course_ids:
            self.candidates = loaded.index
        else:
            self.candidates = FaissIndex(hnsw_above=self.hnsw_above)
            self.candidates.build(ids, vectors)

    @torch.no_grad()
    def _users(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        assert self.loaded is not None
        config = self.loaded.model.config
        features = LearnerFeatures(
            config.buckets, config.user_buckets, self.event_weights, config.recency_decay
        )
        categories = {c.course_id: c.category for c in self.courses}
        bag = features.history_bag([features.weights(learner) for learner in learners], categories)
        ids = features.user_ids(
            [learner.user_id for learner in learners], self.loaded.trained_users
        )
        return self.loaded.model.users(bag, ids).numpy()

    def scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        if self.loaded is None:
            return np.full((len(learners), len(self.courses)), -np.inf)
        result = self._users(learners) @ self.vectors.T
        for row, learner in enumerate(learners):
            if learner.is_new:
                result[row] = -np.inf  # nothing to go on: the use case falls back to popularity
        return result

    def recommend(
        self, learner: LearnerHistory, k: int, exclude: frozenset[CourseId] = frozenset()
    ) -> list[Recommendation]:
        if self.loaded is None or learner.is_new:
            return []
        found = self.candidates.search(self._users([learner])[0], k, exclude)
        return [
            Recommendation(
                course_id, score, rank, self.name, self.reason(learner, self.index[course_id])
            )
            for rank, (course_id, score) in enumerate(found, start=1)
        ]

    def reason(self, learner: LearnerHistory, row: int) -> str:
        """Names the learner's own course whose embedding is closest to this one."""
        strongest = learner.strongest()
        own = [self.index[c] for c in strongest if c in self.index and self.index[c] != row]
        if not own:
            event = strongest.get(self.courses[row].course_id)
            if event is not None:
                return f"You {event.past_tense} this course before"
            return "Picked for you from what you have studied"
        closest = own[int(np.argmax(self.vectors[own] @ self.vectors[row]))]
        return f"Learners who took {self.courses[closest].title} also took this"

    def similar(
        self, course_id: CourseId, k: int, exclude: frozenset[CourseId] = frozenset()
    ) -> list[Recommendation]:
        if course_id not in self.index:
            raise UnknownCourse(course_id)
        if self.loaded is None:
            return []
        source = self.courses[self.index[course_id]]
        found = self.candidates.search(
            self.vectors[self.index[course_id]], k, exclude | {course_id}
        )
        return [
            Recommendation(
                c, score, rank, self.name, f"Learners who took {source.title} also took this"
            )
            for rank, (c, score) in enumerate(found, start=1)
        ]

    def describe(self) -> dict[str, Any]:
        """What the admin API shows about the loaded model."""
        if self.loaded is None:
            return {"loaded": False, "errors": self.load_errors}
        manifest = self.loaded.manifest
        return {
            "loaded": True,
            "version": self.loaded.version,
            "trained_at": manifest.get("created_at"),
            "embedding_dim": int(self.vectors.shape[1]),
            "indexed_items": self.candidates.size,
            "index_type": self.candidates.kind,
            "validation_metrics": manifest.get("metrics", {}),
            "objective": manifest.get("training", {}).get("objective", "all"),
            "recency_decay": self.loaded.model.config.recency_decay,
            "errors": self.load_errors,
        }
