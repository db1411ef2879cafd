"""ix_interactions_credited and ix_slate_items_course: a stats window's credited events, reached
from its lists and read from indexes

The daily figures of global stats and the dashboard count, for each list served in the window,
the courses its learner clicked or enrolled in that the list showed. Every event credited to a
list was read from the table whatever the window (101,000 rows through
ix_interactions_recommendation for a 7-day window at 2,000,000 events), each checked against the
list's courses row by row, and a 365-day window took 4-5 s, over the request timeout
(docs/benchmarks.md). ix_interactions_credited holds the credited events alone, with what the
count needs, so a window's lists look up their events in it without reading the table;
ix_slate_items_course answers whether a list showed a course from the index.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_interactions_credited",
        "interactions",
        ["recommendation_id", "user_id", "course_id", "event_type"],
        unique=False,
        sqlite_where=sa.text("recommendation_id IS NOT NULL"),
        postgresql_where=sa.text("recommendation_id IS NOT NULL"),
    )
    op.create_index(
        "ix_slate_items_course", "slate_items", ["recommendation_id", "course_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_slate_items_course", table_name="slate_items")
    op.drop_index("ix_interactions_credited", table_name="interactions")
