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


def upgrade() -> None:
    op.add_column(
        "interactions", sa.Column("list_served_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE interactions SET list_served_at = "
        + LIST_TIME.format(row="interactions")
        + " WHERE recommendation_id IS NOT NULL"
    )
    if op.get_bind().dialect.name == "postgresql":
        # the schema's search_path of now (the tables'), whatever a writer's session sets
        op.execute(
            "CREATE FUNCTION interactions_list_time() RETURNS trigger LANGUAGE plpgsql "
            "SET search_path FROM CURRENT AS $$ "
            f"BEGIN NEW.list_served_at := {LIST_TIME.format(row='NEW')}; RETURN NEW; END $$"
        )
        # events of no list (most of them) fire nothing
        op.execute(
            "CREATE TRIGGER interactions_insert_list_time BEFORE INSERT ON interactions "
            "FOR EACH ROW WHEN (NEW.recommendation_id IS NOT NULL) "
            "EXECUTE FUNCTION interactions_list_time()"
        )
        op.execute(
            "CREATE TRIGGER interactions_update_list_time "
            "BEFORE UPDATE OF recommendation_id ON interactions "
            "FOR EACH ROW EXECUTE FUNCTION interactions_list_time()"
        )
    else:  # SQLite: AFTER triggers set the row they fired for. A later migration recreating
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
        "ix_interactions_credited_by_list_time",
        "interactions",
        ["list_served_at", "recommendation_id", "user_id", "course_id", "event_type"],
        unique=False,
        sqlite_where=sa.text("list_served_at IS NOT NULL"),
        postgresql_where=sa.text("list_served_at IS NOT NULL"),
    )


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
