"""daily_figures deleted by hand: their days are no longer read as stored

A day's stored figures are read while its count of changes is the one it was stored with. Rows of
daily_figures deleted (or the table emptied) by hand left the days' counts as they were, so those
days read as stored with nothing in them, zero lists, until something changed them again. A
trigger now forgets the days whose figures are deleted: they are counted from their lists and
events, and stored again at the trainer's next cycle. (The trainer's own store deletes a day's
figures before writing them again, and records the day as stored after.)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

FUNCTION = (
    "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger "
    "LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN {body} RETURN NULL; END $$"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute(
            "CREATE TRIGGER daily_figures_delete_forget_a_day AFTER DELETE ON daily_figures "
            "BEGIN DELETE FROM daily_figures_counted WHERE day = OLD.day; END"
        )
        return
    body = "DELETE FROM daily_figures_counted WHERE day IN (SELECT day FROM gone);"
    op.execute(FUNCTION.format(name="daily_figures_forget_days", body=body))
    op.execute(
        "CREATE TRIGGER daily_figures_delete_forget_a_day AFTER DELETE ON daily_figures "
        "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "
        "EXECUTE FUNCTION daily_figures_forget_days()"
    )
    op.execute(
        FUNCTION.format(name="daily_figures_forget_all", body="DELETE FROM daily_figures_counted;")
    )
    op.execute(
        "CREATE TRIGGER daily_figures_truncate_forget_a_day AFTER TRUNCATE ON daily_figures "
        "FOR EACH STATEMENT EXECUTE FUNCTION daily_figures_forget_all()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER daily_figures_delete_forget_a_day")
        return
    op.execute("DROP TRIGGER daily_figures_delete_forget_a_day ON daily_figures")
    op.execute("DROP TRIGGER daily_figures_truncate_forget_a_day ON daily_figures")
    op.execute("DROP FUNCTION daily_figures_forget_days()")
    op.execute("DROP FUNCTION daily_figures_forget_all()")
