"""FAISS candidate generation: exact inner product for small catalogs, HNSW above a size, an
inverted file of 8-bit vectors above a larger one (chosen by benchmarks/retrieval.py, whose
figures are in docs/benchmarks.md)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from collections.abc import Set as AbstractSet

import faiss
import numpy as np

from adapters.arrays import left_out, rows_in, rows_of
from domain.model import CourseId, Excluded, Outside
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
        exact_below: float = 0.02,
    ) -> None:
        self.hnsw_above = hnsw_above
        self.hnsw_neighbours = hnsw_neighbours
        self.ef_search = ef_search
        # FAISS's default of 40 builds a graph whose recall@10 stays near 0.8 at any efSearch.
        self.ef_construction = ef_construction
        self.ivf_above = ivf_above
        self.nprobe = nprobe
        # Below this share of the catalog allowed, scanning the allowed rows beats walking a graph
        # or probing lists made mostly of excluded courses, and finds all k (docs/benchmarks.md).
        self.exact_below = exact_below
        self.ids: list[CourseId] = []
        self.rows: dict[CourseId, int] = {}
        #: ids of shared sets -> (those sets, bitmap of the rows outside them, its count)
        self._kept: dict[
            tuple[int, ...], tuple[tuple[AbstractSet[CourseId], ...], np.ndarray, int]
        ] = {}
        #: a catalog and the rows of the indexed courses it holds: see catalog_rows()
        self._in_catalog: tuple[Collection[CourseId], np.ndarray] | None = None
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
        self, query: Sequence[float], k: int, exclude: AbstractSet[CourseId] = frozenset()
    ) -> list[tuple[CourseId, float]]:
        if self.index is None or not self.ids or k <= 0:
            return []
        allowed, count = self._allowed(exclude)
        if count == 0:
            return []
        vector = np.asarray(query, dtype=np.float32).reshape(1, -1)
        # FAISS skips the excluded rows itself, so a narrow filter costs no wider search.
        sel = None if allowed is None else faiss.IDSelectorBitmap(allowed)
        few = sel is not None and count < self.exact_below * len(self.ids)
        found = self._found(vector, k, sel, exhaustive=few)
        if len(found) < min(k, count) and not few:
            # HNSW walking mostly excluded nodes, or IVF probing lists of excluded courses,
            # may find fewer than k (FAISS says so): a scan of every allowed row cannot.
            found = self._found(vector, k, sel, exhaustive=True)
        return found

    def _found(
        self, vector: np.ndarray, k: int, sel: faiss.IDSelector | None, exhaustive: bool
    ) -> list[tuple[CourseId, float]]:
        index = self.index
        # Search parameters replace the index's own settings: efSearch and nprobe go along.
        params = faiss.SearchParameters(sel=sel)
        if isinstance(index, faiss.IndexHNSWFlat):
            if exhaustive:
                index = faiss.downcast_index(index.storage)  # the same vectors, scanned
            else:
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=index.hnsw.efSearch)
        elif isinstance(index, faiss.IndexIVF):
            probed = index.nlist if exhaustive else index.nprobe
            params = faiss.SearchParametersIVF(sel=sel, nprobe=probed)
        scores, rows = index.search(vector, k, params=params)
        return [
            (self.ids[row], float(score))
            for row, score in zip(rows[0], scores[0], strict=True)
            if row >= 0
        ]

    def _allowed(self, exclude: AbstractSet[CourseId]) -> tuple[np.ndarray | None, int]:
        """A bitmap of the rows a search may return (None: all of them) and how many it allows.
        The shared sets' part is kept (see _shared); a request adds only its own few."""
        if not exclude:
            return None, len(self.ids)
        shared = exclude.shared if isinstance(exclude, Excluded) else ()
        own = exclude.own if isinstance(exclude, Excluded) else exclude
        bitmap, count = self._shared(shared)
        rows = rows_of(self.rows, own)
        rows = rows[(bitmap[rows >> 3] >> (rows & 7)) & 1 == 1]  # not left out already
        if len(rows):
            bitmap = bitmap.copy()  # the kept one serves other requests
            np.bitwise_and.at(bitmap, rows >> 3, ~(1 << (rows & 7)).astype(np.uint8))
            count -= len(rows)
        return (None if count == len(self.ids) else bitmap), count

    def _shared(self, shared: tuple[AbstractSet[CourseId], ...]) -> tuple[np.ndarray, int]:
        """The bitmap of the rows outside these shared sets, kept by the sets themselves: a
        narrow filter over a large catalog leaves out most of it, too many ids to look up on
        every request. An id is reused once its set is gone, hence the check of each set."""
        key = tuple(map(id, shared))
        kept = self._kept.get(key)
        if kept is None or any(a is not b for a, b in zip(kept[0], shared, strict=True)):
            if len(self._kept) >= 64:  # sets of snapshots since replaced
                self._kept.clear()
            allowed = np.ones(len(self.ids), dtype=bool)
            for courses in shared:
                if isinstance(courses, Outside):  # found from the few courses a filter keeps
                    in_catalog = self.catalog_rows(courses.catalog)
                    allowed &= ~left_out(
                        len(self.ids), in_catalog, rows_of(self.rows, courses.kept)
                    )
                else:
                    allowed[rows_of(self.rows, courses)] = 0
            bits = np.packbits(allowed, bitorder="little")  # row r is bit r % 8 of byte r // 8
            kept = self._kept[key] = (shared, bits, int(allowed.sum()))
        return kept[1], kept[2]

    def catalog_rows(self, catalog: Collection[CourseId]) -> np.ndarray:
        """The rows of the indexed courses that `catalog` holds (kept for one catalog: ask it
        when the catalog is loaded, and requests filtering by it find it worked out)."""
        if self._in_catalog is None or self._in_catalog[0] is not catalog:
            self._in_catalog = (catalog, rows_in(self.ids, catalog))
        return self._in_catalog[1]

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
        self._kept = {}
        self._in_catalog = None


def _ivf(matrix: np.ndarray) -> faiss.IndexIVF:
    """About sqrt(n) lists (1,000 at a million) found by k-means on a sample of 64 vectors a
    list, holding 8-bit scalar-quantised vectors: a quarter of the memory of float32 and quicker
    to scan, at recall@10 0.96 against exact search when 32 lists are probed (docs/benchmarks.md)."""
    n, dim = matrix.shape
    lists = int(max(1, min(round(n**0.5), n // 40)))
    index = faiss.index_factory(dim, f"IVF{lists},SQ8", faiss.METRIC_INNER_PRODUCT)
    index.train(matrix[np.random.default_rng(0).permutation(n)[: 64 * lists]])
    return index
