"""The trainers at work, one row each, in the shared database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from adapters.sqlalchemy.dialects import utc
from adapters.sqlalchemy.tables import trainers
from application.ports import LastFit, TrainerBeat, TrainerRepository, TrainerTally


class SqlTrainerRepository(TrainerRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def beat(self, beat: TrainerBeat, forget_before: datetime) -> None:
        values = {
            "started_at": utc(beat.started_at),
            "seen_at": utc(beat.seen_at),
            "last_cycle": beat.last_cycle,
            "tally": _stored(beat.tally, beat.pins),
        }
        # only the trainer itself writes its row: no other writer to race with
        found = self.connection.execute(
            update(trainers).where(trainers.c.worker == beat.worker).values(**values)
        )
        if not found.rowcount:
            self.connection.execute(trainers.insert().values(worker=beat.worker, **values))
        self.connection.execute(delete(trainers).where(trainers.c.seen_at < utc(forget_before)))

    def recent(self, since: datetime, limit: int | None = None) -> list[TrainerBeat]:
        rows = self.connection.execute(
            select(trainers)
            .where(trainers.c.seen_at >= utc(since))
            .order_by(trainers.c.seen_at.desc(), trainers.c.worker)
            .limit(limit)
        )
        return [
            TrainerBeat(
                r.worker,
                utc(r.started_at),
                utc(r.seen_at),
                r.last_cycle,
                _tally(r.tally or {}),
                _pins(r.tally or {}),
            )
            for r in rows
        ]


def _stored(tally: TrainerTally, pins: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    """JSON: counts as [name, outcome, count] rows (JSON keys are strings, not pairs), and the
    settings the trainer pins beside them (a trainer that says none leaves them out: releases
    before 2026-12-01 read the counts alone)."""
    return ({} if pins is None else {"pins": pins}) | {
        "fits": [[*key, n] for key, n in tally.fits.items()],
        "jobs": [[*key, n] for key, n in tally.jobs.items()],
        "last_fits": {
            name: [last.outcome, last.fit_seconds, last.publish_seconds]
            for name, last in tally.last_fits.items()
        },
        "stats": dict(tally.stats),
    }


def _pins(stored: dict[str, Any]) -> dict[str, Any] | None:
    """What the trainer pins, or None when it did not say (or what it said is not pins: a row
    edited by hand, or a later release's, must not stop the other trainers' fit cycles)."""
    pins = stored.get("pins")
    if not isinstance(pins, dict) or not all(isinstance(v, dict) for v in pins.values()):
        return None
    return pins


def _tally(stored: dict[str, Any]) -> TrainerTally:
    return TrainerTally(
        fits={(name, outcome): int(n) for name, outcome, n in stored.get("fits", [])},
        jobs={(kind, outcome): int(n) for kind, outcome, n in stored.get("jobs", [])},
        last_fits={
            name: LastFit(str(outcome), float(fit), float(publish))
            for name, (outcome, fit, publish) in stored.get("last_fits", {}).items()
        },
        stats=_stats(stored),
    )


def _stats(stored: dict[str, Any]) -> dict[str, int]:
    """The counts of the stats' closed days: none from a trainer before 2026-12-01 (or from a
    row edited by hand into something else: the views reading trainers must not fail on it)."""
    stats = stored.get("stats")
    if not isinstance(stats, dict) or not all(isinstance(n, int) for n in stats.values()):
        return {}
    return {str(k): n for k, n in stats.items()}
