"""The trainers at work, one row each, in the shared database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select, update

from adapters.sqlalchemy.repositories import utc
from adapters.sqlalchemy.tables import trainers
from application.ports import TrainerBeat, TrainerRepository


class SqlTrainerRepository(TrainerRepository):
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def beat(self, beat: TrainerBeat, forget_before: datetime) -> None:
        values = {
            "started_at": utc(beat.started_at),
            "seen_at": utc(beat.seen_at),
            "last_cycle": beat.last_cycle,
        }
        # only the trainer itself writes its row: no other writer to race with
        found = self.connection.execute(
            update(trainers).where(trainers.c.worker == beat.worker).values(**values)
        )
        if not found.rowcount:
            self.connection.execute(trainers.insert().values(worker=beat.worker, **values))
        self.connection.execute(delete(trainers).where(trainers.c.seen_at < utc(forget_before)))

    def recent(self, since: datetime) -> list[TrainerBeat]:
        rows = self.connection.execute(
            select(trainers)
            .where(trainers.c.seen_at >= utc(since))
            .order_by(trainers.c.seen_at.desc(), trainers.c.worker)
        )
        return [
            TrainerBeat(r.worker, utc(r.started_at), utc(r.seen_at), r.last_cycle) for r in rows
        ]
