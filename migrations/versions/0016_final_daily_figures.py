"""daily_figures_counted.final: a day whose lists were removed keeps its stored figures

RS_LIST_RETENTION_DAYS has the trainer remove lists (slates and their courses) older than that many
days, a day at a time, once the day's figures are stored and current. Nothing is then left to
count the day from, so its stored figures are final: read whatever changes the day later (an
erasure of a learner its lists credited, a late click that names a removed list and is refused
anyway), and never stored again.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "daily_figures_counted",
        sa.Column("final", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # before this version a final day reads as changed (its count of changes moved on) and is
    # counted from what is left of it: the days whose lists were removed lose their figures
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("daily_figures_counted", "final")
        return
    # in place (SQLite 3.35+): a batch's copy of the table breaks 0015's trigger, which names it
    op.execute("ALTER TABLE daily_figures_counted DROP COLUMN final")
