"""A trained two-tower model as artifact files, and back; loading never unpickles."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from adapters.faiss_index import FaissIndex
from adapters.taken_together import EVIDENCE
from adapters.two_tower import serving
from adapters.two_tower.features import CourseFeatures
from adapters.two_tower.model import TowerConfig, TowerEnsemble
from application.ports import Artifact
from domain.model import Course, CourseId

NAME = "two_tower"
FILES = (
    "model.pt",
    "item_embeddings.npy",
    "item_ids.json",
    "trained_users.json",
    "item_index.faiss",
)


@dataclass
class LoadedModel:
    model: TowerEnsemble
    course_ids: list[CourseId]
    embeddings: np.ndarray
    trained_courses: set[str]
    trained_users: set[str]
    index: FaissIndex
    version: str = "unsaved"
    manifest: dict[str, Any] = field(default_factory=dict)
    #: the learner side as published (None: take it from `model`, which was just trained)
    tower: serving.LearnerTower | None = None
    #: which courses learners took together, as files (adapters.taken_together): kept from the
    #: training through every reindex, as it describes the data the model learnt from
    evidence: dict[str, bytes] = field(default_factory=dict)


#: model.pt keeps what a reindex needs, the course side; learner_tower.npz has the rest
COURSE_SIDE = ("item_features.", "item_tower.")


def _course_side(name: str) -> bool:
    return name.split(".", 2)[-1].startswith(COURSE_SIDE)


@torch.no_grad()
def embed_courses(
    model: TowerEnsemble, courses: list[Course], trained_courses: set[str]
) -> np.ndarray:
    model.eval()
    bag = CourseFeatures(model.config.buckets).encode(courses, trained_courses)
    return model.items(bag).numpy().astype(np.float32)


def learner_tower(model: TowerEnsemble) -> serving.LearnerTower:
    """The learner towers' weights as numpy arrays, for serving without torch."""

    def array(tensor: torch.Tensor) -> np.ndarray:
        return tensor.detach().cpu().numpy().astype(np.float32, copy=True)

    members = []
    for member in model.members:
        linears = [m for m in member.user_tower if isinstance(m, nn.Linear)]
        members.append(
            serving.Member(
                array(member.history.weight),
                array(member.user_id.weight),
                tuple((array(layer.weight), array(layer.bias)) for layer in linears),
            )
        )
    return serving.LearnerTower(tuple(members), model.config.recency_decay < 1.0)


def to_files(loaded: LoadedModel) -> dict[str, bytes]:
    """The files of a version. Weights are stored in float16 (the model computes in float32):
    half the bytes, and rankings that do not notice."""
    weights = io.BytesIO()
    course_side = {
        name: tensor.half() if tensor.is_floating_point() else tensor
        for name, tensor in loaded.model.state_dict().items()
        if _course_side(name)
    }
    torch.save(course_side, weights)
    embeddings = io.BytesIO()
    np.save(embeddings, loaded.embeddings, allow_pickle=False)
    return {
        "model.pt": weights.getvalue(),
        "item_embeddings.npy": embeddings.getvalue(),
        "item_ids.json": json.dumps(
            {"course_ids": loaded.course_ids, "trained": sorted(loaded.trained_courses)}
        ).encode(),
        "trained_users.json": json.dumps(sorted(loaded.trained_users)).encode(),
        "item_index.faiss": loaded.index.to_bytes(),
        serving.FILE: (loaded.tower or learner_tower(loaded.model)).to_bytes(),
        **loaded.evidence,
    }


def from_artifact(artifact: Artifact, hnsw_above: int) -> LoadedModel:
    missing = [f for f in FILES if f not in artifact.files]
    if missing:
        raise ValueError(f"{NAME} {artifact.version} lacks {', '.join(missing)}")
    model = TowerEnsemble(TowerConfig.from_dict(artifact.manifest["tower"]))
    state = torch.load(io.BytesIO(artifact.files["model.pt"]), weights_only=True)
    # Versions before learner_tower.npz hold both sides; newer ones the course side only.
    outcome = model.load_state_dict(state, strict=serving.FILE not in artifact.files)
    if any(_course_side(name) for name in outcome.missing_keys):
        raise ValueError(f"{NAME} {artifact.version}: model.pt lacks the course tower")
    model.eval()
    tower = (
        serving.LearnerTower.from_bytes(artifact.files[serving.FILE], artifact.manifest["tower"])
        if serving.FILE in artifact.files
        else learner_tower(model)
    )
    ids = json.loads(artifact.files["item_ids.json"])
    course_ids = [CourseId(c) for c in ids["course_ids"]]
    embeddings = np.load(io.BytesIO(artifact.files["item_embeddings.npy"]), allow_pickle=False)
    if embeddings.shape != (len(course_ids), model.output_dim):
        raise ValueError(
            f"{NAME} {artifact.version}: embeddings of shape {embeddings.shape} for {len(course_ids)} courses"
        )
    index = FaissIndex(hnsw_above=hnsw_above)
    index.load(course_ids, artifact.files["item_index.faiss"])
    return LoadedModel(
        model,
        course_ids,
        embeddings,
        set(ids["trained"]),
        set(json.loads(artifact.files["trained_users.json"])),
        index,
        artifact.version,
        artifact.manifest,
        tower,
        {name: data for name, data in artifact.files.items() if name.startswith(EVIDENCE)},
    )
