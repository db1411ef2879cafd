"""Trainers that pin a setting differently refit each other's versions at every cycle: each
says so in its log, naming the other trainer and what differs, and every host's admin view
shows what each pins."""

from __future__ import annotations

import logging
from datetime import timedelta

from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from application.pins import apart
from application.trainer import Trainer
from tests.conftest import NOW
from tests.unit.test_trainer_beats import Fit
from tests.unit.test_trainer_outages import Jobs


def test_each_setting_pinned_differently_is_named_with_both_values():
    ours = {"item_cf": {"regularization": 100, "recency_decay": 0.5}, "sequence": {}}
    theirs = {"item_cf": {"recency_decay": 0.5}, "two_tower": {"objective": "next"}}
    assert apart(ours, theirs) == [
        "item_cf regularization: 100 here, not pinned there",
        'two_tower objective: not pinned here, "next" there',
    ]
    assert apart({"sequence": {}}, {}) == []  # a strategy without pins pins nothing
    weights = {"hybrid": {"weights": {"item_cf": 1.0, "content": 0.1}}}
    assert apart(weights, {"hybrid": {"weights": {"content": 0.1, "item_cf": 1.0}}}) == []
    assert apart({"two_tower": {"members": (3,)}}, {"two_tower": {"members": [3]}}) == []


def trainer(store: InMemoryStore, worker: str, pins: dict, minute: int) -> Trainer:  # type: ignore[type-arg]
    moments = iter(NOW + timedelta(minutes=minute + m / 10) for m in range(10))
    return Trainer(
        lambda: Fit([[]]),
        Jobs,
        fit_interval=0,
        uow_factory=lambda: InMemoryUnitOfWork(store),
        worker=worker,
        clock=lambda: next(moments),
        pins=pins,
    )


def test_a_trainer_says_each_cycle_which_trainer_at_work_pins_settings_otherwise(caplog):
    store = InMemoryStore()
    trainer(store, "host-a:1", {"item_cf": {"regularization": 100}}, 0).run_once()
    agreeing = trainer(store, "host-c:3", {"item_cf": {"regularization": 100}}, 1)
    with caplog.at_level(logging.WARNING, logger="application.trainer"):
        agreeing.run_once()
    assert caplog.messages == []
    with caplog.at_level(logging.WARNING, logger="application.trainer"):
        trainer(store, "host-b:2", {}, 2).run_once()
    said = [m for m in caplog.messages if "host-a:1" in m]
    assert len(caplog.messages) == 2 and len(said) == 1, caplog.messages
    assert said[0].startswith(
        "trainer host-a:1 (seen 2026-11-01 12:00:18 UTC) pins settings otherwise: item_cf "
        "regularization: not pinned here, 100 there; trainers that pin differently refit "
        "each other's versions at every cycle"
    ), said
    assert "trainer host-c:3 (seen 2026-11-01 12:01" in caplog.text  # the same pins as a's


def test_a_trainer_that_stopped_or_never_said_its_pins_is_not_compared(caplog):
    """One run once (a cron's) is compared: the next cron may run on the other host."""
    store = InMemoryStore()
    stopped = trainer(store, "host-a:1", {"item_cf": {"regularization": 100}}, 0)
    stopped.run_once()
    stopped._beat_stopped()  # as run_forever does when the trainer is stopped
    older = trainer(store, "host-b:2", {}, 1)
    older.pins = None  # type: ignore[assignment]  # a release before 2026-12-01 said none
    older.run_once()
    with caplog.at_level(logging.WARNING, logger="application.trainer"):
        trainer(store, "host-c:3", {"sequence": {"recency_decay": 0.5}}, 2).run_once()
    assert caplog.messages == []


def test_a_trainer_restarted_with_other_pins_is_not_compared_with_its_killed_predecessor(caplog):
    """Killed (SIGKILL, the OOM killer), the trainer before it on the host never said it stopped;
    one on the same host seen since this one started is another trainer, and is compared."""
    store = InMemoryStore()
    trainer(store, "host-a:1", {"item_cf": {"regularization": 100}}, 0).run_once()
    restarted = trainer(store, "host-a:2", {}, 2)
    with caplog.at_level(logging.WARNING, logger="application.trainer"):
        restarted.run_once()
    assert caplog.messages == []
    trainer(store, "host-a:3", {"item_cf": {"regularization": 100}}, 3).run_once()
    with caplog.at_level(logging.WARNING, logger="application.trainer"):
        restarted.run_once(force=True)
    assert [m.split(" (")[0] for m in caplog.messages] == ["trainer host-a:3"]
