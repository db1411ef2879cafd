"""daily_figures: each closed day's figures, counted once, so a stats window reads days, not events

Global stats and the dashboard counted a window's lists and the clicks and enrolments they earned
from the events each time: a year's window took 1.6-2.6 s at 1,000 lists a day, and the request
timeout (3 s) is reached at a few thousand lists a day (docs/benchmarks.md). The trainer now
stores each closed day's figures (daily_figures: per day and strategy); a window reads those and
counts from the events only the days not stored or changed since.

A day is changed by its lists (slates), the courses they showed (slate_items: credit counts only
for those) and the events credited to them: an event clicked days after its list, an erasure, a
credit repaired. Triggers count every such write to a day at least two UTC days old (whoever
writes: this version, the previous one during a rolling upgrade, SQL by hand) as rows of
daily_figure_changes, added and never updated (so no writer waits on another's count);
daily_figures_counted holds their sum as it was when the day's figures were stored. A day's
stored figures are read only while the two agree. Days closer than that are never stored, so a
write that saw its day as recent (no count) has been committed a day before its day can be
stored. A course added to a list's courses is not counted (every list served adds its own, with
the list: counted as the list's).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_figures",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("recommendations", sa.BigInteger(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("enrolls", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "strategy"),
    )
    op.create_table(
        "daily_figures_counted",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    # a row per change, never a counter updated in place: two writers of late clicks on the
    # same old days waited on each other's counters, and deadlocked taking them in other orders
    op.create_table(
        "daily_figure_changes",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_daily_figure_changes_day", "daily_figure_changes", ["day"])
    if op.get_bind().dialect.name == "postgresql":
        _triggers_postgresql()
    else:
        _triggers_sqlite()


#: a write to a list's day, counted when the day is at least two UTC days old
CHANGED_POSTGRESQL = (
    "IF {day} < (timezone('UTC', now()))::date - 1 THEN "
    "INSERT INTO daily_figure_changes (day, changes) VALUES ({day}, 1); END IF;"
)

#: the time of a list's course's list (none once the list is deleted: counted as the list's)
SERVED = "(SELECT served_at FROM slates WHERE slates.recommendation_id = {row}.recommendation_id)"


def _triggers_postgresql() -> None:
    for table, column in (("slates", "served_at"), ("interactions", "list_served_at")):
        old, new = (f"(timezone('UTC', {row}.{column}))::date" for row in ("OLD", "NEW"))
        # the schema's search_path of now (the tables'), whatever a writer's session sets
        op.execute(
            f"CREATE OR REPLACE FUNCTION {table}_change_a_day() RETURNS trigger "
            "LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN "
            f"IF TG_OP <> 'INSERT' AND OLD.{column} IS NOT NULL THEN "
            f"{CHANGED_POSTGRESQL.format(day=old)} END IF; "
            f"IF TG_OP <> 'DELETE' AND NEW.{column} IS NOT NULL THEN "
            f"{CHANGED_POSTGRESQL.format(day=new)} END IF; "
            "RETURN NULL; END $$"
        )
    # interactions: credited events alone (list_served_at is set by 0012's BEFORE triggers)
    for name, event, when in (
        ("slates", "INSERT OR UPDATE OR DELETE ON slates", ""),
        ("interactions_insert", "INSERT ON interactions", "NEW.list_served_at IS NOT NULL"),
        ("interactions_delete", "DELETE ON interactions", "OLD.list_served_at IS NOT NULL"),
        (
            "interactions_update",
            "UPDATE ON interactions",
            "OLD.list_served_at IS NOT NULL OR NEW.list_served_at IS NOT NULL",
        ),
    ):
        table = name.split("_")[0]
        op.execute(
            f"CREATE TRIGGER {name}_change_a_day AFTER {event} FOR EACH ROW "
            + (f"WHEN ({when}) " if when else "")
            + f"EXECUTE FUNCTION {table}_change_a_day()"
        )
    # a list's courses: credit counts only for one it showed (inserts are the lists' own, with
    # them: counted as the list's, and kept off the path of every list served)
    old_day, new_day = (f"(timezone('UTC', {SERVED.format(row=r)}))::date" for r in ("OLD", "NEW"))
    op.execute(
        "CREATE OR REPLACE FUNCTION slate_items_change_a_day() RETURNS trigger "
        "LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN "
        f"IF {old_day} IS NOT NULL THEN {CHANGED_POSTGRESQL.format(day=old_day)} END IF; "
        f"IF TG_OP = 'UPDATE' AND {new_day} IS NOT NULL THEN "
        f"{CHANGED_POSTGRESQL.format(day=new_day)} END IF; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER slate_items_change_a_day AFTER UPDATE OR DELETE ON slate_items "
        "FOR EACH ROW EXECUTE FUNCTION slate_items_change_a_day()"
    )


def _changed_sqlite(day: str) -> str:
    return (
        f"INSERT INTO daily_figure_changes (day, changes) SELECT d, 1 FROM (SELECT {day} AS d) "
        "WHERE d < date('now', '-1 day');"
    )


def _triggers_sqlite() -> None:
    # A later migration recreating slates or interactions (batch_alter_table) drops these: it
    # must create them again. Events get list_served_at from 0012's triggers by an UPDATE.
    old_list, new_list = (f"strftime('%Y-%m-%d', {r}.list_served_at)" for r in ("OLD", "NEW"))
    old_slate, new_slate = (f"strftime('%Y-%m-%d', {r}.served_at)" for r in ("OLD", "NEW"))
    old_item, new_item = (f"strftime('%Y-%m-%d', {SERVED.format(row=r)})" for r in ("OLD", "NEW"))
    for name, event, body in (
        ("slates_insert", "INSERT ON slates", _changed_sqlite(new_slate)),
        ("slates_delete", "DELETE ON slates", _changed_sqlite(old_slate)),
        (
            "slates_update",
            "UPDATE ON slates",
            _changed_sqlite(old_slate) + _changed_sqlite(new_slate),
        ),
        (
            "interactions_delete",
            "DELETE ON interactions WHEN OLD.list_served_at IS NOT NULL",
            _changed_sqlite(old_list),
        ),
        (
            "interactions_update",
            "UPDATE ON interactions "
            "WHEN OLD.list_served_at IS NOT NULL OR NEW.list_served_at IS NOT NULL",
            _changed_sqlite(old_list) + _changed_sqlite(new_list),
        ),
        (
            "slate_items_delete",
            "DELETE ON slate_items",
            _changed_sqlite(old_item),
        ),
        (
            "slate_items_update",
            "UPDATE ON slate_items",
            _changed_sqlite(old_item) + _changed_sqlite(new_item),
        ),
    ):
        op.execute(f"CREATE TRIGGER {name}_change_a_day AFTER {event} BEGIN {body} END")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        names = ["slates", "interactions_insert", "interactions_delete", "interactions_update"]
    else:
        names = ["slates_insert", "slates_delete", "slates_update"]
        names += ["interactions_delete", "interactions_update"]
    for name in names:
        table = name.split("_")[0]
        op.execute(f"DROP TRIGGER {name}_change_a_day" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        op.execute("DROP TRIGGER slate_items_change_a_day ON slate_items")
        for table in ("slates", "interactions", "slate_items"):
            op.execute(f"DROP FUNCTION {table}_change_a_day()")
    else:
        for name in ("slate_items_delete", "slate_items_update"):
            op.execute(f"DROP TRIGGER {name}_change_a_day")
    op.drop_index("ix_daily_figure_changes_day", table_name="daily_figure_changes")
    for name in ("daily_figure_changes", "daily_figures_counted", "daily_figures"):
        op.drop_table(name)
