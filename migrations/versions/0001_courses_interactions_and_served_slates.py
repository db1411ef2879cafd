"""courses, interactions and served slates

Revision ID: 0001
Revises:
Create Date: 2026-11-26 12:23:17.386617
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("course_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("prerequisites", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("course_id"),
    )
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.create_index("ix_courses_category_level", ["category", "level"], unique=False)

    op.create_table(
        "interactions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("course_id", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recommendation_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_interactions_course_type", ["course_id", "event_type"], unique=False
        )
        batch_op.create_index("ix_interactions_occurred_at", ["occurred_at"], unique=False)
        batch_op.create_index("ix_interactions_recommendation", ["recommendation_id"], unique=False)
        batch_op.create_index("ix_interactions_user_time", ["user_id", "occurred_at"], unique=False)

    op.create_table(
        "slates",
        sa.Column("recommendation_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("fallback_from", sa.String(length=32), nullable=True),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("recommendation_id"),
    )
    with op.batch_alter_table("slates", schema=None) as batch_op:
        batch_op.create_index("ix_slates_served_at", ["served_at"], unique=False)
        batch_op.create_index("ix_slates_user", ["user_id"], unique=False)

    op.create_table(
        "slate_items",
        sa.Column("recommendation_id", sa.String(length=64), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.String(length=128), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recommendation_id"], ["slates.recommendation_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("recommendation_id", "rank"),
    )


def downgrade() -> None:
    op.drop_table("slate_items")
    with op.batch_alter_table("slates", schema=None) as batch_op:
        batch_op.drop_index("ix_slates_user")
        batch_op.drop_index("ix_slates_served_at")

    op.drop_table("slates")
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index("ix_interactions_user_time")
        batch_op.drop_index("ix_interactions_recommendation")
        batch_op.drop_index("ix_interactions_occurred_at")
        batch_op.drop_index("ix_interactions_course_type")

    op.drop_table("interactions")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_index("ix_courses_category_level")

    op.drop_table("courses")
