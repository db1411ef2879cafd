"""A trainer through a database outage: it keeps running, says so once, and says when it is back."""

from __future__ import annotations

import logging
import threading

from application.ports import StorageUnavailable
from application.trainer import Trainer


class Jobs:
    def recover(self) -> None:
        pass

    def run_one(self) -> None:
        return None


class Fit:
    """Fails while the database is "down" (the first `outage` cycles), then stops the trainer."""

    def __init__(self, stop: threading.Event, outage: int) -> None:
        self.stop, self.outage, self.cycles = stop, outage, 0

    def execute(self, force: bool = False, progress=None, starting=lambda: None):  # type: ignore[no-untyped-def]
        self.cycles += 1
        if self.cycles <= self.outage:
            raise StorageUnavailable("OperationalError: connection refused")
        self.stop.set()
        return []


def test_a_database_outage_is_one_warning_line_and_one_line_when_it_is_back(caplog):
    stop = threading.Event()
    fit = Fit(stop, outage=5)
    trainer = Trainer(lambda: fit, Jobs, fit_interval=0, poll_seconds=0)
    with caplog.at_level(logging.INFO, logger="application.trainer"):
        trainer.run_forever(stop)
    assert fit.cycles == 6
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "database unavailable (OperationalError: connection refused); "
        "the trainer tries again every 0s"
    ]
    assert not any(r.exc_info for r in caplog.records)
    assert any("database is back" in r.getMessage() for r in caplog.records)


def test_a_trainer_started_while_the_database_is_down_waits_for_it_to_migrate(caplog):
    stop = threading.Event()
    attempts = []

    def migrate() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise StorageUnavailable("OperationalError: connection refused")

    fit = Fit(stop, outage=0)
    trainer = Trainer(lambda: fit, Jobs, fit_interval=0, poll_seconds=0)
    trainer.run_forever(stop, prepare=migrate)
    assert len(attempts) == 3 and fit.cycles == 1


def test_a_migration_that_fails_for_another_reason_than_an_outage_ends_the_trainer():
    import pytest

    def migrate() -> None:
        raise RuntimeError("permission denied for schema public")

    stop = threading.Event()
    trainer = Trainer(lambda: Fit(stop, outage=0), Jobs, fit_interval=0, poll_seconds=0)
    with pytest.raises(RuntimeError, match="permission denied"):
        trainer.run_forever(stop, prepare=migrate)


def test_a_forced_trainer_refits_everything_at_its_first_cycle_then_keeps_running():
    stop = threading.Event()
    forced: list[bool] = []

    class Recorded:
        def execute(self, force: bool = False, progress=None, starting=lambda: None):  # type: ignore[no-untyped-def]
            forced.append(force)
            if len(forced) == 3:
                stop.set()
            return []

    Trainer(Recorded, Jobs, fit_interval=0, poll_seconds=0).run_forever(stop, force=True)
    assert forced == [True, False, False]


def test_a_forced_trainer_started_during_an_outage_forces_the_first_cycle_that_gets_through():
    stop = threading.Event()
    fit = Fit(stop, outage=2)
    forced: list[bool] = []
    execute = fit.execute

    def recorded(force: bool = False, progress=None, starting=lambda: None):  # type: ignore[no-untyped-def]
        forced.append(force)
        return execute(force, progress, starting)

    fit.execute = recorded  # type: ignore[method-assign]
    Trainer(lambda: fit, Jobs, fit_interval=0, poll_seconds=0).run_forever(stop, force=True)
    assert forced == [True, True, True]


def test_a_bandit_publish_onto_a_full_disk_fails_it_alone_in_one_line(caplog):
    """As any strategy's publish: the cycle ends, is recorded, and `trainer --once` exits 1."""
    from application.trainer import summary

    class Credit:
        def execute(self):  # type: ignore[no-untyped-def]
            raise OSError(28, "No space left on device")

    stop = threading.Event()
    trainer = Trainer(lambda: Fit(stop, outage=0), Jobs, Credit, fit_interval=0)
    with caplog.at_level(logging.INFO, logger="application.trainer"):
        (fitted,) = trainer.run_once()
    assert fitted.strategy == "bandit" and fitted.failed
    assert "could not be published: No space left on device" in fitted.note
    assert "failed: bandit (could not be published" in summary([fitted])
    assert not any(r.exc_info for r in caplog.records)
