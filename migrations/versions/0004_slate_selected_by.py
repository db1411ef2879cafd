"""slates.selected_by: who picked the slate's strategy, so the bandit learns only from its own

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("slates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("selected_by", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slates", schema=None) as batch_op:
        batch_op.drop_column("selected_by")
