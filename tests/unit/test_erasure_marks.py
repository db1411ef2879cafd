"""Whether a model still holds an erased learner: told by erasure marks, not by clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from application.manifests import fitted_before
from application.ports import LatestErasure

ERASED_AT = datetime(2026, 11, 30, 12, tzinfo=UTC)
AN_HOUR_LATER = (ERASED_AT + timedelta(hours=1)).isoformat()
AN_HOUR_EARLIER = (ERASED_AT - timedelta(hours=1)).isoformat()


def test_a_model_read_before_the_erasure_holds_the_learner_whatever_its_clock_said():
    erasure = LatestErasure(ERASED_AT, mark=7, newest=8)
    assert fitted_before(erasure, AN_HOUR_LATER, 6)  # read before it, stamped by a clock ahead
    assert not fitted_before(erasure, AN_HOUR_EARLIER, 7)  # read after it, by a clock behind
    assert not fitted_before(erasure, AN_HOUR_EARLIER, 8)
    assert not fitted_before(None, AN_HOUR_EARLIER, 0)  # nobody erased


def test_a_mark_read_before_the_erasures_were_emptied_predates_every_later_one():
    """A reset (demo data loaded again) empties the erasures, and SQLite numbers them from 1
    again: a model read at mark 5 before it holds the learners the new erasure 1 removed."""
    assert fitted_before(LatestErasure(ERASED_AT, mark=1, newest=1), AN_HOUR_LATER, 5)


def test_a_version_published_before_marks_were_recorded_is_told_by_its_time():
    erasure = LatestErasure(ERASED_AT, mark=7, newest=7)
    assert fitted_before(erasure, AN_HOUR_EARLIER, None)
    assert not fitted_before(erasure, AN_HOUR_LATER, None)
    assert fitted_before(erasure, None, None)  # nothing says when: assume the worst
