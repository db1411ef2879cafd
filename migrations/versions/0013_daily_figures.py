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
stored. A TRUNCATE of any of them (by hand) leaves no day stored. A course added to a list's
courses is not counted (every list served adds its own, with the list: counted as the list's).

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


#: a list or a credited event written: its day, counted when at least two UTC days old
OLD_DAY = "{day} < (timezone('UTC', now()))::date - 1"

#: the rows a statement updated or deleted: their days (`days`, of the transition tables `gone`
#: and, for an update, `came`), each counted once a row, by one insert a day
CHANGED_ROWS = (
    "INSERT INTO daily_figure_changes (day, changes) SELECT d, count(*) FROM ({days}) AS x "
    f"WHERE {OLD_DAY.format(day='d')} GROUP BY d;"
)

#: the UTC day of each row of a transition table, by the table it was written to
DAY_OF = {
    "slates": "SELECT (timezone('UTC', served_at))::date AS d FROM {rows}",
    # credited events alone (list_served_at is set by 0012's BEFORE triggers)
    "interactions": "SELECT (timezone('UTC', list_served_at))::date AS d FROM {rows}",
    # a list's courses: credit counts only for one it showed (none once the list is deleted
    # too: counted as the list's). Inserts are not counted: every list served adds its own,
    # with the list, counted as the list's.
    "slate_items": "SELECT (timezone('UTC', s.served_at))::date AS d FROM {rows} "
    "JOIN slates s ON s.recommendation_id = {rows}.recommendation_id",
}

#: the schema's search_path of now (the tables'), whatever a writer's session sets
FUNCTION = (
    "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger "
    "LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN {body} RETURN NULL; END $$"
)


def _triggers_postgresql() -> None:
    # Inserts a row at a time: a list served or an event logged is one row, whose day is today,
    # so the trigger's WHEN compares it and calls no function (calling one that compared cost a
    # list recorded 0.03 ms of 0.21). Updates and deletes a statement at a time: an erasure or a
    # credit repaired writes thousands of rows of a few days, counted by a few inserts.
    for table, column in (("slates", "served_at"), ("interactions", "list_served_at")):
        day = f"(timezone('UTC', NEW.{column}))::date"
        op.execute(
            FUNCTION.format(
                name=f"{table}_insert_a_day",
                body=f"INSERT INTO daily_figure_changes (day, changes) VALUES ({day}, 1);",
            )
        )
        # a NULL list time (an event of no list) makes the WHEN NULL: not fired
        op.execute(
            f"CREATE TRIGGER {table}_insert_change_a_day AFTER INSERT ON {table} FOR EACH ROW "
            f"WHEN ({OLD_DAY.format(day=day)}) EXECUTE FUNCTION {table}_insert_a_day()"
        )
    for table, day_of in DAY_OF.items():
        gone, came = (day_of.format(rows=rows) for rows in ("gone", "came"))
        body = (
            f"IF TG_OP = 'UPDATE' THEN {CHANGED_ROWS.format(days=f'{gone} UNION ALL {came}')} "
            f"ELSE {CHANGED_ROWS.format(days=gone)} END IF;"
        )
        op.execute(FUNCTION.format(name=f"{table}_changed_days", body=body))
        for event, tables in (
            ("DELETE", "OLD TABLE AS gone"),
            ("UPDATE", "OLD TABLE AS gone NEW TABLE AS came"),
        ):
            op.execute(
                f"CREATE TRIGGER {table}_{event.lower()}_change_a_day AFTER {event} ON {table} "
                f"REFERENCING {tables} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {table}_changed_days()"
            )
    # TRUNCATE (by hand: it fires no row's trigger) empties every day: none stays stored
    op.execute(
        FUNCTION.format(
            name="daily_figures_emptied",
            body="DELETE FROM daily_figures_counted; DELETE FROM daily_figures;",
        )
    )
    for table in DAY_OF:
        op.execute(
            f"CREATE TRIGGER {table}_truncate_change_a_day AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION daily_figures_emptied()"
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
    # a list's courses: their list's day (none once the list is deleted: counted as the list's)
    served = "(SELECT served_at FROM slates WHERE slates.recommendation_id = {}.recommendation_id)"
    old_item, new_item = (f"strftime('%Y-%m-%d', {served.format(r)})" for r in ("OLD", "NEW"))
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
    if op.get_bind().dialect.name == "postgresql":
        for table in ("slates", "interactions"):
            op.execute(f"DROP TRIGGER {table}_insert_change_a_day ON {table}")
            op.execute(f"DROP FUNCTION {table}_insert_a_day()")
        for table in DAY_OF:
            for event in ("delete", "update"):
                op.execute(f"DROP TRIGGER {table}_{event}_change_a_day ON {table}")
            op.execute(f"DROP FUNCTION {table}_changed_days()")
            op.execute(f"DROP TRIGGER {table}_truncate_change_a_day ON {table}")
        op.execute("DROP FUNCTION daily_figures_emptied()")
    else:
        for table, events in (
            ("slates", ("insert", "delete", "update")),
            ("interactions", ("delete", "update")),
            ("slate_items", ("delete", "update")),
        ):
            for event in events:
                op.execute(f"DROP TRIGGER {table}_{event}_change_a_day")
    op.drop_index("ix_daily_figure_changes_day", table_name="daily_figure_changes")
    for name in ("daily_figure_changes", "daily_figures_counted", "daily_figures"):
        op.drop_table(name)
