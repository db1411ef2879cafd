"""Content-based: TF-IDF over course text; learner profile = event-weighted mean of course vectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import sparse

from adapters.arrays import array, csr, csr_files, ids, ids_file, npy
from adapters.scoring import ScoringRecommender, a_course_in, top_k
from domain.model import (
    DEFAULT_EVENT_WEIGHTS,
    Course,
    CourseId,
    EventType,
    Interaction,
    LearnerHistory,
    Level,
)
from domain.ports import Published


class ContentRecommender(ScoringRecommender):
    name = "content"

    def __init__(self, event_weights: Mapping[EventType, float] = DEFAULT_EVENT_WEIGHTS) -> None:
        self.event_weights = dict(event_weights)
        self.index_catalog([])
        self.vectors = sparse.csr_matrix((0, 0))
        self._subject(np.zeros(0, dtype=bool))

    def fit(self, courses: Sequence[Course], interactions: Sequence[Interaction]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.index_catalog(courses)
        if not self.courses:
            self.vectors = sparse.csr_matrix((0, 0))
            self._subject(np.zeros(0, dtype=bool))
            return
        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
        # Rows are L2-normalised, so a dot product is the cosine similarity.
        self.vectors = vectorizer.fit_transform([c.text() for c in self.courses]).tocsr()
        self._subject(subject_terms(vectorizer, self.courses, self.vectors))

    def _subject(self, terms: np.ndarray) -> None:
        """The TF-IDF vectors on subject words only, which alone make two courses "similar"."""
        self.subject_terms = terms
        self._transposed = self.vectors.T.tocsr()
        self.subject_vectors = (
            self.vectors @ sparse.diags(terms.astype(float)) if terms.size else self.vectors
        ).tocsr()
        self.subject_vectors.eliminate_zeros()
        # what else two courses may have in common: a category (-1: none) and tags
        codes: dict[str, int] = {}
        self._categories = np.array(
            [codes.setdefault(c.category, len(codes)) if c.category else -1 for c in self.courses],
            dtype=np.int64,
        )
        tags: dict[str, int] = {}
        pairs = [
            (row, tags.setdefault(tag.lower(), len(tags)))
            for row, course in enumerate(self.courses)
            for tag in set(course.tags)
        ]
        self._tags = sparse.csr_matrix(
            (np.ones(len(pairs), dtype=np.float32), ([r for r, _ in pairs], [t for _, t in pairs])),
            shape=(len(self.courses), len(tags)),
        )

    def _alike(self, sources: Sequence[int], rows: Sequence[int]) -> np.ndarray:
        """How alike in subject each source course is to each course of `rows`; 0 where they may
        not be called similar. One shared subject word is not enough on its own ("big" in Big Data
        and in the Big Bang, "networks" in security and in deep learning): two such words, or one
        and a category or a tag in common, are."""
        if not len(sources) or not len(rows):
            return np.zeros((len(sources), len(rows)))
        mine, theirs = self.subject_vectors[sources], self.subject_vectors[rows].T.tocsr()
        alike = (mine @ theirs).toarray()
        mine.data[:], theirs.data[:] = 1.0, 1.0  # copies: now how many words they share
        words = (mine @ theirs).toarray()
        weak = (alike > 0) & (words < 2)
        if weak.any():
            mine_category, their_category = self._categories[sources], self._categories[rows]
            related = (mine_category[:, None] == their_category[None, :]) & (
                mine_category[:, None] >= 0
            )
            related |= (self._tags[sources] @ self._tags[rows].T).toarray() > 0
            alike[weak & ~related] = 0.0
        return alike

    def dump(self) -> Published:
        files = {
            "course_ids.json": ids_file([c.course_id for c in self.courses]),
            **csr_files("tfidf", self.vectors),
            "subject_terms.npy": npy(self.subject_terms),
        }
        return files, {"courses": len(self.courses), "terms": int(self.vectors.shape[1])}

    def restore(
        self,
        files: Mapping[str, bytes],
        manifest: Mapping[str, Any],
        catalog: Mapping[CourseId, Course],
    ) -> None:
        course_ids, vectors = ids(files), csr(files, "tfidf")
        if vectors.shape[0] != len(course_ids):
            raise ValueError(f"{vectors.shape[0]} TF-IDF rows for {len(course_ids)} courses")
        # A version published before subject words were told apart has no such file: no word
        # counts as one, so no course is called "similar" until the next fit.
        terms = np.zeros(vectors.shape[1], dtype=bool)
        if "subject_terms.npy" in files:
            terms = array(files, "subject_terms.npy").astype(bool)
            if terms.shape != (vectors.shape[1],):
                raise ValueError(f"{terms.size} subject flags for {vectors.shape[1]} terms")
        self.restore_catalog(course_ids, catalog)
        self.vectors = vectors
        self._subject(terms)

    def _weights(self, learner: LearnerHistory) -> dict[int, tuple[float, EventType]]:
        return {
            self.index[c]: (self.event_weights[e], e)
            for c, e in learner.strongest().items()
            if c in self.index
        }

    def scores(self, learners: Sequence[LearnerHistory]) -> np.ndarray:
        # Built as CSR, columns sorted as a conversion from coordinates would leave them (the
        # products then add up in the same order): the conversion was a third of this method.
        indptr, columns, values = [0], [], []
        for learner in learners:
            touched = self._weights(learner)
            total = sum(w for w, _ in touched.values())
            for column in sorted(touched):
                columns.append(column)
                values.append(touched[column][0] / total)
            indptr.append(len(columns))
        weights = sparse.csr_matrix(
            (np.array(values, dtype=float), columns, indptr),
            shape=(len(learners), len(self.courses)),
        )
        profiles = weights @ self.vectors
        scores = (profiles @ self._transposed).toarray()
        # A course sharing no words with anything the learner did is not "similar".
        scores[scores <= 1e-12] = -np.inf
        return scores

    def reasons(self, learner: LearnerHistory, rows: Sequence[int]) -> list[str]:
        """Names, per course, the learner's own course (other than it) most alike in subject
        (_alike()); else one of theirs in its category; else only what is true without them
        (sharing "Basics" or a release year does not make two courses similar). One sparse
        product for all the courses served."""
        touched = {r: e for r, (_, e) in self._weights(learner).items()}
        own = list(touched)
        alike = self._alike(own, list(rows))
        said = []
        for column, row in enumerate(rows):
            others = [i for i, r in enumerate(own) if r != row]
            best = max(others, key=lambda i: alike[i, column], default=None)
            category = self.courses[row].category
            if best is not None and alike[best, column] > 0:
                title, verb = self.courses[own[best]].title, touched[own[best]].past_tense
                said.append(f"Similar to {title}, which you {verb}")
            elif same := [
                r for r in own if r != row and category and self.courses[r].category == category
            ]:
                mine = max(same, key=lambda r: touched[r].strength)
                title, verb = self.courses[mine].title, touched[mine].past_tense
                said.append(f"Also in {category}, like {title}, which you {verb}")
            else:
                said.append(self.plain_reason(learner, row))
        return said

    def reason(self, learner: LearnerHistory, row: int) -> str:
        return self.reasons(learner, [row])[0]

    def similarity(self, source: int) -> np.ndarray:
        scores = (self.vectors @ self.vectors[source].T).toarray().ravel()
        scores[scores <= 1e-12] = -np.inf  # sharing no word is not "similar"
        return scores

    def closest(self, source: int, scores: np.ndarray, k: int) -> list[int]:
        """Only courses its reasons can call similar: alike in subject (_alike()) or of the
        course's own category. Sharing "Basics", a level, another category's name or one chance
        word ("systems" in C++ Basics and Recommender Systems Basics) does not make a course
        similar, and a list of similar courses showed them as "A course in Data Science".
        Picked from the 3k closest (at least 30), so a call costs about the same whatever the
        catalog's size; the list is shorter than k when fewer are alike."""
        best = top_k(scores, max(3 * k, 30))
        alike = self._alike([source], best).ravel() > 0
        category = self.courses[source].category
        return [
            row
            for row, similar in zip(best, alike, strict=True)
            if similar or (category and self.courses[row].category == category)
        ][:k]

    def similar_reasons(self, source: int, rows: Sequence[int]) -> list[str]:
        """ "Similar to" only for a course alike in subject (_alike()); else its category, if the
        two share it."""
        title = self.courses[source].title
        shared = self._alike([source], list(rows))
        said = []
        for alike, row in zip(shared.ravel(), rows, strict=True):
            category = self.courses[row].category
            if alike > 0:
                said.append(f"Similar to {title}")
            elif category and category == self.courses[source].category:
                said.append(f"Also in {category}, like {title}")
            else:
                said.append(a_course_in(category))
        return said

    def similar_reason(self, source: int, row: int) -> str:
        return self.similar_reasons(source, [row])[0]


#: words about studying, not about a subject: two descriptions sharing "learn" (one "Learn Python
#: from scratch", the other "models with scikit-learn") are not alike; in a catalog of a few
#: categories they pass the spread test below
STUDY_WORDS = {
    "learn",
    "learns",
    "learned",
    "learner",
    "learners",
    "course",
    "courses",
    "class",
    "classes",
    "lesson",
    "lessons",
    "student",
    "students",
    "teach",
    "teaches",
    "taught",
    "study",
    "introduction",
    "intro",
    "basics",
    "fundamentals",
    "skills",
    "exercises",
    "practice",
}


def subject_terms(
    vectorizer: Any, courses: Sequence[Course], vectors: sparse.csr_matrix
) -> np.ndarray:
    """Per term, whether two courses sharing it are on one subject: not a number (a release
    year, a length in weeks), not a word of a category's name (sharing a category is said as
    such) or of a level ("advanced"), not a word about studying itself ("learn", "lessons"), and
    not used across most of the catalog or most of its categories ("basics", "introduction"),
    whatever their TF-IDF weight."""
    terms = vectorizer.get_feature_names_out().astype(str)
    analyzer = vectorizer.build_analyzer()
    names = {c.category for c in courses} | {level.value for level in Level}
    naming = {t for name in names for t in analyzer(name)}
    codes: dict[str, int] = {}
    column = [codes.setdefault(c.category, len(codes)) for c in courses]
    in_category = sparse.csr_matrix(
        (np.ones(len(courses)), (np.arange(len(courses)), column)), shape=(len(courses), len(codes))
    )
    used = (vectors != 0).astype(np.float64)
    spread = np.asarray(((used.T @ in_category) > 0).sum(axis=1)).ravel()
    share = np.asarray(used.sum(axis=0)).ravel()
    return (
        ~np.isin(terms, sorted(naming | STUDY_WORDS))
        & ~np.char.isdigit(terms)
        & (share <= max(2, len(courses) / 2))
        & (spread <= max(2, len(codes) / 2))
    )
