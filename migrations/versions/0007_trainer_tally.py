"""trainers.tally: what each trainer fitted and ran since it started, for /metrics on every host

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trainers") as batch:
        batch.add_column(sa.Column("tally", sa.JSON(), nullable=True))
    op.create_index("ix_trainers_seen_at", "trainers", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_trainers_seen_at", table_name="trainers")
    with op.batch_alter_table("trainers") as batch:
        batch.drop_column("tally")
