"""`recsys import-interactions` on files too large to hold: every row checked as the file is
read, then the file read again and written in batches, each committed on its own. A file of up
to KEPT good rows is written from its first read: every test runs both ways."""

from __future__ import annotations

import os
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event

from application.use_cases.log_interactions import LogInteractions
from entrypoints.cli import cli, event_passes, two_reads
from tests.e2e.test_cli import COURSES_CSV, EVENTS_HEADER, counts, piped, reported_lines


@pytest.fixture
def run(database_url, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """The CLI on a database holding the two courses of COURSES_CSV."""
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), catch_exceptions=False)

    (tmp_path / "courses.csv").write_text(COURSES_CSV)
    assert invoke("import-courses", str(tmp_path / "courses.csv")).exit_code == 0
    return invoke


@pytest.fixture(autouse=True, params=["kept from the first read", "read again"])
def reads(request, monkeypatch):  # type: ignore[no-untyped-def]
    """Both ways of writing a file (or storing an export): from what its first read kept, and
    read again."""
    if request.param == "read again":
        monkeypatch.setattr(two_reads, "KEPT", 0)
    return request.param


class Killed(Exception):
    pass


def test_a_small_file_is_read_once_and_a_large_one_twice(run, database_url, tmp_path, monkeypatch):
    """Parsing every row twice made an import 1.3-1.4 times slower: a file small enough to hold
    is written from its first read."""
    reads = []
    load_rows = event_passes.load_rows

    def counted(*args):  # type: ignore[no-untyped-def]
        reads.append(args[0])
        return load_rows(*args)

    monkeypatch.setattr(event_passes, "load_rows", counted)
    monkeypatch.setattr(two_reads, "KEPT", 4)
    (tmp_path / "small.csv").write_text(EVENTS_HEADER + events(0, 4))
    result = run("import-interactions", "--batch-size", "3", str(tmp_path / "small.csv"))
    assert "imported 4 events (0 already stored)" in result.output and len(reads) == 1
    (tmp_path / "large.csv").write_text(EVENTS_HEADER + events(4, 5))
    result = run("import-interactions", "--batch-size", "3", str(tmp_path / "large.csv"))
    assert "imported 5 events (0 already stored)" in result.output and len(reads) == 3
    assert counts(database_url) == (2, 9)


def events(first: int, count: int) -> str:
    return "".join(
        f"e{i},u{i % 7},c_py{1 + i % 2},view,2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z\n"
        for i in range(first, first + count)
    )


def test_a_row_repeated_in_the_file_is_not_said_to_be_already_stored(run, database_url, tmp_path):
    """An LMS export that lists an event twice, imported into a database that never held it:
    the repeat is one event, not one the database "already stored"."""
    rows = events(0, 3)
    (tmp_path / "events.csv").write_text(EVENTS_HEADER + rows + rows.splitlines(True)[1])
    result = run("import-interactions", "--batch-size", "2", str(tmp_path / "events.csv"))
    assert result.exit_code == 0
    assert "imported 3 events (0 already stored); 1 rows repeat an earlier row and count once" in (
        result.output
    )
    assert counts(database_url) == (2, 3)
    again = run("import-interactions", str(tmp_path / "events.csv"))
    assert "imported 0 events (3 already stored); 1 rows repeat" in again.output


def test_events_are_written_in_batches_each_committed_so_a_crash_keeps_the_batches_before_it(
    run,
    database_url,
    tmp_path,
    monkeypatch,
):
    batches: list[int] = []
    execute = LogInteractions.execute

    def counted(self, batch):  # type: ignore[no-untyped-def]
        batches.append(len(batch))
        if os.environ.get("CRASH_AT") == str(len(batches)):
            raise Killed  # the process dying in the middle of its writes
        return execute(self, batch)

    monkeypatch.setattr(LogInteractions, "execute", counted)
    (tmp_path / "events.csv").write_text(EVENTS_HEADER + events(0, 5))
    result = run("import-interactions", "--batch-size", "2", str(tmp_path / "events.csv"))
    assert result.exit_code == 0 and "imported 5 events (0 already stored)" in result.output
    assert batches == [2, 2, 1] and counts(database_url) == (2, 5)

    batches.clear()
    monkeypatch.setenv("CRASH_AT", "3")
    (tmp_path / "more.csv").write_text(EVENTS_HEADER + events(5, 5))
    with pytest.raises(Killed):
        run("import-interactions", "--batch-size", "2", str(tmp_path / "more.csv"))
    assert counts(database_url) == (2, 9)  # the two batches committed before the crash
    monkeypatch.delenv("CRASH_AT")
    again = run("import-interactions", "--batch-size", "2", str(tmp_path / "more.csv"))
    assert "imported 1 events (4 already stored)" in again.output
    assert counts(database_url) == (2, 10)


def test_ctrl_c_while_events_are_written_stops_the_import_without_blaming_the_database(
    run,
    database_url,
    tmp_path,
):
    """Ctrl-C lands wherever the import is, most often inside a statement: it is the operator
    stopping the command, not "the database is unavailable; retry shortly"."""
    (tmp_path / "events.csv").write_text(EVENTS_HEADER + events(0, 5))

    def ctrl_c(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
        if statement.lstrip().startswith("INSERT INTO interactions"):
            raise KeyboardInterrupt

    event.listen(Engine, "before_cursor_execute", ctrl_c)
    try:
        stopped = run("import-interactions", "--batch-size", "2", str(tmp_path / "events.csv"))
    finally:
        event.remove(Engine, "before_cursor_execute", ctrl_c)
    assert stopped.exit_code == 1 and "Aborted!" in stopped.output
    assert counts(database_url) == (2, 0)
    again = run("import-interactions", "--batch-size", "2", str(tmp_path / "events.csv"))
    assert "imported 5 events (0 already stored)" in again.output


def test_a_bad_row_late_in_a_large_file_writes_nothing_and_is_named_by_its_line(
    run,
    database_url,
    tmp_path,
):
    """Past the first chunk of 10,000 rows checked together: an event_id reused far from the
    row that first gave it, and an unknown course on the last line."""
    rows = events(0, 12_000).splitlines(keepends=True)
    rows[10_998] = "e0,u0,c_py1,enroll,2026-01-01T00:00:00Z\n"  # line 11,000: e0 of line 2
    rows.append("late,u1,c_nope,view,2026-01-01T00:00:00Z\n")  # line 12,002
    (tmp_path / "events.csv").write_text(EVENTS_HEADER + "".join(rows))
    result = run("import-interactions", "--batch-size", "100", str(tmp_path / "events.csv"))
    assert result.exit_code == 1 and reported_lines(result.output) == [11_000, 12_002]
    assert "line 11000: event_id: repeats event 'e0' of line 2 with a different event_type" in (
        result.output
    )
    assert "line 12002: course_id: unknown course 'c_nope'" in result.output
    assert "Error: 2 invalid event rows; nothing was written" in result.output
    assert counts(database_url) == (2, 0)
    kept = run("import-interactions", "--skip-invalid", str(tmp_path / "events.csv"))
    assert "skipping 2 invalid event rows" in kept.output
    assert "imported 11999 events (0 already stored)" in kept.output
    assert counts(database_url) == (2, 11_999)


def test_a_csv_piped_in_is_read_as_csv_as_the_readme_shows(run, database_url, tmp_path):
    """`recsys import-interactions <(zcat events.csv.gz)` names the pipe /dev/fd/63: with no
    ".csv" to say so, every row was refused as "not valid JSON"."""
    text = f"{EVENTS_HEADER}p1,u1,c_py1,view,2026-01-05T10:00:00Z\n"
    result = piped(text, tmp_path, lambda pipe: run("import-interactions", str(pipe)))
    assert result.exit_code == 0, result.output
    assert "imported 1 events (0 already stored)" in result.output
    assert counts(database_url) == (2, 1)


def test_events_piped_in_are_checked_then_written(run, database_url, tmp_path):
    """`recsys import-interactions <(zcat events.jsonl.gz)`: a pipe, which cannot be read
    twice, is copied aside as it is read."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    text = (
        '{"event_id": "p1", "user_id": "u1", "course_id": "c_py1", "event_type": "view"}\n'
        '{"event_id": "p2", "user_id": "u1", "course_id": "c_nope", "event_type": "view"}\n'
        '{"event_id": "p3", "user_id": "u2", "course_id": "c_py2", "event_type": "enroll"}\n'
    )

    def piped(*args: str):  # type: ignore[no-untyped-def]
        writer = threading.Thread(target=lambda: pipe.write_text(text, encoding="latin-1"))
        writer.start()
        result = run("import-interactions", *args, str(pipe))
        writer.join()
        return result

    refused = piped()
    assert refused.exit_code == 1 and reported_lines(refused.output) == [2]
    assert counts(database_url) == (2, 0)
    kept = piped("--skip-invalid")
    assert kept.exit_code == 0 and "imported 2 events (0 already stored)" in kept.output
    assert counts(database_url) == (2, 2)
    text = text.replace('"u2"', '"Jos\u00e9"')
    latin = piped()
    assert latin.exit_code == 1
    assert f"{pipe} is not UTF-8 text (byte 0xe9 at offset" in latin.output
