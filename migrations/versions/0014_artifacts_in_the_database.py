"""artifact_versions, artifact_files, artifact_current: model artifacts kept in the database

With RS_MODELS_STORE=database, trainers publish model versions into these tables and web workers
load them from there, so hosts share the database alone, not a volume as well (NFS). A version's
files are written in parts of at most 8 MiB before it is published, then made current in one
short transaction; its rows are never changed afterwards.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifact_versions",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("published", sa.Boolean, nullable=False),
        sa.Column("staged_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "artifact_files",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("filename", sa.String(255), primary_key=True),
        sa.Column("part", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "artifact_current",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # weights and embeddings barely compress: storing them as they are saves each publish
        # and load the attempt
        op.execute("ALTER TABLE artifact_files ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    for table in ("artifact_current", "artifact_files", "artifact_versions"):
        op.drop_table(table)
