"""slates.impressions: how many courses a slate showed, so analytics need not join slate_items

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("slates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("impressions", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE slates SET impressions = (SELECT count(*) FROM slate_items "
        "WHERE slate_items.recommendation_id = slates.recommendation_id)"
    )
    with op.batch_alter_table("slates", schema=None) as batch_op:
        batch_op.create_index("ix_slates_served_strategy", ["served_at", "strategy"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slates", schema=None) as batch_op:
        batch_op.drop_index("ix_slates_served_strategy")
        batch_op.drop_column("impressions")
