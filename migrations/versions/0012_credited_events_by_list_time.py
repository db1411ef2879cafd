"""interactions.list_served_at: a credited event carries when its list was served

The daily figures of global stats and the dashboard count what each list served in the window
earned. The window's lists were joined with every event ever credited to a list (PostgreSQL read
ix_interactions_credited whole, whatever the window), so their cost grew with the history, not
with the window (docs/benchmarks.md). Each credited event now carries its list's time, written
with the event, and ix_interactions_credited_by_list_time finds a window's credited events as a
range. The upgrade fills it in for the events stored before it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "interactions", sa.Column("list_served_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE interactions SET list_served_at = (SELECT served_at FROM slates"
        " WHERE slates.recommendation_id = interactions.recommendation_id)"
        " WHERE recommendation_id IS NOT NULL"
    )
    op.create_index(
        "ix_interactions_credited_by_list_time",
        "interactions",
        ["list_served_at", "recommendation_id", "user_id", "course_id", "event_type"],
        unique=False,
        sqlite_where=sa.text("list_served_at IS NOT NULL"),
        postgresql_where=sa.text("list_served_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_interactions_credited_by_list_time", table_name="interactions")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("list_served_at")
