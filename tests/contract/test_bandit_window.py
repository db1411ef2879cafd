"""The bandit's update counts each settled slate once, whichever host updates, on each backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.fs_artifacts import FilesystemArtifactStore
from application.bandit import BanditService
from application.use_cases.update_bandit import UpdateBandit
from domain.bandit import make_policy
from domain.model import (
    CourseId,
    EventType,
    Interaction,
    Recommendation,
    RecommendationId,
    Slate,
    UserId,
)


def serve_and_click(uow_factory, name: str, served_at: datetime) -> None:  # type: ignore[no-untyped-def]
    """A slate the bandit chose (content), served by a host whose clock is right, and clicked."""
    slate_id = RecommendationId(name)
    item = Recommendation(CourseId("course_a"), 1.0, 1, "content")
    with uow_factory() as uow:
        uow.slates.add(
            Slate(slate_id, UserId("u1"), "content", (item,), served_at, selected_by="bandit")
        )
        uow.interactions.add_batch(
            [
                Interaction(
                    f"click-{name}",
                    UserId("u1"),
                    item.course_id,
                    EventType.CLICK,
                    served_at + timedelta(seconds=1),
                    slate_id,
                )
            ]
        )
        uow.commit()


@pytest.mark.parametrize("off", [timedelta(hours=3), -timedelta(hours=3)], ids=["ahead", "behind"])
def test_an_updater_whose_clock_is_hours_off_counts_each_settled_slate_once(
    uow_factory, tmp_path, off
):
    """The window of slates to count ended at the updating host's clock less the settling
    time. One hours ahead counted slates not settled yet, and ended the window hours in the
    future: the slates served meanwhile fell inside it, and no later update counted them (the
    bandit learned nothing for hours, then skipped them). One hours behind counted nothing."""
    bandit = BanditService(make_policy("thompson"), FilesystemArtifactStore(tmp_path), ["content"])
    serve_and_click(uow_factory, "first", datetime.now(UTC) - timedelta(hours=1))

    skewed = UpdateBandit(uow_factory, bandit, clock=lambda: datetime.now(UTC) + off)
    first = skewed.execute(min_interactions=1, settle_minutes=0)
    assert "credited 1 slates" in first.message
    counted_until = bandit.state().counted_until
    assert counted_until is not None
    # served just after the window that update counted (or now, were that window in the future)
    serve_and_click(
        uow_factory, "second", min(counted_until, datetime.now(UTC)) + timedelta(microseconds=1)
    )

    second = UpdateBandit(uow_factory, bandit).execute(min_interactions=1, settle_minutes=0)
    assert "credited 1 slates" in second.message
    assert bandit.state().arms["content"].pulls == 2


def test_clicks_too_few_for_one_update_are_counted_once_enough_arrive_however_long_it_takes(
    uow_factory, tmp_path
):
    """A platform with fewer than --min-interactions credited events in any --hours never
    updated its bandit: each update looked back only --hours, found too few, and the slates it
    left behind aged out of every later window uncounted. Counting resumes where the last
    update stopped; --hours bounds only the first update."""
    bandit = BanditService(make_policy("thompson"), FilesystemArtifactStore(tmp_path), ["content"])
    update = UpdateBandit(uow_factory, bandit)
    now = datetime.now(UTC)
    serve_and_click(uow_factory, "first", now - timedelta(hours=4))
    assert "credited 1 slates" in update.execute(24, 1, settle_minutes=180).message

    serve_and_click(uow_factory, "quiet", now - timedelta(hours=2))
    early = update.execute(hours=1, min_interactions=2, settle_minutes=0)
    assert "fewer than 2; nothing changed" in early.message
    serve_and_click(uow_factory, "later", now - timedelta(minutes=10))

    later = update.execute(hours=1, min_interactions=2, settle_minutes=0)
    assert "credited 2 slates" in later.message
    assert bandit.state().arms["content"].pulls == 3


def test_an_update_reads_back_a_week_at_most(uow_factory, tmp_path):
    """Reading back to where the last update stopped, however long ago, a deployment that no
    longer serves `auto` (so no update counts anything) read ever more lists each trainer cycle."""
    bandit = BanditService(make_policy("thompson"), FilesystemArtifactStore(tmp_path), ["content"])
    update = UpdateBandit(uow_factory, bandit)
    now = datetime.now(UTC)
    serve_and_click(uow_factory, "first", now - timedelta(days=10))
    assert "credited 1 slates" in update.execute(24 * 11, 1, settle_minutes=9 * 24 * 60).message
    serve_and_click(uow_factory, "older", now - timedelta(days=8))
    serve_and_click(uow_factory, "newer", now - timedelta(days=6))

    later = update.execute(hours=24, min_interactions=1, settle_minutes=0)
    assert "credited 1 slates" in later.message
    assert bandit.state().arms["content"].pulls == 2
