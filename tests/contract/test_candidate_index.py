"""The FAISS candidate index, exact, HNSW and IVF, against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.faiss_index import FaissIndex
from domain.model import CourseId, Excluded, Outside


def vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    matrix = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.fixture(params=["exact", "hnsw", "ivf"])
def index(request):  # type: ignore[no-untyped-def]
    if request.param == "ivf":
        return FaissIndex(ivf_above=0, nprobe=6)
    return FaissIndex(hnsw_above=0 if request.param == "hnsw" else 10_000)


def test_search_finds_the_best_inner_products(index):
    data = vectors(500)
    ids = [CourseId(f"c{i}") for i in range(500)]
    index.build(ids, data)
    query = data[7]
    expected = [ids[i] for i in np.argsort(-(data @ query))[:5]]
    found = index.search(query, 5)
    assert [c for c, _ in found][:1] == ["c7"]
    assert len(set(c for c, _ in found) & set(expected)) >= 4


def test_excluded_courses_are_filtered_without_returning_fewer_than_k(index):
    data = vectors(200)
    ids = [CourseId(f"c{i}") for i in range(200)]
    index.build(ids, data)
    nearest = [ids[i] for i in np.argsort(-(data @ data[3]))[:30]]
    found = index.search(data[3], 10, frozenset(nearest))
    assert len(found) == 10 and not {c for c, _ in found} & set(nearest)


def test_asking_for_more_than_there_is(index):
    index.build([CourseId("a"), CourseId("b")], vectors(2))
    assert len(index.search(vectors(1, seed=5)[0], 10, frozenset({CourseId("a")}))) == 1


def test_an_index_survives_serialisation(index):
    data = vectors(100)
    ids = [CourseId(f"c{i}") for i in range(100)]
    index.build(ids, data)
    restored = FaissIndex()
    restored.load(ids, index.to_bytes())
    assert restored.search(data[1], 3) == index.search(data[1], 3)
    assert restored.kind == index.kind


def test_a_large_catalog_gets_an_inverted_file_that_still_finds_the_nearest():
    data = vectors(4_000, dim=32)
    ids = [CourseId(f"c{i}") for i in range(4_000)]
    index = FaissIndex(ivf_above=1_000, nprobe=8)
    index.build(ids, data)
    assert index.kind == "IVF63,SQ8,IP"
    hits = [
        len(
            {c for c, _ in index.search(data[q], 10)}
            & {ids[i] for i in np.argsort(-(data @ data[q]))[:10]}
        )
        for q in range(50)
    ]
    assert (
        sum(hits) / 500 >= 0.6
    )  # random vectors are IVF's worst case; clustered ones do far better


def test_an_inverted_file_finds_k_even_when_the_probed_lists_are_mostly_excluded():
    data = vectors(400, dim=8)
    ids = [CourseId(f"c{i}") for i in range(400)]
    index = FaissIndex(ivf_above=0, nprobe=1)
    index.build(ids, data)
    nearest = frozenset(ids[i] for i in np.argsort(-(data @ data[0]))[:300])
    found = index.search(data[0], 20, nearest)
    assert len(found) == 20 and not {c for c, _ in found} & nearest


def farthest(data: np.ndarray, query: np.ndarray, n: int) -> list[int]:
    return [int(i) for i in np.argsort(data @ query)[:n]]


def test_a_filter_keeping_fewer_than_k_returns_every_course_it_keeps_and_no_other(index):
    """A narrow filter over a large catalog keeps a few courses far from the learner: HNSW,
    walking a graph of excluded courses near the query, returned none of them, so the list
    came out shorter than the courses there were to show."""
    data = vectors(3_000)
    ids = [CourseId(f"c{i}") for i in range(3_000)]
    index.build(ids, data)
    for q in range(5):
        kept = {ids[i] for i in farthest(data, data[q], 7)}
        left_out = Excluded(frozenset(), frozenset(ids) - kept)
        assert {c for c, _ in index.search(data[q], 10, left_out)} == kept
        as_served = Excluded(frozenset(), Outside(frozenset(ids), frozenset(kept)))
        assert {c for c, _ in index.search(data[q], 10, as_served)} == kept


def test_a_filter_held_as_the_courses_it_keeps_leaves_out_only_the_catalogs_others(index):
    """What a filter leaves out is held as the courses it keeps (Outside): the index finds the
    rows to leave out from those few, and a course gone from the catalog since the index was
    built is not among them (the ranking stage drops it, as without a filter)."""
    data = vectors(300)
    ids = [CourseId(f"c{i}") for i in range(300)]
    index.build(ids, data)
    catalog = {c: None for c in ids if c != "c7"}  # c7 deleted since
    kept = frozenset(ids[100:110])
    found = {
        c for c, _ in index.search(data[7], 300, Excluded(frozenset(), Outside(catalog, kept)))
    }
    assert found == kept | {"c7"}


@pytest.mark.parametrize(
    "made", [lambda: FaissIndex(hnsw_above=0, exact_below=0.0), lambda: FaissIndex(ivf_above=0)]
)
def test_an_approximate_search_that_comes_short_is_completed_by_a_scan_of_the_allowed(made):
    """With the filter searched through the graph (or the probed lists), FAISS itself finds
    fewer than k allowed courses; the index then scans the allowed rows and returns k."""
    data = vectors(3_000)
    ids = [CourseId(f"c{i}") for i in range(3_000)]
    index = made()
    index.build(ids, data)
    allowed = farthest(data, data[0], 40)
    left_out = Excluded(frozenset({ids[allowed[0]]}), frozenset(ids) - {ids[i] for i in allowed})
    found = [c for c, _ in index.search(data[0], 10, left_out)]
    best = sorted(allowed[1:], key=lambda i: -float(data[i] @ data[0]))[:10]
    assert len(found) == 10 and len(set(found) & {ids[i] for i in best}) >= 9


def test_shared_sets_are_kept_by_the_set_itself_not_by_where_it_lies_in_memory(index):
    """The rows a shared set leaves out are worked out once and kept; a set made after another
    is gone may take its memory (its id), and still leaves out its own courses."""
    data = vectors(300)
    ids = [CourseId(f"c{i}") for i in range(300)]
    index.build(ids, data)
    inactive = frozenset(ids[:20])
    for first in range(0, 280, 20):  # filters made and dropped in turn, each keeping 20
        kept = set(ids[first : first + 20])
        own = frozenset(ids[first : first + 5])  # what the learner took
        found = index.search(data[first], 10, Excluded(own, inactive, frozenset(ids) - kept))
        expected = kept - own - inactive
        assert len(found) == min(10, len(expected))
        assert {c for c, _ in found} <= expected
    assert len(index.search(data[0], 300, Excluded(frozenset(), inactive))) == 280
