"""interactions.list_served_at: a credited event carries when its list was served

The daily figures of global stats and the dashboard count what each list served in the window
earned. The window's lists were joined with every event ever credited to a list (PostgreSQL read
ix_interactions_credited whole, whatever the window), so their cost grew with the history, not
with the window (docs/benchmarks.md). Each credited event now carries its list's time, written
by a trigger (whoever writes the event: this version, the previous one during a rolling
upgrade, SQL by hand; and again when its credit changes, as an erasure or repair-credit clears
it), and ix_interactions_credited_by_list_time finds a window's credited events as a range. The
upgrade fills it in for the events stored before it.

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


LIST_TIME = (
    "(SELECT served_at FROM slates WHERE slates.recommendation_id = {row}.recommendation_id)"
)


#: event ids per committed batch of the PostgreSQL fill-in: each holds only its own rows' locks
BATCH = 50_000
INDEX = "ix_interactions_credited_by_list_time"
INDEX_COLUMNS = ["list_served_at", "recommendation_id", "user_id", "course_id", "event_type"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
        return
    op.add_column(
        "interactions", sa.Column("list_served_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE interactions SET list_served_at = "
        + LIST_TIME.format(row="interactions")
        + " WHERE recommendation_id IS NOT NULL"
    )
    # SQLite: AFTER triggers set the row they fired for. A later migration recreating
    # interactions (batch_alter_table) drops them: it must create them again.
    for name, event in (
        ("insert", "INSERT ON interactions WHEN NEW.recommendation_id IS NOT NULL"),
        ("update", "UPDATE OF recommendation_id ON interactions"),
    ):
        op.execute(
            f"CREATE TRIGGER interactions_{name}_list_time AFTER {event} BEGIN "
            f"UPDATE interactions SET list_served_at = {LIST_TIME.format(row='NEW')} "
            "WHERE rowid = NEW.rowid; END"
        )
    op.create_index(
        INDEX,
        "interactions",
        INDEX_COLUMNS,
        unique=False,
        sqlite_where=sa.text("list_served_at IS NOT NULL"),
    )


def _upgrade_postgresql() -> None:
    """Without holding the events table: the column and the triggers are committed first (a
    moment's lock), so every event written from then on carries its list's time, whichever
    version writes it; the events stored before are filled in by batches, each committed on its
    own, and the index is built CONCURRENTLY. Done in one transaction, the upgrade held every
    read and write of events for its whole length (34 s at 2.5 million events). Each step can
    be run again: an upgrade cut short is finished by the next `recsys init-db`."""
    op.execute("ALTER TABLE interactions ADD COLUMN IF NOT EXISTS list_served_at timestamptz")
    # the schema's search_path of now (the tables'), whatever a writer's session sets
    op.execute(
        "CREATE OR REPLACE FUNCTION interactions_list_time() RETURNS trigger LANGUAGE plpgsql "
        "SET search_path FROM CURRENT AS $$ "
        f"BEGIN NEW.list_served_at := {LIST_TIME.format(row='NEW')}; RETURN NEW; END $$"
    )
    for name, event in (
        # events of no list (most of them) fire nothing
        (
            "insert",
            "BEFORE INSERT ON interactions FOR EACH ROW WHEN (NEW.recommendation_id IS NOT NULL)",
        ),
        ("update", "BEFORE UPDATE OF recommendation_id ON interactions FOR EACH ROW"),
    ):
        op.execute(f"DROP TRIGGER IF EXISTS interactions_{name}_list_time ON interactions")
        op.execute(
            f"CREATE TRIGGER interactions_{name}_list_time {event} "
            "EXECUTE FUNCTION interactions_list_time()"
        )
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        # A batch may wait for a request's row lock, and the index for the transactions open
        # when it began (a trainer reading every event for minutes): neither wait holds up
        # anyone else, so neither is cut at the requests' lock_timeout.
        waits = bind.execute(sa.text("SHOW lock_timeout")).scalar_one()
        bind.execute(sa.text("SET lock_timeout = 0"))
        low, high = bind.execute(
            sa.text("SELECT min(id), max(id) FROM interactions WHERE recommendation_id IS NOT NULL")
        ).one()
        for start in range(low or 0, (high or -1) + 1, BATCH):
            bind.execute(
                sa.text(
                    "UPDATE interactions SET list_served_at = "
                    + LIST_TIME.format(row="interactions")
                    + " WHERE id >= :start AND id < :end AND recommendation_id IS NOT NULL "
                    "AND list_served_at IS NULL"
                ),
                {"start": start, "end": start + BATCH},
            )
        found = bind.execute(
            sa.text(
                "SELECT i.indisvalid, n.nspname FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = :name AND i.indrelid = 'interactions'::regclass"
            ),
            {"name": INDEX},
        ).first()
        if found is not None and not found.indisvalid:
            # a build cut short left it unusable, and IF NOT EXISTS would keep it
            bind.execute(sa.text(f'DROP INDEX CONCURRENTLY "{found.nspname}".{INDEX}'))
        bind.execute(
            sa.text(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON interactions "
                f"({', '.join(INDEX_COLUMNS)}) WHERE list_served_at IS NOT NULL"
            )
        )
        bind.execute(sa.text("SELECT set_config('lock_timeout', :waits, false)"), {"waits": waits})


def downgrade() -> None:
    for name in ("insert", "update"):
        op.execute(
            f"DROP TRIGGER interactions_{name}_list_time"
            + (" ON interactions" if op.get_bind().dialect.name == "postgresql" else "")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION interactions_list_time()")
    op.drop_index("ix_interactions_credited_by_list_time", table_name="interactions")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("list_served_at")
