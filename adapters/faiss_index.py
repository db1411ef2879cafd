"""FAISS candidate generation: an exact inner-product index for small catalogs, HNSW above a size."""

from __future__ import annotations

from collections.abc import Sequence

import faiss
import numpy as np

from domain.model import CourseId
from domain.ports import CandidateIndex


class FaissIndex(CandidateIndex):
    def __init__(
        self, hnsw_above: int = 50_000, hnsw_neighbours: int = 32, ef_search: int = 128
    ) -> None:
        self.hnsw_above = hnsw_above
        self.hnsw_neighbours = hnsw_neighbours
        self.ef_search = ef_search
        self.ids: list[CourseId] = []
        self.rows: dict[CourseId, int] = {}
        self.index: faiss.Index | None = None
        self.kind = "empty"

    def build(self, course_ids: Sequence[CourseId], vectors: Sequence[Sequence[float]]) -> None:
        matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        dim = matrix.shape[1] if matrix.ndim == 2 else 0
        if len(course_ids) > self.hnsw_above:
            index = faiss.IndexHNSWFlat(dim, self.hnsw_neighbours, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = self.ef_search
            self.kind = f"HNSW{self.hnsw_neighbours},IP"
        else:
            index = faiss.IndexFlatIP(dim)
            self.kind = "Flat,IP"
        if len(course_ids):
            index.add(matrix)
        self.index = index
        self.ids = list(course_ids)
        self.rows = {c: i for i, c in enumerate(self.ids)}

    @property
    def size(self) -> int:
        return len(self.ids)

    def search(
        self, query: Sequence[float], k: int, exclude: frozenset[CourseId] = frozenset()
    ) -> list[tuple[CourseId, float]]:
        if self.index is None or not self.ids or k <= 0:
            return []
        vector = np.asarray(query, dtype=np.float32).reshape(1, -1)
        blocked = sum(1 for c in exclude if c in self.rows)
        wanted = min(k, len(self.ids) - blocked)
        asked = min(len(self.ids), k + blocked)
        while True:
            scores, rows = self.index.search(vector, asked)
            found = [
                (self.ids[row], float(score))
                for row, score in zip(rows[0], scores[0], strict=True)
                if row >= 0 and self.ids[row] not in exclude
            ]
            # An approximate index may return fewer neighbours than asked; widen until k are found.
            if len(found) >= wanted or asked >= len(self.ids):
                return found[:k]
            asked = min(len(self.ids), asked * 2)

    def to_bytes(self) -> bytes:
        return faiss.serialize_index(self.index).tobytes() if self.index is not None else b""

    def load(self, course_ids: Sequence[CourseId], data: bytes) -> None:
        """Restore an index saved with to_bytes() over the same course ids, in the same order."""
        self.index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        if self.index.ntotal != len(course_ids):
            raise ValueError(
                f"the index holds {self.index.ntotal} vectors for {len(course_ids)} courses"
            )
        if isinstance(self.index, faiss.IndexHNSWFlat):
            self.index.hnsw.efSearch = self.ef_search
            self.kind = f"HNSW{self.index.hnsw.nb_neighbors(1)},IP"
        else:
            self.kind = "Flat,IP"
        self.ids = list(course_ids)
        self.rows = {c: i for i, c in enumerate(self.ids)}
