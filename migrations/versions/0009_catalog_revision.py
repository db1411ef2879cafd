"""catalog_revision: the catalog's version, raised by a trigger on every write to courses (the
newest updated_at missed a change stamped below it by another host's clock, or committed after a
later stamp)

The trigger counts every writer: this version's, the previous version's during a rolling upgrade,
SQL by hand. The revision starts at the migration's time in microseconds, so a downgrade and an
upgrade again never give an earlier catalog's version back.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

RAISE = "UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1"


def upgrade() -> None:
    table = op.create_table(
        "catalog_revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(table, [{"id": 1, "revision": time.time_ns() // 1000}])
    if op.get_bind().dialect.name == "postgresql":
        # Once a transaction: an upsert of 10,000 courses runs 10,000 statements, and as many
        # updates of one row in one transaction each walk the row versions the others left
        # (10x the upsert's time, measured); the setting lasts until the transaction ends.
        op.execute(
            "CREATE FUNCTION catalog_revision_raise() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            "IF current_setting('recsys.catalog_raised_in', true) "
            "IS DISTINCT FROM txid_current()::text THEN "
            f"{RAISE}; "
            "PERFORM set_config('recsys.catalog_raised_in', txid_current()::text, true); "
            "END IF; "
            "RETURN NULL; "
            "END $$"
        )
        # BEFORE the statement, so the revision's row is locked before any course row: after
        # it, an import holding it from its first row and a writer holding a course it had yet
        # to reach would wait for each other (a deadlock, found in review).
        op.execute(
            "CREATE TRIGGER courses_raise_catalog_revision "
            "BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON courses "
            "FOR EACH STATEMENT EXECUTE FUNCTION catalog_revision_raise()"
        )
    else:  # SQLite: row triggers only (an upsert fires INSERT for new rows, UPDATE for others)
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER courses_{event.lower()}_raises_catalog_revision "
                f"AFTER {event} ON courses BEGIN {RAISE}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER courses_raise_catalog_revision ON courses")
        op.execute("DROP FUNCTION catalog_revision_raise()")
    else:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER courses_{event}_raises_catalog_revision")
    op.drop_table("catalog_revision")
