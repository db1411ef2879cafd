"""item_cf (EASE and its item-kNN fallback) and the weighted hybrid."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender
from adapters.tfidf import ContentRecommender
from adapters.two_tower.recommender import TwoTowerRecommender
from application.hybrid import HybridRecommender, InvalidWeights, parse_weights
from domain.errors import UnknownCourse
from domain.model import Course, CourseId, LearnerHistory, Recommendation, UserId
from tests.conftest import CATALOG, event

# Learners who take Python Basics go on to SQL Basics; Spanish learners stay with Spanish.
EVENTS = [
    *(
        e
        for u in range(8)
        for e in (
            event(f"p{u}", "course_python_basic", "enroll"),
            event(f"p{u}", "course_sql_basic", "enroll", 1),
        )
    ),
    *(event(f"s{u}", "course_spanish_basic", "enroll") for u in range(12)),
    event("m1", "course_ml_basic", "enroll"),
]


def learner(*courses: str) -> LearnerHistory:
    return LearnerHistory(
        UserId("new"), tuple(event("new", c, "enroll", i) for i, c in enumerate(courses))
    )


@pytest.mark.parametrize("dense_limit", [20_000, 0], ids=["ease", "item-knn"])
def test_item_cf_recommends_what_learners_took_together_and_names_the_cause(dense_limit):
    model = ItemCFRecommender(regularization=1.0, max_dense_items=dense_limit)
    model.fit(CATALOG, EVENTS)
    top = model.recommend(
        learner("course_python_basic"), 1, frozenset({CourseId("course_python_basic")})
    )[0]
    assert top.course_id == "course_sql_basic"
    assert top.reason == "Because you enrolled in Python Basics"
    similar = model.similar(CourseId("course_python_basic"), 1)[0]
    assert similar.course_id == "course_sql_basic"


def test_with_a_proximity_weight_item_cf_ranks_what_was_taken_at_the_same_time_first():
    """Every learner who took A took B right after it and C ten courses later: by co-occurrence
    alone B and C are alike; counted by proximity in time, B belongs with A."""
    from tests.conftest import course

    catalog = [course(c) for c in ("a", "c", "b", *(f"f{i}" for i in range(12)))]  # C first
    events = [
        event(f"u{n}", c, "enroll", step)
        for n in range(10)
        for step, c in enumerate(["a", "b", *(f"f{(n + k) % 12}" for k in range(9)), "c"])
    ]
    plain = ItemCFRecommender(regularization=1.0)
    near = ItemCFRecommender(regularization=1.0, proximity_weight=4.0)
    for model in (plain, near):
        model.fit(catalog, events)
    index = {c.course_id: i for i, c in enumerate(catalog)}
    scores = plain.scores([learner("a")])[0]
    assert scores[index["b"]] == pytest.approx(scores[index["c"]], rel=1e-5)  # float32 inverse
    top = near.recommend(learner("a"), 2, frozenset({CourseId("a")}))
    assert [r.course_id for r in top][0] == "b"
    assert near.fitted_settings()["proximity_weight"] == 4.0


def test_item_cf_chooses_its_regularisation_when_not_given():
    model = ItemCFRecommender()
    model.fit(CATALOG, EVENTS)
    assert model.chosen in ItemCFRecommender.GRID


def test_item_cf_recommends_no_course_nothing_in_the_learners_history_points_to():
    """A Spanish learner: no Spanish learner took anything else, so every other course scores 0:
    item_cf has nothing to recommend (home then serves popular courses, which say why), where it
    used to fill its list with them as if picked from what the learner studied."""
    model = ItemCFRecommender(regularization=1.0)
    model.fit(CATALOG, EVENTS)
    spanish = learner("course_spanish_basic")
    assert model.recommend(spanish, 3, spanish.taken()) == []
    python = learner("course_python_basic")
    items = model.recommend(python, len(CATALOG), python.taken())
    assert items and all(r.score > 0 for r in items)
    assert all(r.reason.startswith("Because you") for r in items)


def test_item_cf_names_no_course_of_a_history_that_as_a_whole_speaks_against_the_course():
    """Python Basics speaks a little for Machine Learning Basics, SQL Basics strongly against:
    their sum is what ranked it, so "Because you enrolled in Python Basics" would be false."""
    model = ItemCFRecommender(regularization=1.0)
    model.fit(CATALOG, EVENTS)
    rows = {c.course_id: i for i, c in enumerate(model.courses)}
    weights = np.zeros((len(CATALOG), len(CATALOG)), dtype=np.float32)
    weights[rows["course_python_basic"], rows["course_ml_basic"]] = 0.1
    weights[rows["course_sql_basic"], rows["course_ml_basic"]] = -0.3
    model.weights = weights
    history = learner("course_python_basic", "course_sql_basic")
    [item] = model.explain(history, [Recommendation(CourseId("course_ml_basic"), 0, 1, "item_cf")])
    assert item.reason == "A course in Data Science, new to you"


def test_item_cf_names_the_course_that_adds_most_as_its_recency_weighting_counts_it():
    """With recency weighting 0.5 the course taken first counts half: SQL Basics (0.2, taken
    last) adds more to Machine Learning Basics than Python Basics (0.3 x 0.5)."""
    model = ItemCFRecommender(regularization=1.0, recency_decay=0.5)
    model.fit(CATALOG, EVENTS)
    rows = {c.course_id: i for i, c in enumerate(model.courses)}
    weights = np.zeros((len(CATALOG), len(CATALOG)), dtype=np.float32)
    weights[rows["course_python_basic"], rows["course_ml_basic"]] = 0.3
    weights[rows["course_sql_basic"], rows["course_ml_basic"]] = 0.2
    model.weights = weights
    model.together = sparse.csr_matrix(np.ones(weights.shape, dtype=np.int32))  # all taken together
    history = learner("course_python_basic", "course_sql_basic")
    [item] = model.explain(history, [Recommendation(CourseId("course_ml_basic"), 0, 1, "item_cf")])
    assert item.reason == "Because you enrolled in SQL Basics"


def test_item_cf_names_only_a_course_some_learner_took_with_the_one_served():
    """EASE weighs courses nobody took together (through the courses between them): Machine
    Learning Basics gets weight from Python Basics here, but no learner took both, so saying
    "Because you enrolled in Python Basics" would claim what nobody did. A view is not taking."""
    events = [
        *EVENTS,
        *(
            event(f"v{u}", c, "view")
            for u in range(5)
            for c in ("course_ml_basic", "course_spanish_basic")
        ),
    ]
    model = ItemCFRecommender(regularization=1.0)
    model.fit(CATALOG, events)
    published = ItemCFRecommender()
    published.restore(*model.dump(), {c.course_id: c for c in CATALOG})
    rows = {c.course_id: i for i, c in enumerate(model.courses)}
    for served in (model, published):
        served.weights = np.zeros((len(CATALOG), len(CATALOG)), dtype=np.float32)
        served.weights[rows["course_python_basic"], rows["course_ml_basic"]] = 0.5
        served.weights[rows["course_python_basic"], rows["course_sql_basic"]] = 0.5
        served.weights[rows["course_spanish_basic"], rows["course_ml_basic"]] = 0.5
        history = learner("course_python_basic")
        ml, sql = (
            Recommendation(CourseId(c), 0, 1, "item_cf")
            for c in ("course_ml_basic", "course_sql_basic")
        )
        assert [r.reason for r in served.explain(history, [ml, sql])] == [
            "A course in Data Science, new to you",
            "Because you enrolled in Python Basics",
        ]
        assert served.similar_reason(rows["course_python_basic"], rows["course_sql_basic"]) == (
            "Learners who took Python Basics also took this"
        )
        assert served.similar_reason(rows["course_spanish_basic"], rows["course_ml_basic"]) == (
            "A course in Data Science"
        )


def test_an_item_cf_version_published_before_the_evidence_was_kept_names_no_course():
    model = ItemCFRecommender(regularization=1.0)
    model.fit(CATALOG, EVENTS)
    files, manifest = model.dump()
    older = {name: data for name, data in files.items() if not name.startswith("together")}
    published = ItemCFRecommender()
    published.restore(older, manifest, {c.course_id: c for c in CATALOG})
    history = learner("course_python_basic")
    top = published.recommend(history, 1, history.taken())[0]
    assert top.course_id == "course_sql_basic"  # ranked as before
    assert top.reason == "A course in Data Science, new to you"


def test_item_cf_has_nothing_to_say_without_history():
    model = ItemCFRecommender(regularization=1.0)
    model.fit(CATALOG, EVENTS)
    assert model.recommend(LearnerHistory(UserId("x")), 3) == []


def fitted() -> dict:  # type: ignore[type-arg]
    parts = {
        "item_cf": ItemCFRecommender(regularization=1.0),
        "popularity": PopularityRecommender(None),
        "content": ContentRecommender(),
    }
    for part in parts.values():
        part.fit(CATALOG, EVENTS)
    return {**parts, "two_tower": TwoTowerRecommender()}  # no model published: not ready


def test_the_hybrid_drops_components_that_cannot_answer_and_renormalises():
    hybrid = HybridRecommender(fitted(), {"two_tower": 0.5, "item_cf": 0.3, "popularity": 0.2})
    assert hybrid.describe()["active"] == pytest.approx({"item_cf": 0.6, "popularity": 0.4})
    items = hybrid.recommend(
        learner("course_python_basic"), 3, frozenset({CourseId("course_python_basic")})
    )
    assert items[0].course_id == "course_sql_basic"
    assert items[0].reason == "Because you enrolled in Python Basics"
    assert items[0].via == "item_cf"


def test_the_hybrid_finds_courses_similar_to_one_only_some_components_know_yet():
    """A course added since two_tower was trained: content already knows it, and the hybrid's
    list was empty because one component did not."""
    new = Course(
        CourseId("course_sql_next"),
        "SQL Next Steps",
        "Joins and SQL queries",
        "Data",
        tags=("sql",),
    )
    parts = fitted()
    parts["content"].fit([*CATALOG, new], EVENTS)
    hybrid = HybridRecommender(parts, {"content": 0.5, "item_cf": 0.5})
    items = hybrid.similar(new.course_id, 3)
    assert items and {i.via for i in items} == {"content"}
    with pytest.raises(UnknownCourse):
        hybrid.similar(CourseId("course_nobody_knows"), 3)


def test_a_course_the_hybrid_serves_only_to_fill_its_list_has_its_components_true_reason():
    # Only two courses are left to offer: the less popular one is every component's weakest
    # candidate (0 after normalisation), yet it is served and must not claim more than is true.
    parts = fitted()
    hybrid = HybridRecommender(parts, {"popularity": 1.0, "item_cf": 1.0})
    someone = learner("course_python_basic")
    left = {CourseId("course_spanish_basic"), CourseId("course_ml_basic")}
    exclude = frozenset(c.course_id for c in CATALOG) - left
    items = hybrid.recommend(someone, 2, exclude)
    assert [i.course_id for i in items] == ["course_spanish_basic", "course_ml_basic"]
    weakest = items[1]
    assert weakest.score == 0.0 and weakest.via == "popularity"
    own = parts["popularity"].recommend(someone, 2, exclude)
    assert weakest.reason == own[1].reason and "learners like you" not in weakest.reason


def test_weights_decide_the_blend():
    parts = fitted()
    only_popularity = HybridRecommender(parts, {"popularity": 1.0, "item_cf": 0.0})
    only_item_cf = HybridRecommender(parts, {"item_cf": 1.0})
    someone = learner("course_python_basic")
    exclude = frozenset({CourseId("course_python_basic")})
    assert only_popularity.recommend(someone, 1, exclude)[0].course_id == "course_spanish_basic"
    assert only_item_cf.recommend(someone, 1, exclude)[0].course_id == "course_sql_basic"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("two_tower=0.5", "look like"),
        ("magic:1", "no strategy"),
        ("content:lots", "must be a number"),
        ("content:1_0", "must be a number"),
        ("content:\u0661", "must be a number"),
        ("content:nan", "must be a number"),
        ("content:-1", "between 0 and 1000"),
        ("content:0", "at least one"),
        ("two_tower:1,two_tower:2", "two_tower is weighted twice"),
    ],
)
def test_bad_weights_are_refused(text, message):
    with pytest.raises(InvalidWeights, match=message):
        parse_weights(text, ["content", "popularity", "two_tower"])


def test_spaces_around_weighted_names_and_weights_do_not_matter():
    weights = parse_weights(" two_tower : 0.6 , content:0.4 ", ["content", "two_tower"])
    assert weights == {"two_tower": 0.6, "content": 0.4}


def test_item_cf_copes_with_a_catalog_smaller_than_ten_courses():
    everything = [
        event(f"u{u}", c.course_id, "enroll", i)
        for u in range(6)
        for i, c in enumerate(CATALOG[:5])
    ]
    model = ItemCFRecommender()
    model.fit(CATALOG, everything)
    assert model.recommend(
        learner("course_python_basic"), 3, frozenset({CourseId("course_python_basic")})
    )


def test_a_sparse_model_publishes_each_courses_strongest_weights_at_any_catalog_size():
    from scipy import sparse

    from adapters.item_weights import strongest

    rng = np.random.default_rng(3)
    small = sparse.random(40, 40, density=0.3, random_state=4, dtype=np.float32, format="csr")
    signs = rng.choice([-1.0, 1.0], small.nnz)  # EASE's negative weights count by magnitude
    small.data = (rng.permutation(np.linspace(0.01, 1, small.nnz)) * signs).astype(np.float32)
    assert (strongest(small, 5) != strongest(small.toarray(), 5)).nnz == 0
    assert (strongest(small, 40) != small).nnz == 0  # short rows are published whole
    # item-kNN of a million courses: a dense copy (4 TB) could never be made
    huge = sparse.csr_matrix(
        (np.arange(1, 9, dtype=np.float32), ([0, 0, 0, 1, 1, 2, 2, 2], [5, 6, 7, 1, 2, 3, 4, 9])),
        shape=(1_000_000, 1_000_000),
    )
    kept = strongest(huge, 2)
    assert kept.shape == huge.shape and kept.nnz == 6
    assert sorted(kept[0].indices) == [6, 7] and sorted(kept[2].indices) == [4, 9]


def test_item_knn_keeps_each_courses_nearest_and_gives_ties_to_the_courses_listed_first():
    from scipy import sparse

    from adapters.item_weights import item_knn

    # two learners took courses 0-5; a third took 4 and 5 again: 5's nearest is 4, then a tie
    taken = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]]
    kept = item_knn(sparse.csr_matrix(np.array(taken, dtype=np.float32)), 2)
    assert [sorted(kept[row].indices) for row in range(6)] == [
        [1, 2],
        [0, 2],
        [0, 1],
        [0, 1],
        [0, 5],
        [0, 4],
    ]


def reference_proximity(index, interactions):  # type: ignore[no-untyped-def]
    """P spelled out: each learner's distinct courses in the order they last touched them."""
    from adapters.item_weights import PROXIMITY_DECAY, PROXIMITY_WINDOW

    n = len(index)
    p = np.zeros((n, n))
    histories: dict[str, dict[str, tuple]] = {}
    for position, e in enumerate(interactions):
        if e.course_id in index:
            touched = histories.setdefault(e.user_id, {})
            touched[e.course_id] = max(
                touched.get(e.course_id, (e.occurred_at, -1)), (e.occurred_at, position)
            )
    for courses in histories.values():
        ordered = [index[c] for c in sorted(courses, key=courses.__getitem__)]
        for i, a in enumerate(ordered):
            for j, b in enumerate(ordered):
                if abs(i - j) <= PROXIMITY_WINDOW:
                    p[a, b] += PROXIMITY_DECAY ** abs(i - j)
    return p


def test_proximity_follows_each_learners_time_order_whatever_the_order_events_arrive_in():
    import random

    from adapters.item_weights import add_proximity

    rng = random.Random(5)
    index = {CourseId(f"c{i}"): i for i in range(40)}
    events = [
        event(f"u{u}", f"c{rng.randrange(45)}", "view", rng.randrange(200))  # c40-c44: unknown
        for u in range(30)
        for _ in range(rng.randint(1, 60))  # repeats of a course, one-course learners
    ]
    rng.shuffle(events)
    expected = reference_proximity(index, events)
    for order in ("C", "F"):
        gram = np.zeros((40, 40), dtype=np.float32, order=order)
        add_proximity(gram, index, events, 2.0)
        np.testing.assert_allclose(gram, 2.0 * expected, rtol=1e-5)
    with pytest.raises(ValueError, match="contiguous"):
        add_proximity(np.zeros((80, 80), dtype=np.float32)[::2, ::2], index, events, 1.0)


def test_proximity_keeps_the_gram_matrix_positive_definite_however_long_a_history():
    from adapters.item_weights import add_proximity

    index = {CourseId(f"c{i}"): i for i in range(400)}
    events = [event("u", f"c{i}", "enroll", i) for i in range(400)]
    gram = np.zeros((400, 400), dtype=np.float32)
    add_proximity(gram, index, events, 1.0)
    assert np.linalg.eigvalsh(gram.astype(float)).min() > 0.01


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf"), 1e39])
def test_a_proximity_weight_that_is_not_a_number_from_0_to_1000_is_refused(weight):
    with pytest.raises(ValueError, match="proximity_weight"):
        ItemCFRecommender(proximity_weight=weight)


def test_item_cfs_own_lambda_search_counts_proximity_without_the_courses_it_hides(monkeypatch):
    """No λ given: the search fits each λ with P, built without the courses it holds out (else
    they would leak into what it is scored on); the final fit builds P from every event."""
    import adapters.item_weights as item_weights
    from adapters.demo_data import demo_data

    calls: list[set] = []
    real = item_weights.add_proximity

    def recording(gram, index, interactions, weight):  # type: ignore[no-untyped-def]
        calls.append({(e.user_id, e.course_id) for e in interactions if e.course_id in index})
        real(gram, index, interactions, weight)

    monkeypatch.setattr(item_weights, "add_proximity", recording)
    data = demo_data(seed=3, learners=300)
    model = ItemCFRecommender(proximity_weight=4.0)
    model.fit(data.courses, data.interactions)
    assert model.chosen in ItemCFRecommender.GRID
    searched, final = calls
    every = {(e.user_id, e.course_id) for e in data.interactions}
    assert final == every
    hidden = every - searched
    assert hidden and searched < every
    for user in {u for u, _ in hidden}:  # at most a fifth of a learner's courses
        assert 5 * sum(u == user for u, _ in hidden) <= sum(u == user for u, _ in every)


def test_item_cfs_lambda_search_on_a_large_catalog_counts_proximity_under_each_courses_column(
    monkeypatch,
):
    """Above search_items the λ search fits on the most popular courses only: P is built on
    their columns, each course's diagonal counting the learners who took it (hidden ones left
    out), so the search scores the model the final fit builds."""
    import adapters.item_weights as item_weights
    from adapters.demo_data import demo_data

    calls: list[tuple[dict, np.ndarray, list]] = []
    real = item_weights.add_proximity

    def recording(gram, index, interactions, weight):  # type: ignore[no-untyped-def]
        before = gram.copy()
        real(gram, index, interactions, weight)
        calls.append((dict(index), (gram - before) / weight, list(interactions)))

    monkeypatch.setattr(item_weights, "add_proximity", recording)
    data = demo_data(seed=3, learners=300)
    model = ItemCFRecommender(proximity_weight=2.0, search_items=40)
    model.fit(data.courses, data.interactions)
    (columns, added, seen), _ = calls
    takers: dict[str, int] = {}
    for e in seen:
        takers.setdefault(e.course_id, set()).add(e.user_id)  # type: ignore[arg-type]
    popular = sorted(takers, key=lambda c: -len(takers[c]))  # type: ignore[arg-type]
    assert len(columns) == 40 < len(data.courses)
    assert set(columns.values()) == set(range(40))
    assert len(set(columns) & set(popular[:40])) >= 35  # hidden courses may reorder a few
    for course, column in columns.items():
        assert added[column, column] == len(takers.get(course, ()))


def test_ease_weights_are_the_closed_form_computed_in_the_gram_matrixs_own_memory():
    """B = -P / diag(P), P = (G + λI)⁻¹, zero diagonal; at most a fraction of one more Gram
    matrix is allocated (at 20,000 courses each copy is 1.6 GB)."""
    import tracemalloc

    from adapters.item_weights import ease

    rng = np.random.default_rng(0)
    x = (rng.random((600, 300)) < 0.05).astype(np.float32)
    for order in ("C", "F"):
        gram = np.asarray(x.T @ x, dtype=np.float32, order=order)
        p = np.linalg.inv(gram.astype(float) + 50.0 * np.eye(300))
        expected = -p / np.diag(p)
        np.fill_diagonal(expected, 0.0)
        tracemalloc.start()
        weights = ease(gram, 50.0)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        np.testing.assert_allclose(weights, expected, atol=1e-5)
        assert np.shares_memory(weights, gram)
        assert peak < 0.5 * gram.nbytes


def _strongest_whole(weights: np.ndarray, keep: int):  # type: ignore[no-untyped-def]
    """What publishing kept before 2026-12-01, cut on the whole matrix at once."""
    dense = weights.copy()
    cut = np.argpartition(-np.abs(dense), keep - 1, axis=1)[:, keep:]
    np.put_along_axis(dense, cut, 0.0, axis=1)
    return sparse.csr_matrix(dense)


def test_publishing_item_cf_keeps_each_courses_strongest_weights_without_copies_of_the_matrix():
    """A published EASE model keeps each course's strongest weights, the same ones whether the
    rows are cut together or a block at a time; cutting them takes a fraction of the weights'
    memory more (the whole matrix cut at once took four times it, 1.6 GB at 10,000 courses)."""
    import tracemalloc

    from adapters.item_weights import strongest

    rng = np.random.default_rng(5)
    weights = rng.standard_normal((3000, 3000)).astype(np.float32)
    weights[:, ::7] = np.round(weights[:, ::7])  # ties at the cut, given to the same courses
    tracemalloc.start()
    kept = strongest(weights, 64)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    expected = _strongest_whole(weights, 64)
    assert kept.shape == expected.shape and kept.dtype == np.float32
    assert np.array_equal(kept.indptr, expected.indptr)
    assert np.array_equal(kept.indices, expected.indices)
    assert np.array_equal(kept.data, expected.data)
    assert peak < 0.5 * weights.nbytes
