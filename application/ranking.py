"""The ranking stage every strategy's candidates go through before a learner sees them.

Scores are min-max normalised over the candidate pool, then:
- prerequisites: a course whose prerequisites the learner has not completed or enrolled in is
  demoted (x prerequisite_penalty), or removed when strict; one the learner cannot reach any
  more (a course on its path they have not taken is inactive) is removed whatever the policy;
- next step: a course whose prerequisites the learner has all taken, one of them completed within
  next_step_days, is boosted (+ next_step_boost) and explained as "Next step after <title>" (with
  one still missing it is not their next step, however recent the other);
- level: in a category, courses at the learner's level or one step above are preferred; courses
  below it or two steps above are demoted (x level_penalty). A learner new to a category is
  treated as a beginner there. A next step is not: its own chain says the learner is ready for
  it, which one level for a whole category (an advanced designer starting photography) cannot;
- variety: maximal marginal relevance over categories: each pick maximises
  (1 - diversity) * relevance - diversity * [an earlier pick shares its category]; 0 disables it.
Every rule that touches a course is recorded, for the explain endpoint. A served list is then put
in prerequisite order (prerequisites_first), and reasons say what a course still needs (caveats).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from domain.model import Course, CourseId, LearnerHistory, Level, Recommendation


@dataclass(frozen=True)
class RankingPolicy:
    strict_prerequisites: bool = False
    diversity: float = 0.3
    prerequisite_penalty: float = 0.5
    level_penalty: float = 0.7
    next_step_boost: float = 0.5
    next_step_days: float = 60.0


@dataclass
class Ranked:
    items: list[Recommendation]
    #: course -> the rules that removed, demoted or boosted it (in the order applied)
    rules: dict[CourseId, list[str]] = field(default_factory=dict)


def normalised(candidates: Sequence[Recommendation]) -> dict[CourseId, float]:
    """Min-max scores to [0, 1] over the given candidates (all 1.0 when they tie)."""
    return min_max([(r.course_id, r.score) for r in candidates])


def min_max(scored: Sequence[tuple[CourseId, float]]) -> dict[CourseId, float]:
    """normalised() of (course, score) pairs."""
    if not scored:
        return {}
    scores = [score for _, score in scored]
    high, low = max(scores), min(scores)
    return {c: (score - low) / (high - low) if high > low else 1.0 for c, score in scored}


def rerank(
    candidates: Sequence[Recommendation],
    learner: LearnerHistory,
    catalog: Mapping[CourseId, Course],
    k: int,
    policy: RankingPolicy,
    now: datetime,
) -> Ranked:
    relevance = normalised(candidates)
    rules: dict[CourseId, list[str]] = {}
    recent = learner.completed_since(now - timedelta(days=policy.next_step_days))
    levels: dict[str, Level] = {}  # per category, looked up once
    kept: list[_Scored] = []
    for candidate in candidates:
        course = catalog.get(candidate.course_id)
        if course is None:
            continue
        noted = rules.setdefault(course.course_id, [])
        score = relevance[course.course_id]
        reason = candidate.reason
        missing = learner.missing_prerequisites(course)
        closed = learner.out_of_reach(course, catalog) if missing else None
        if closed is not None:
            # Not a demotion: the learner cannot take it, so no score makes it worth showing.
            gone = "inactive" if closed in catalog else "not in the catalog"
            title = _title(closed, catalog)
            noted.append(f"removed: needs {title}, which is {gone} and the learner has not taken")
            continue
        if missing:
            titles = ", ".join(_title(p, catalog) for p in missing)
            if policy.strict_prerequisites:
                noted.append(f"removed: prerequisites not taken ({titles})")
                continue
            score *= policy.prerequisite_penalty
            noted.append(f"demoted: prerequisites not taken ({titles})")
        # a prerequisite deleted from the catalog could only be named by its bare id
        after = (
            [p for p in course.prerequisites if p in recent and p in catalog] if not missing else []
        )
        if after:
            score += policy.next_step_boost
            title = _title(after[0], catalog)
            reason = f"Next step after {title}"
            noted.append(f"boosted: next step after {title}, completed recently")
        if course.category not in levels:
            levels[course.category] = learner.level_in(course.category, catalog) or Level.BEGINNER
        level = levels[course.category]
        gap = course.level.step - level.step
        if (gap < 0 or gap > 1) and not after:
            score *= policy.level_penalty
            noted.append(
                f"demoted: {course.level.value} while the learner is at {level.value} in {course.category or 'this category'}"
            )
        kept.append(_Scored(score, course.course_id, course.category, candidate, reason))
    chosen = _diverse(kept, k, policy.diversity, rules)
    # Only the k served courses become new Recommendations (a request ranks a pool of several k).
    items = [
        replace(c.candidate, score=c.score, reason=c.reason, rank=rank)
        for rank, c in enumerate(chosen, start=1)
    ]
    return Ranked(items, {c: r for c, r in rules.items() if r})


def prerequisites_first(
    items: Sequence[Recommendation], catalog: Mapping[CourseId, Course], learner: LearnerHistory
) -> list[Recommendation]:
    """`items` with each course placed after those the list also shows that the learner must take
    before it (its prerequisites not taken, theirs, and so on), ranks renumbered; otherwise in
    their order. Intermediate Python above Python Basics would show the path backwards, however
    the scores (a demotion only halves one) came out, and so would Advanced Python above Python
    Basics when the list leaves Intermediate Python out."""
    shown = {r.course_id for r in items}
    needs = {
        r.course_id: learner.needed_before(catalog[r.course_id], catalog) & shown
        for r in items
        if r.course_id in catalog
    }
    placed: list[Recommendation] = []
    done: set[CourseId] = set()
    waiting: list[Recommendation] = []

    def ready(item: Recommendation) -> bool:
        return all(p in done for p in needs.get(item.course_id, ()))

    for item in items:
        waiting.append(item)
        while (free := next((w for w in waiting if ready(w)), None)) is not None:
            waiting.remove(free)
            placed.append(free)
            done.add(free.course_id)
    placed += waiting  # only on a prerequisite cycle, which upserts refuse: as ranked
    return [replace(r, rank=rank) for rank, r in enumerate(placed, start=1)]


def _title(course_id: CourseId, catalog: Mapping[CourseId, Course]) -> str:
    return catalog[course_id].title if course_id in catalog else course_id


@dataclass(frozen=True, slots=True)
class _Scored:
    score: float
    course_id: CourseId
    category: str
    candidate: Recommendation
    reason: str


def _diverse(
    items: list[_Scored], k: int, diversity: float, rules: dict[CourseId, list[str]]
) -> list[_Scored]:
    remaining = sorted(items, key=lambda r: (-r.score, r.course_id))
    chosen: list[_Scored] = []
    categories: set[str] = set()
    while remaining and len(chosen) < k:
        best = remaining[0]
        if diversity > 0:
            value = (1 - diversity) * best.score - diversity * (best.category in categories)
            for item in remaining[1:]:
                if (1 - diversity) * item.score <= value:
                    break  # sorted by score: no later item can beat the best any more
                other = (1 - diversity) * item.score - diversity * (item.category in categories)
                if other > value:
                    best, value = item, other
            if best is not remaining[0]:
                # Passed over at each pick until chosen: one note says it.
                noted = rules.setdefault(remaining[0].course_id, [])
                note = f"moved down for variety: {remaining[0].category} is already in the list"
                if note not in noted:
                    noted.append(note)
        remaining.remove(best)
        categories.add(best.category)
        chosen.append(best)
    return chosen
