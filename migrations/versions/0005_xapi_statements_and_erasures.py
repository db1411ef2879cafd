"""xapi_statements (idempotency and voiding of xAPI statements) and erasures (learners forgotten)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xapi_statements",
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("voids", sa.String(length=36), nullable=True),
        sa.Column(
            "stored_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("statement_id"),
    )
    with op.batch_alter_table("xapi_statements", schema=None) as batch_op:
        batch_op.create_index("ix_xapi_statements_user", ["user_id"], unique=False)
        batch_op.create_index(
            "ix_xapi_statements_voids",
            ["voids"],
            unique=False,
            sqlite_where=sa.text("voids IS NOT NULL"),
            postgresql_where=sa.text("voids IS NOT NULL"),
        )

    op.create_table(
        "erasures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.create_index("ix_erasures_user_hash", ["user_hash"], unique=False)
        batch_op.create_index("ix_erasures_erased_at", ["erased_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.drop_index("ix_erasures_erased_at")
        batch_op.drop_index("ix_erasures_user_hash")
    op.drop_table("erasures")
    with op.batch_alter_table("xapi_statements", schema=None) as batch_op:
        batch_op.drop_index("ix_xapi_statements_voids")
        batch_op.drop_index("ix_xapi_statements_user")
    op.drop_table("xapi_statements")
