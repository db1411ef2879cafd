"""two_tower as a strategy: FAISS candidates for learners and courses, from a trained model.

A web worker restores a published version: course embeddings, their FAISS index and the learner
tower as numpy arrays (no torch). Courses added to the catalog since that version are not
candidates until the trainer re-embeds the catalog. Evaluation passes a trainer instead, and
fit() trains on the training part; both answer through the same numpy learner tower.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from adapters.arrays import array
from adapters.faiss_index import FaissIndex
from adapters.scoring import ScoringRecommender, a_course_in
from adapters.taken_together import EVIDENCE, restore_together, took_both, took_pairs
from adapters.two_tower import serving
from adapters.two_tower.features import LearnerFeatures
from application.manifests import training_figures
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
from domain.ports import Published

if TYPE_CHECKING:
    from adapters.two_tower.trainer import TwoTowerTrainer

NAME = "two_tower"
SERVED_FILES = ("item_embeddings.npy", "item_ids.json", "trained_users.json", "item_index.faiss")


class TwoTowerRecommender(ScoringRecommender):
    name = NAME

    def __init__(
        self,
        trainer: TwoTowerTrainer | None = None,
        event_weights: Mapping[EventType, float] = DEFAULT_EVENT_WEIGHTS,
        hnsw_above: int = 50_000,
    ) -> None:
        self.trainer = trainer
        self.event_weights = dict(event_weights)
        self.hnsw_above = hnsw_above
        self.tower: serving.LearnerTower | None = None
        self.version: str | None = None
        self.manifest: dict[str, Any] = {}
        self.trained_users: set[str] = set()
        #: which courses learners took together: what a reason may name (adapters.taken_together)
        self.together: sparse.csr_matrix | None = None
        self.index_catalog([])

    @property
    def ready(self) -> bool:
        return self.tower is not None

    @property
    def model_version(self) -> str | None:
        return self.version

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        """Train on the training part (evaluation)."""
        from adapters.two_tower.artifacts import learner_tower

        if self.trainer is None:
            raise ValueError("two_tower fits only with a trainer; web workers restore()")
        histories: dict[UserId, dict[CourseId, EventType]] = defaultdict(dict)
        for event in interactions:
            best = histories[event.user_id].get(event.course_id)
            if best is None or event.event_type.strength > best.strength:
                histories[event.user_id][event.course_id] = event.event_type
        loaded = self.trainer.fit(courses, histories)
        self.index_catalog(courses)
        self._serve(
            learner_tower(loaded.model),
            loaded.manifest,
            loaded.embeddings,
            loaded.index,
            loaded.trained_users,
        )
        self.together = restore_together(loaded.evidence, self.index)

    def serving_files(self, manifest: Mapping[str, Any]) -> Collection[str]:
        """What a worker reads of a version: not the torch weights, unless it predates the
        numpy learner tower."""
        published = manifest.get("files", {})
        evidence = [name for name in published if name.startswith(EVIDENCE)]
        return (*SERVED_FILES, serving.FILE if serving.FILE in published else "model.pt", *evidence)

    def restore(
        self,
        files: Mapping[str, bytes],
        manifest: Mapping[str, Any],
        catalog: Mapping[CourseId, Course],
    ) -> None:
        missing = [f for f in SERVED_FILES if f not in files]
        if missing:
            raise ValueError(f"{NAME} {manifest.get('version')} lacks {', '.join(missing)}")
        listed = json.loads(files["item_ids.json"])
        course_ids = _ids(listed.get("course_ids") if isinstance(listed, dict) else None)
        if course_ids is None or len(set(course_ids)) != len(course_ids):
            raise ValueError("item_ids.json must list each course id once, as a string")
        embeddings = array(files, "item_embeddings.npy").astype(np.float32)
        if embeddings.ndim != 2 or embeddings.shape[0] != len(course_ids):
            raise ValueError(
                f"embeddings of shape {embeddings.shape} for {len(course_ids)} courses"
            )
        index = FaissIndex(hnsw_above=self.hnsw_above)
        index.load(course_ids, files["item_index.faiss"])
        if index.dim != embeddings.shape[1]:
            # searched with a learner's vector of the embeddings' width, every request would fail
            raise ValueError(
                f"an index of width {index.dim} for embeddings of width {embeddings.shape[1]}"
            )
        if serving.FILE in files:
            tower = serving.LearnerTower.from_bytes(files[serving.FILE], manifest["tower"])
        else:
            tower = _tower_from_weights(files, manifest)  # a version from before the numpy tower
        self.restore_catalog(course_ids, catalog)
        users = _ids(json.loads(files["trained_users.json"]))
        if users is None:
            raise ValueError("trained_users.json must be a list of learner ids, as strings")
        index.catalog_rows(catalog)  # worked out here, not by the first filtered request
        self._serve(tower, dict(manifest), embeddings, index, set(users))
        self.together = restore_together(files, self.index)

    def _serve(
        self,
        tower: serving.LearnerTower,
        manifest: dict[str, Any],
        embeddings: np.ndarray,
        index: FaissIndex,
        trained_users: set[str],
    ) -> None:
        if embeddings.shape[1] != tower.members[0].layers[-1][0].shape[0] * len(tower.members):
            raise ValueError(f"embeddings of width {embeddings.shape[1]} do not fit the tower")
        config = manifest.get("tower", {})
        # The learner tower reads the event types it was trained on, no others: a history of
        # views is no input to a model trained on enrolments and completions only.
        kinds = {EventType(t) for t in manifest.get("training", {}).get("event_types", EventType)}
        self.features = LearnerFeatures(
            int(config.get("buckets", 1 << 15)),
            int(config.get("user_buckets", 1 << 14)),
            {event: w for event, w in self.event_weights.items() if event in kinds},
            float(config.get("recency_decay", 1.0)),
        )
        self.tower = tower
        self.manifest = manifest
        self.version = manifest.get("version")
        self.vectors = embeddings
        self.candidates = index
        self.trained_users = trained_users
        self.categories = {c.course_id: c.category for c in self.courses}

    def dump(self) -> Published:
        raise NotImplementedError("two_tower is published by its trainer (TrainTwoTower)")

    def _users(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        assert self.tower is not None
        bag = self.features.history_bag(
            [self.features.weights(learner) for learner in learners], self.categories
        )
        ids = self.features.user_ids([learner.user_id for learner in learners], self.trained_users)
        return self.tower.users(bag, ids)

    def scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        if self.tower is None:
            return np.full((len(learners), len(self.courses)), -np.inf)
        result = self._users(learners) @ self.vectors.T
        for row, learner in enumerate(learners):
            if not self._knows(learner):
                result[row] = -np.inf  # nothing to go on: the use case falls back to popularity
        return result

    def answers(self, learner: LearnerHistory) -> bool:
        return self.ready and self._knows(learner)

    def _knows(self, learner: LearnerHistory) -> bool:
        """Whether the model has any of the learner's courses, by an event type it reads
        (courses added since training are unknown until a reindex embeds them)."""
        return any(c in self.index for c in self.features.weights(learner))

    def scored(
        self, learner: LearnerHistory, k: int, exclude: AbstractSet[CourseId] = frozenset()
    ) -> list[tuple[CourseId, float]]:
        """FAISS candidates (recommend() builds on this; recommend_many() scores the whole
        catalog, for evaluation)."""
        if self.tower is None or not self._knows(learner):
            return []
        return self.candidates.search(self._users([learner])[0], k, exclude)

    def reasons(self, learner: LearnerHistory, rows: Sequence[int]) -> list[str]:
        """Names, per course, the learner's own course whose embedding is closest to it among
        those some learner took together with it, if it is closer than unrelated (a positive dot
        product); else only what is true without it. Closeness alone is no evidence: nearly
        every two embeddings have a positive dot product, and a course with little data is
        placed near courses it has nothing to do with."""
        strongest = learner.strongest()
        own = [self.index[c] for c in strongest if c in self.index]
        closeness = self.vectors[own] @ self.vectors[list(rows)].T if own else None
        taken = took_pairs(self.together, own, rows)
        said = []
        for column, row in enumerate(rows):
            ranked = [
                (closeness[i, column], r)  # type: ignore[index]
                for i, r in enumerate(own)
                if r != row and taken[i, column]
            ]
            closest = max(ranked, default=(0.0, -1))
            if closest[0] <= 0:  # none of theirs is near it (or it is the only one known)
                said.append(self.plain_reason(learner, row))
                continue
            course = self.courses[closest[1]]
            said.append(f"Because you {strongest[course.course_id].past_tense} {course.title}")
        return said

    def reason(self, learner: LearnerHistory, row: int) -> str:
        return self.reasons(learner, [row])[0]

    def similar(
        self, course_id: CourseId, k: int, exclude: AbstractSet[CourseId] = frozenset()
    ) -> list[Recommendation]:
        if course_id not in self.index:
            if self.tower is not None:
                raise UnknownCourse(course_id)
            return []
        source = self.index[course_id]
        # One more than k rather than `exclude | {course_id}`: that new set would lose the
        # shared sets an Excluded names, which the index keeps from request to request.
        found = self.candidates.search(self.vectors[source], k + 1, exclude)
        found = [(c, score) for c, score in found if c != course_id][:k]
        return [
            Recommendation(c, score, rank, self.name, self.similar_reason(source, self.index[c]))
            for rank, (c, score) in enumerate(found, start=1)
        ]

    def similar_reason(self, source: int, row: int) -> str:
        """Close embeddings are not evidence (see reasons()): only what learners did is named."""
        if took_both(self.together, source, row):
            return f"Learners who took {self.courses[source].title} also took this"
        return a_course_in(self.courses[row].category)

    def fitted_settings(self) -> dict[str, Any]:
        if self.tower is None:
            return {}
        described = self.describe()
        return {k: described[k] for k in ("objective", "members", "recency_decay")}

    def describe(self) -> dict[str, Any]:
        """What the admin API shows about the loaded model."""
        if self.tower is None:
            return {"loaded": False}
        manifest = self.manifest
        return {
            "loaded": True,
            "version": self.version,
            "trained_at": manifest.get("trained_at") or manifest.get("created_at"),
            "data_version": manifest.get("data_version"),
            # Sizes in the configuration's terms (configs/two_tower.yaml, show-config): per
            # member; the index holds the members' vectors side by side.
            "embedding_dim": int(self.vectors.shape[1]) // len(self.tower.members),
            "members": len(self.tower.members),
            "index_dim": int(self.vectors.shape[1]),
            "indexed_items": self.candidates.size,
            "index_type": self.candidates.kind,
            "validation_metrics": training_figures(manifest),
            "objective": manifest.get("training", {}).get("objective", "all"),
            "recency_decay": float(manifest.get("tower", {}).get("recency_decay", 1.0)),
        }


def _ids(listed: Any) -> list[Any] | None:
    """`listed` if it is a list of strings: ids of another type would load and match no course
    or learner, so the version would answer nobody rather than be refused."""
    if isinstance(listed, list) and all(isinstance(i, str) for i in listed):
        return listed
    return None


def _tower_from_weights(files: Mapping[str, bytes], manifest: Mapping[str, Any]) -> Any:
    """The numpy tower of a version saved before learner_tower.npz existed (imports torch)."""
    import io

    import torch

    from adapters.two_tower.artifacts import learner_tower
    from adapters.two_tower.model import TowerConfig, TowerEnsemble

    model = TowerEnsemble(TowerConfig.from_dict(dict(manifest["tower"])))
    model.load_state_dict(torch.load(io.BytesIO(files["model.pt"]), weights_only=True))
    return learner_tower(model)
