"""FAISS candidate generation: exact inner product for small catalogs, HNSW above a size, an
inverted file of 8-bit vectors above a larger one (chosen by benchmarks/retrieval.py, whose
figures are in docs/benchmarks.md)."""

from __future__ import annotations

from collections.abc import Sequence

import faiss
import numpy as np

from domain.model import CourseId
from domain.ports import CandidateIndex


class FaissIndex(CandidateIndex):
    def __init__(
        self,
        hnsw_above: int = 50_000,
        hnsw_neighbours: int = 32,
        ef_search: int = 128,
        ef_construction: int = 200,
        ivf_above: int = 200_000,
        nprobe: int = 32,
    ) -> None:
        self.hnsw_above = hnsw_above
        self.hnsw_neighbours = hnsw_neighbours
        self.ef_search = ef_search
        # FAISS's default of 40 builds a graph whose recall@10 stays near 0.8 at any efSearch.
        self.ef_construction = ef_construction
        self.ivf_above = ivf_above
        self.nprobe = nprobe
        self.ids: list[CourseId] = []
        self.rows: dict[CourseId, int] = {}
        self.index: faiss.Index | None = None
        self.kind = "empty"

    def build(self, course_ids: Sequence[CourseId], vectors: Sequence[Sequence[float]]) -> None:
        matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        dim = matrix.shape[1] if matrix.ndim == 2 else 0
        if len(course_ids) > self.ivf_above:
            index = _ivf(matrix)
        elif len(course_ids) > self.hnsw_above:
            index = faiss.IndexHNSWFlat(dim, self.hnsw_neighbours, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.ef_construction
        else:
            index = faiss.IndexFlatIP(dim)
        if len(course_ids):
            index.add(matrix)
        self._use(index, course_ids)

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        """The width of the vectors indexed (and of a query)."""
        return int(self.index.d) if self.index is not None else 0

    def search(
        self, query: Sequence[float], k: int, exclude: frozenset[CourseId] = frozenset()
    ) -> list[tuple[CourseId, float]]:
        if self.index is None or not self.ids or k <= 0:
            return []
        vector = np.asarray(query, dtype=np.float32).reshape(1, -1)
        blocked = sum(1 for c in exclude if c in self.rows)
        wanted = min(k, len(self.ids) - blocked)
        asked = min(len(self.ids), k + blocked)
        params = None
        while True:
            scores, rows = self.index.search(vector, asked, params=params)
            found = [
                (self.ids[row], float(score))
                for row, score in zip(rows[0], scores[0], strict=True)
                if row >= 0 and self.ids[row] not in exclude
            ]
            # An approximate index may return fewer neighbours than asked; widen until k are found
            # (IVF: the probed lists may hold fewer than k, so at the end probe every list).
            if len(found) >= wanted or (asked >= len(self.ids) and params is not None):
                return found[:k]
            if asked >= len(self.ids):
                if not isinstance(self.index, faiss.IndexIVF):
                    return found[:k]
                params = faiss.SearchParametersIVF(nprobe=self.index.nlist)
            asked = min(len(self.ids), asked * 2)

    def to_bytes(self) -> bytes:
        return faiss.serialize_index(self.index).tobytes() if self.index is not None else b""

    def load(self, course_ids: Sequence[CourseId], data: bytes) -> None:
        """Restore an index saved with to_bytes() over the same course ids, in the same order."""
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        if index.ntotal != len(course_ids):
            raise ValueError(
                f"the index holds {index.ntotal} vectors for {len(course_ids)} courses"
            )
        self._use(index, course_ids)

    def _use(self, index: faiss.Index, course_ids: Sequence[CourseId]) -> None:
        if isinstance(index, faiss.IndexHNSWFlat):
            index.hnsw.efSearch = self.ef_search
            self.kind = f"HNSW{index.hnsw.nb_neighbors(1)},IP"
        elif isinstance(index, faiss.IndexIVF):
            index.nprobe = min(self.nprobe, index.nlist)
            self.kind = f"IVF{index.nlist},SQ8,IP"
        else:
            self.kind = "Flat,IP"
        self.index = index
        self.ids = list(course_ids)
        self.rows = {c: i for i, c in enumerate(self.ids)}


def _ivf(matrix: np.ndarray) -> faiss.IndexIVF:
    """About sqrt(n) lists (1,000 at a million) found by k-means on a sample of 64 vectors a
    list, holding 8-bit scalar-quantised vectors: a quarter of the memory of float32 and quicker
    to scan, at recall@10 0.96 against exact search when 32 lists are probed (docs/benchmarks.md)."""
    n, dim = matrix.shape
    lists = int(max(1, min(round(n**0.5), n // 40)))
    index = faiss.index_factory(dim, f"IVF{lists},SQ8", faiss.METRIC_INNER_PRODUCT)
    index.train(matrix[np.random.default_rng(0).permutation(n)[: 64 * lists]])
    return index
