"""Progress: a bar on a terminal, log lines with step, total and rate otherwise; true totals."""

from __future__ import annotations

import io
import logging

from entrypoints.progress import MemberEpochs, Progress


def test_off_a_terminal_it_logs_step_total_and_rate(caplog):
    caplog.set_level(logging.INFO, logger="recsys.progress")
    with Progress("importing", 300, unit="events", every_seconds=0, terminal=False) as progress:
        progress.advance(100)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "importing: started, 300 events"
    assert lines[1].startswith("100/300 events (33%), ") and "events/s" in lines[1]
    last = caplog.records[-1]
    assert (last.done, last.total, last.step) == (100, 100, "importing")


def test_on_a_terminal_it_draws_a_bar_and_logs_nothing(caplog):
    screen = io.StringIO()
    with Progress("training", 4, unit="epochs", stream=screen, terminal=True) as progress:
        for _ in range(4):
            progress.advance()
    assert "[" + "#" * 30 + "] 4/4 epochs (100%)" in screen.getvalue()
    assert "done in" in screen.getvalue() and caplog.records == []


def test_early_stopping_in_an_ensemble_ends_at_the_epochs_that_ran():
    progress = Progress("training", 3 * 10, unit="epochs", terminal=False)
    epochs = MemberEpochs(progress, members=3)
    for member_epochs in (4, 10, 6):  # the first and last members stopped early
        for epoch in range(1, member_epochs + 1):
            epochs(epoch, 10, 0.5, 0.1)
    assert progress.done == 20
    progress.finish()
    assert (progress.done, progress.total) == (20, 20)


def test_a_failed_step_keeps_its_planned_total():
    progress = Progress("fit", 10, terminal=False)
    progress.advance(3)
    progress.finish(failed=True)
    assert (progress.done, progress.total) == (3, 10)
