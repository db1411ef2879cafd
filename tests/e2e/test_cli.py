"""The recsys CLI end to end, through click's runner."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.fs_artifacts import FilesystemArtifactStore
from domain.model import CourseId, Recommendation, RecommendationId, Slate, UserId
from entrypoints.cli import cli
from entrypoints.config import load_settings
from entrypoints.container import Container
from tests.conftest import NOW


@pytest.fixture
def run(database_url, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    # a statement slowed past the 3 s default by a busy machine (CI shares its cores) is not
    # what these commands' tests are about: the outage tests set their own timeouts
    monkeypatch.setenv("RS_DB_TIMEOUT_SECONDS", "30")
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def counts(database_url: str) -> tuple[int, int]:
    container = Container()
    container.config.from_dict({"database_url": database_url})
    with container.uow() as uow:
        result = uow.courses.count(), uow.interactions.count()
    container.engine().dispose()
    return result


def stored_courses(database_url: str) -> dict:  # type: ignore[type-arg]
    """course_id -> the stored course."""
    container = Container()
    container.config.from_dict({"database_url": database_url})
    with container.uow() as uow:
        result = {c.course_id: c for c in uow.courses.all()}
    container.engine().dispose()
    return result


COURSES_CSV = """course_id,title,description,category,level,tags,prerequisites,active
c_py1,Python Basics,Learn Python,Programming,beginner,python|programming,,true
c_py2,Intermediate Python,More Python,Programming,intermediate,python,c_py1,true
"""


def test_a_csv_header_with_a_column_of_the_lms_own_is_refused_in_one_line(run, tmp_path):
    """An export with a column of its own (or a misspelt one) made every row a bad row, said
    row by row; with --skip-invalid every row was left out and nothing imported."""
    (tmp_path / "courses.csv").write_text(
        "\n".join(f"{line},lms_id" if line else line for line in COURSES_CSV.split("\n"))
    )
    (tmp_path / "events.csv").write_text(
        "user_id,course_id,event_type,occured_at\nu1,c_py1,view,2026-01-01T00:00:00Z\n"
    )
    for command, file, told in [
        ("import-courses", "courses.csv", "the header names lms_id (its columns: course_id,"),
        ("import-interactions", "events.csv", "the header names occured_at (its columns:"),
    ]:
        for flags in ((), ("--skip-invalid",)):
            result = run(command, *flags, str(tmp_path / file))
            assert result.exit_code == 1
            assert len(result.output.strip().splitlines()) == 1
            assert result.output.startswith(f"Error: {tmp_path / file}: {told}")


def test_a_warning_log_level_silences_the_info_lines_of_migrations_and_faiss(run, monkeypatch):
    monkeypatch.setenv("RS_LOG_LEVEL", "WARNING")
    root = logging.getLogger()
    level = root.level
    try:
        result = run("init-db")
    finally:
        root.setLevel(level)
    assert result.exit_code == 0 and "latest schema" in result.output
    assert "alembic" not in result.stderr and "faiss" not in result.stderr


def test_init_db_is_repeatable(run):
    assert run("init-db").exit_code == 0
    assert "latest schema" in run("init-db").output


def test_import_courses_and_interactions_from_csv_and_json_lines(run, database_url, tmp_path):
    (tmp_path / "courses.csv").write_text(COURSES_CSV)
    events = [
        {
            "event_id": "e1",
            "user_id": "u1",
            "course_id": "c_py1",
            "event_type": "enroll",
            "occurred_at": "2026-01-01T00:00:00Z",
        },
        {
            "event_id": "e2",
            "user_id": "u2",
            "course_id": "c_py2",
            "event_type": "view",
            "occurred_at": "2026-01-02T00:00:00Z",
        },
    ]
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events))
    assert "imported 2 courses" in run("import-courses", str(tmp_path / "courses.csv")).output
    assert (
        "imported 2 events (0 already stored)"
        in run("import-interactions", str(tmp_path / "events.jsonl")).output
    )
    assert (
        "imported 0 events (2 already stored)"
        in run("import-interactions", str(tmp_path / "events.jsonl")).output
    )
    assert counts(database_url) == (2, 2)


def test_files_saved_by_excel_with_a_byte_order_mark_are_imported(run, database_url, tmp_path):
    (tmp_path / "courses.csv").write_text(COURSES_CSV, encoding="utf-8-sig")
    (tmp_path / "events.jsonl").write_text(
        '{"user_id": "u1", "course_id": "c_py1", "event_type": "view"}\n', encoding="utf-8-sig"
    )
    assert "imported 2 courses" in run("import-courses", str(tmp_path / "courses.csv")).output
    assert "imported 1 events" in run("import-interactions", str(tmp_path / "events.jsonl")).output
    assert counts(database_url) == (2, 1)


def test_an_export_writing_ids_as_json_numbers_imports_as_its_csv_would(
    run, database_url, tmp_path
):
    """Moodle's ids are numbers: such an export was refused row by row ("Not a valid string"),
    where the same rows as CSV imported. A number that is no whole one stays refused."""
    (tmp_path / "courses.jsonl").write_text(
        '{"course_id": 101, "title": "Python"}\n'
        '{"course_id": 102, "title": "More Python", "prerequisites": [101]}\n'
    )
    assert "imported 2 courses" in run("import-courses", str(tmp_path / "courses.jsonl")).output
    (tmp_path / "events.jsonl").write_text(
        '{"event_id": 1, "user_id": 7, "course_id": 101, "event_type": "enroll",'
        ' "occurred_at": "2026-01-01T00:00:00Z"}\n'
    )
    assert "imported 1 events" in run("import-interactions", str(tmp_path / "events.jsonl")).output
    (tmp_path / "csv.csv").write_text(
        "event_id,user_id,course_id,event_type,occurred_at\n1,7,101,enroll,2026-01-01T00:00:00Z\n"
    )
    assert "(1 already stored)" in run("import-interactions", str(tmp_path / "csv.csv")).output
    (tmp_path / "bad.jsonl").write_text(
        '{"user_id": 7.5, "course_id": 101, "event_type": "view"}\n'
    )
    refused = run("import-interactions", str(tmp_path / "bad.jsonl"))
    assert refused.exit_code == 1 and "line 1: user_id" in refused.output
    assert counts(database_url) == (2, 1)


def test_bad_rows_are_reported_by_line_and_nothing_is_written(run, database_url, tmp_path):
    (tmp_path / "courses.csv").write_text(COURSES_CSV)
    run("import-courses", str(tmp_path / "courses.csv"))
    (tmp_path / "events.csv").write_text(
        "user_id,course_id,event_type,occurred_at\n"
        "u1,c_py1,view,2026-01-01T00:00:00Z\n"
        "u1,c_py1,teleport,2026-01-01T00:00:00Z\n"
        "u1,c_nope,view,2026-01-01T00:00:00Z\n"
    )
    result = run("import-interactions", str(tmp_path / "events.csv"))
    assert result.exit_code == 1
    assert (
        "line 3: event_type" in result.output
        and "line 4: course_id: unknown course 'c_nope'" in result.output
    )
    assert "nothing was written" in result.output
    assert counts(database_url) == (2, 0)
    kept = run("import-interactions", "--skip-invalid", str(tmp_path / "events.csv"))
    assert kept.exit_code == 0 and "imported 1 events" in kept.output
    assert counts(database_url) == (2, 1)


def test_a_row_with_more_fields_than_its_header_is_a_bad_row_and_each_bad_row_counts_once(
    run, database_url, tmp_path
):
    """Before, the extra fields were dropped unseen (an unquoted comma shifts a row), and the
    count said how many problems there were, not how many rows."""
    (tmp_path / "courses.csv").write_text(COURSES_CSV)
    run("import-courses", str(tmp_path / "courses.csv"))
    (tmp_path / "events.csv").write_text(
        "user_id,course_id,event_type,occurred_at\n"
        "u1,c_py1,view,2026-01-01T00:00:00Z,EXTRA\n"
        "u1,c_py1,teleport,yesterday\n"
        "u1,c_py1,view,2026-01-02T00:00:00Z,,\n"  # blank extra fields hold nothing: kept
    )
    result = run("import-interactions", str(tmp_path / "events.csv"))
    assert result.exit_code == 1
    assert "line 2: more fields than the header names: 'EXTRA'" in result.output
    assert "line 3: event_type" in result.output and "line 3: occurred_at" in result.output
    assert "Error: 2 invalid event rows; nothing was written" in result.output
    kept = run("import-interactions", "--skip-invalid", str(tmp_path / "events.csv"))
    assert "skipping 2 invalid event rows" in kept.output and "imported 1 events" in kept.output
    assert counts(database_url) == (2, 1)


EVENTS_HEADER = "event_id,user_id,course_id,event_type,occurred_at\n"


def reported_lines(output: str) -> list[int]:
    """The line numbers of the bad rows, in the order they were listed."""
    return [int(line.split(":")[0][5:]) for line in output.splitlines() if line.startswith("line ")]


def test_an_event_id_reused_for_another_event_is_a_bad_row_named_by_line(
    run, database_url, tmp_path
):
    (tmp_path / "courses.csv").write_text(COURSES_CSV)
    run("import-courses", str(tmp_path / "courses.csv"))
    (tmp_path / "stored.csv").write_text(EVENTS_HEADER + "s1,u2,c_py2,view,2026-01-01T00:00:00Z\n")
    run("import-interactions", str(tmp_path / "stored.csv"))
    (tmp_path / "events.csv").write_text(
        EVENTS_HEADER
        + "w1,u1,c_py1,view,2026-01-01T00:00:00Z\n"
        + "w2,u1,c_py1,teleport,2026-01-01T00:00:00Z\n"
        + "w1,u1,c_py1,enroll,2026-01-01T00:00:00Z\n"
        + "s1,u2,c_py2,click,2026-01-01T00:00:00Z\n"
        + "w1,u1,c_py1,view,2026-01-01T00:00:00Z\n"  # the same event again: a retry, not a conflict
        + "w3,u1,c_nope,view,2026-01-01T00:00:00Z\n"
    )
    result = run("import-interactions", str(tmp_path / "events.csv"))
    assert result.exit_code == 1 and "nothing was written" in result.output
    assert reported_lines(result.output) == [3, 4, 5, 7]
    assert "line 4: event_id: repeats event 'w1' of line 2 with a different event_type" in (
        result.output
    )
    assert "line 5: event_id: event 's1' was already logged with a different event_type" in (
        result.output
    )
    assert counts(database_url) == (2, 1)
    kept = run("import-interactions", "--skip-invalid", str(tmp_path / "events.csv"))
    assert kept.exit_code == 0
    assert "imported 1 events (0 already stored); 1 rows repeat an earlier row" in kept.output
    assert reported_lines(kept.output) == [3, 4, 5, 7]
    assert counts(database_url) == (2, 2)


def serve_list(database_url: str, user: str, *course_ids: str) -> str:
    """Record a list served to `user`, as /home does; returns its recommendation_id."""
    container = Container()
    container.config.from_dict({"database_url": database_url})
    items = tuple(
        Recommendation(CourseId(c), 0.5, rank, "content")
        for rank, c in enumerate(course_ids, start=1)
    )
    with container.uow() as uow:
        uow.slates.add(Slate(RecommendationId("r1"), UserId(user), "content", items, NOW))
        uow.commit()
    container.engine().dispose()
    return "r1"


def test_an_event_credited_to_a_list_not_shown_to_its_learner_or_without_its_course_is_a_bad_row(
    run, database_url, tmp_path
):
    (tmp_path / "courses.csv").write_text(COURSES_CSV)
    run("import-courses", str(tmp_path / "courses.csv"))
    served = serve_list(database_url, "u1", "c_py1")
    (tmp_path / "events.csv").write_text(
        "event_id,user_id,course_id,event_type,occurred_at,recommendation_id\n"
        f"e1,u1,c_py1,click,2026-11-02T00:00:00Z,{served}\n"
        f"e2,u2,c_py1,click,2026-11-02T00:00:00Z,{served}\n"
        f"e3,u1,c_py2,click,2026-11-02T00:00:00Z,{served}\n"
    )
    result = run("import-interactions", str(tmp_path / "events.csv"))
    assert result.exit_code == 1 and reported_lines(result.output) == [3, 4]
    assert (
        "line 3: recommendation_id: the list served with this id was shown to another learner"
        in (result.output)
    )
    assert "line 4: recommendation_id: course 'c_py2' was not in the list" in result.output
    kept = run("import-interactions", "--skip-invalid", str(tmp_path / "events.csv"))
    assert kept.exit_code == 0 and "imported 1 events" in kept.output


def test_active_takes_the_usual_spellings_and_any_other_value_is_a_bad_row(
    run, database_url, tmp_path
):
    rows = [
        "course_id,title,active",
        "a,A,Yes",
        "b,B,0",
        "c,C,FALSE",
        "d,D,",
        "e,E,maybe",
        "f,F,On",
    ]
    (tmp_path / "courses.csv").write_text("\n".join(rows) + "\n")
    result = run("import-courses", str(tmp_path / "courses.csv"))
    assert result.exit_code == 1
    assert "line 6: active: 'maybe' is not true/false, 1/0, yes/no or on/off" in result.output
    assert counts(database_url) == (0, 0)
    kept = run("import-courses", "--skip-invalid", str(tmp_path / "courses.csv"))
    assert kept.exit_code == 0 and "imported 5 courses" in kept.output
    active = {i: c.active for i, c in stored_courses(database_url).items()}
    assert active == {"a": True, "b": False, "c": False, "d": True, "f": True}  # as JSON takes them


def test_a_level_a_spreadsheet_capitalised_is_the_level_it_names(run, database_url, tmp_path):
    rows = ["course_id,title,level", "a,A,Beginner", "b,B, ADVANCED", "c,C,expert"]
    (tmp_path / "courses.csv").write_text("\n".join(rows) + "\n")
    result = run("import-courses", "--skip-invalid", str(tmp_path / "courses.csv"))
    assert "line 4: level:" in result.output and "imported 2 courses" in result.output
    levels = {i: c.level.value for i, c in stored_courses(database_url).items()}
    assert levels == {"a": "beginner", "b": "advanced"}


def test_a_csv_row_with_an_active_no_spelling_means_still_names_its_other_problems(
    run, database_url, tmp_path
):
    # as a JSON line does: fixing one field at a time, an import at a time, wastes a night's sync
    rows = ["course_id,title,level,active", "a,,expert,maybe"]
    (tmp_path / "courses.csv").write_text("\n".join(rows) + "\n")
    result = run("import-courses", str(tmp_path / "courses.csv"))
    assert result.exit_code == 1
    assert "line 2: active: 'maybe' is not true/false, 1/0, yes/no or on/off" in result.output
    assert "line 2: level: Must be one of: beginner, intermediate, advanced." in result.output
    assert "line 2: title: Missing data for required field." in result.output
    assert "1 invalid course rows" in result.output
    assert counts(database_url) == (0, 0)


def test_a_course_named_twice_in_a_file_is_a_bad_row_as_in_an_api_batch(
    run, database_url, tmp_path
):
    rows = ["course_id,title", "c1,First", "c2,Other", "c1,Second"]
    (tmp_path / "courses.csv").write_text("\n".join(rows) + "\n")
    result = run("import-courses", str(tmp_path / "courses.csv"))
    assert result.exit_code == 1
    assert "line 4: course_id: repeats course 'c1' of line 2" in result.output
    assert counts(database_url) == (0, 0)
    kept = run("import-courses", "--skip-invalid", str(tmp_path / "courses.csv"))
    assert kept.exit_code == 0 and "imported 2 courses" in kept.output
    titles = {i: c.title for i, c in stored_courses(database_url).items()}
    assert titles == {"c1": "First", "c2": "Other"}  # the first copy, not the last


def test_unknown_prerequisites_and_cycles_are_bad_rows_by_line_that_skip_invalid_skips(
    run, database_url, tmp_path
):
    rows = [
        "course_id,title,prerequisites",
        "course_walk_p,Walk P,",
        "course_walk_q,Walk Q,course_missing",
        "course_walk_r,Walk R,course_walk_q",  # fine, until line 3 is skipped
        "loop_a,Loop A,loop_b",
        "loop_b,Loop B,loop_a",
        "course_walk_s,Walk S,course_walk_p",
        "untitled,,",
    ]
    (tmp_path / "courses.csv").write_text("\n".join(rows) + "\n")
    result = run("import-courses", str(tmp_path / "courses.csv"))
    assert result.exit_code == 1 and "nothing was written" in result.output
    assert reported_lines(result.output) == [3, 5, 6, 8]
    assert "line 3: prerequisites[0]: unknown course 'course_missing'" in result.output
    assert (
        "line 6: prerequisites: form a cycle: loop_b -> loop_a -> loop_b (each requires the next)"
        in result.output
    )
    assert counts(database_url) == (0, 0)
    kept = run("import-courses", "--skip-invalid", str(tmp_path / "courses.csv"))
    assert kept.exit_code == 0 and "imported 2 courses" in kept.output
    assert reported_lines(kept.output) == [3, 4, 5, 6, 8]
    assert "line 4: prerequisites[0]: unknown course 'course_walk_q' once" in kept.output
    assert set(stored_courses(database_url)) == {"course_walk_p", "course_walk_s"}


def test_an_import_that_retires_a_prerequisite_says_which_active_courses_still_require_it(
    run, database_url, tmp_path
):
    (tmp_path / "courses.csv").write_text(COURSES_CSV)
    run("import-courses", str(tmp_path / "courses.csv"))
    retiring = COURSES_CSV.replace(",,true", ",,false")  # c_py1, which c_py2 requires
    (tmp_path / "retire.csv").write_text(retiring)
    result = run("import-courses", str(tmp_path / "retire.csv"))
    assert result.exit_code == 0 and "imported 2 courses" in result.output
    assert (
        "c_py2 requires c_py1, which is retired: only learners who took c_py1 can be "
        "recommended c_py2"
    ) in result.output
    assert stored_courses(database_url)["c_py1"].active is False
    both = retiring.replace("c_py1,true", "c_py1,false")
    (tmp_path / "both.csv").write_text(both)
    quiet = run("import-courses", str(tmp_path / "both.csv"))  # nothing active needs it now
    assert quiet.exit_code == 0 and "requires" not in quiet.output


def test_an_import_of_courses_requiring_a_retired_course_says_so_once_per_course(run, tmp_path):
    retired = COURSES_CSV.replace(",,true", ",,false").replace("c_py1,true", "c_py1,false")
    (tmp_path / "retired.csv").write_text(retired)
    run("import-courses", str(tmp_path / "retired.csv"))
    header = COURSES_CSV.splitlines()[0]
    row = "c_ds{0},Data {0},,Data,intermediate,,c_py1,true"
    (tmp_path / "few.csv").write_text("\n".join([header, *(row.format(i) for i in range(3))]))
    few = run("import-courses", str(tmp_path / "few.csv"))
    assert few.exit_code == 0 and "imported 3 courses" in few.output
    assert [line for line in few.output.splitlines() if "requires" in line] == [
        f"c_ds{i} requires c_py1, which is retired: only learners who took c_py1 can be "
        f"recommended c_ds{i}"
        for i in range(3)
    ]
    (tmp_path / "many.csv").write_text("\n".join([header, *(row.format(i) for i in range(500))]))
    many = run("import-courses", str(tmp_path / "many.csv"))
    assert many.exit_code == 0 and "imported 500 courses" in many.output
    lines = many.output.splitlines()
    assert len([line for line in lines if "requires" in line]) < 30
    assert (
        "... and 480 more; 500 courses in all require a retired course or one the catalog does not have"
        in lines
    )


def piped(text: str, folder: Path, command):  # type: ignore[no-untyped-def]
    """command(pipe) while a thread writes `text` into the named pipe, as `<(cat file)` does. A
    command that opens the pipe again after reading it would wait for a writer for ever: after
    a minute it is given an end of file instead, so the test fails rather than hangs."""
    pipe = folder / "63"
    os.mkfifo(pipe)
    threading.Thread(target=lambda: pipe.write_text(text), daemon=True).start()

    def unblock() -> None:
        with contextlib.suppress(OSError):  # no reader waiting: nothing to unblock
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(60, unblock)
    timer.start()
    try:
        return command(pipe)
    finally:
        timer.cancel()


@pytest.mark.parametrize(
    "text",
    [COURSES_CSV, "".join(f'{{"course_id": "c{i}", "title": "Course {i}"}}\n' for i in range(200))],
    ids=["csv", "json lines"],
)
def test_courses_piped_in_are_read_whole_whatever_their_format(run, tmp_path, text):
    """`recsys import-courses <(cat courses.csv)` names no format: its first bytes say it, and
    are still read (a peek at a pipe that consumed them lost the header, or the first row)."""
    result = piped(text, tmp_path, lambda pipe: run("import-courses", str(pipe)))
    assert result.exit_code == 0, result.output
    assert f"imported {2 if text == COURSES_CSV else 200} courses" in result.output  # (8 KB)


def test_invalid_json_lines_are_reported(run, tmp_path):
    (tmp_path / "courses.jsonl").write_text('{"course_id": "a", "title": "A"}\n{not json\n')
    result = run("import-courses", str(tmp_path / "courses.jsonl"))
    assert result.exit_code == 1 and "line 2: not valid JSON" in result.output


@pytest.mark.parametrize(
    "command, text, what",
    [
        ("import-courses", "course_id,title\n,A\n,B\n", "course rows"),
        ("import-interactions", f"{EVENTS_HEADER}e1,u1,c1,stare,\ne2,u1,c1,gaze,\n", "event rows"),
    ],
)
def test_skip_invalid_with_every_row_invalid_fails_instead_of_importing_nothing(
    run, tmp_path, command, text, what
):
    """ "imported 0" with exit status 0 passed for a success, as an empty file's would."""
    (tmp_path / "rows.csv").write_text(text)
    result = run(command, "--skip-invalid", str(tmp_path / "rows.csv"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: nothing was imported: all 2 {what} are invalid"
    )


def test_a_file_that_is_not_utf8_is_named_with_where_and_nothing_is_written(
    run, database_url, tmp_path
):
    latin1 = COURSES_CSV.replace("More Python", "Más Python").encode("latin-1")
    (tmp_path / "courses.csv").write_bytes(latin1)
    result = run("import-courses", str(tmp_path / "courses.csv"))
    assert result.exit_code == 1
    offset = latin1.index(b"\xe1")
    assert result.output == (
        f"Error: {tmp_path / 'courses.csv'} is not UTF-8 text (byte 0xe1 at offset {offset}, "
        "line 3); save it as UTF-8\n"
    )
    (tmp_path / "events.jsonl").write_bytes(
        b'{"user_id": "Jos\xe9", "course_id": "c_py1", "event_type": "view"}\n'
    )
    result = run("import-interactions", str(tmp_path / "events.jsonl"))
    assert result.exit_code == 1 and "events.jsonl is not UTF-8 text" in result.output
    assert counts(database_url) == (0, 0)


def test_demo_data_is_deterministic_and_loaded_once(run, database_url, tmp_path):
    first = run("demo-data", "--learners", "40", "--seed", "7")
    assert first.exit_code == 0, first.output
    loaded = counts(database_url)
    assert loaded[0] >= 200 and loaded[1] > 100
    assert "over 30 days" in first.output and "credited" in first.output
    assert "not loaded" in run("demo-data", "--if-empty").output
    assert counts(database_url) == loaded
    # an operator retires a demo course: loading the demo again wrote it back as it was
    (tmp_path / "retired.csv").write_text(
        "course_id,title,category,active\ncourse_go_basic,Go Basics,Programming,false\n"
    )
    assert run("import-courses", str(tmp_path / "retired.csv")).exit_code == 0
    time.sleep(1.1)  # the demo's times follow the clock (to the second); its events do not
    again = run("demo-data", "--learners", "40", "--seed", "7")
    assert again.exit_code == 0, again.output
    assert "are loaded already; nothing added" in again.output
    assert counts(database_url) == loaded
    assert not stored_courses(database_url)["course_go_basic"].active


class Stopped(BaseException):
    """Ctrl-C"""


@pytest.mark.parametrize("stopped", ["before its events", "after its events"])
def test_a_demo_stopped_midway_is_finished_by_the_next_make_run(
    run, database_url, monkeypatch, stopped
):
    """`make run` stopped while the demo loaded: the next one (demo-data --if-empty) said the
    catalog had courses and loaded nothing, and a plain demo-data said the events were loaded:
    the demo's 30 days of served lists and their clicks never came."""
    from entrypoints.cli import data

    loads = data.ingest

    def stopping(container, events, label):  # type: ignore[no-untyped-def]
        if stopped == "before its events":
            raise Stopped  # its courses stored, none of its events
        loads(container, events, label)
        raise Stopped

    monkeypatch.setattr(data, "ingest", stopping)
    with pytest.raises(Stopped):
        run("demo-data", "--learners", "40", "--seed", "7", "--if-empty")
    monkeypatch.setattr(data, "ingest", loads)
    loaded = counts(database_url)
    if stopped == "before its events":
        assert loaded[1] == 0
        started = run("demo-data", "--learners", "40", "--seed", "7", "--if-empty")
        assert "loaded 207 courses and" in started.output and "over 30 days" in started.output
        return
    again = run("demo-data", "--learners", "40", "--seed", "7", "--if-empty")
    assert again.exit_code == 0, again.output
    assert "are loaded already; its served lists are not" in again.output
    assert "over 30 days" in again.output and "credited" in again.output
    finished = counts(database_url)
    assert finished[0] == loaded[0] and finished[1] > loaded[1]  # the clicks on the lists
    for args in (["--if-empty"], []):  # served once: neither run serves them again
        more = run("demo-data", "--learners", "40", "--seed", "7", *args)
        assert "nothing added" in more.output and "over 30 days" not in more.output
    assert counts(database_url) == finished
    assert "not loaded" in run("demo-data", "--if-empty").output  # another demo's events


def test_a_demo_stopped_before_the_bandit_counted_its_lists_has_them_counted_by_the_next_run(
    run, database_url, monkeypatch
):
    """The lists and their clicks are stored together; the bandit's credit after them is given
    by the next run if a run stopped before it."""
    from entrypoints.cli import data

    def stopped(container):  # type: ignore[no-untyped-def]
        raise Stopped

    credit = data._credit
    monkeypatch.setattr(data, "_credit", stopped)
    with pytest.raises(Stopped):
        run("demo-data", "--learners", "40", "--seed", "7")
    monkeypatch.setattr(data, "_credit", credit)
    loaded = counts(database_url)
    again = run("demo-data", "--learners", "40", "--seed", "7", "--if-empty")
    assert "nothing added" in again.output
    assert "the demo's served lists: credited" in again.output
    assert counts(database_url) == loaded
    assert "credited" not in run("demo-data", "--learners", "40", "--seed", "7").output


def test_a_demo_whose_bandit_cannot_be_published_says_so_in_one_line_and_the_next_run_credits_it(
    run, tmp_path
):
    """A models' store that refuses the bandit (an unwritable RS_MODELS_DIR, a role without
    grants on the database's artifact tables) was a traceback after the lists were stored."""
    (tmp_path / "models").mkdir()
    in_the_way = tmp_path / "models" / "bandit"  # where its versions go: a file, not ours
    in_the_way.write_text("")
    refused = run("demo-data", "--learners", "40", "--seed", "7")
    assert refused.exit_code == 1
    assert refused.output.splitlines()[-1].startswith("Error: bandit could not be published: ")
    in_the_way.unlink()
    again = run("demo-data", "--learners", "40", "--seed", "7")
    assert "the demo's served lists: credited" in again.output


@pytest.mark.parametrize("learners", ["0", "-5"])
def test_demo_data_needs_at_least_one_learner_and_writes_nothing_otherwise(
    run, database_url, learners
):
    result = run("demo-data", "--learners", learners)
    assert result.exit_code == 2
    assert f"Invalid value for '--learners': {learners} is not in the range x>=1" in result.output
    assert counts(database_url) == (0, 0)


def test_show_config_masks_secrets(run, monkeypatch):
    monkeypatch.setenv("RS_ADMIN_TOKEN", "s3cret-token")
    monkeypatch.setenv("RS_DATABASE_URL", "postgresql+psycopg://app:hunter2@db:5432/lms")
    output = run("show-config").output
    assert "s3cret-token" not in output and "hunter2" not in output
    shown = json.loads(run("show-config", "--json").output)
    assert shown["settings"]["database_url"] == "postgresql+psycopg://app:***@db:5432/lms"
    assert shown["sources"]["database_url"] == "RS_DATABASE_URL (environment)"


def test_show_config_says_where_each_setting_came_from(run, monkeypatch):
    monkeypatch.setenv("RS_DIVERSITY_LAMBDA", "0.5")
    lines = {line.split()[0]: line for line in run("show-config").output.splitlines()}
    assert lines["diversity"].split()[1:] == ["0.5", "RS_DIVERSITY_LAMBDA", "(environment)"]
    assert lines["bandit_policy"].split()[1:] == ["epsilon_greedy", "default"]
    assert lines["two_tower.members"].split()[1:3] == ["3", "configs/two_tower.yaml"]


def test_show_config_says_a_pinned_setting_comes_from_the_variable_that_pins_it(run, monkeypatch):
    monkeypatch.setenv("HYBRID_WEIGHTS_CONTENT", "0.4")
    monkeypatch.setenv("RS_ITEM_CF_REGULARIZATION", "250")
    lines = {line.split()[0]: line for line in run("show-config").output.splitlines()}
    assert lines["tuning_pins.hybrid.weights.content"].split()[1:] == [
        "0.4",
        "HYBRID_WEIGHTS_CONTENT",
        "(environment)",
    ]
    assert lines["tuning_pins.item_cf.regularization"].split()[1:] == [
        "250.0",
        "RS_ITEM_CF_REGULARIZATION",
        "(environment)",
    ]
    # pinned with the others, at its default value
    assert lines["tuning_pins.hybrid.weights.sequence"].split()[1:] == ["0.0", "default"]
    monkeypatch.setenv("RS_TWO_TOWER_CONFIG", "configs/two_tower_unordered.yaml")
    lines = {line.split()[0]: line for line in run("show-config").output.splitlines()}
    assert lines["tuning_pins.two_tower.objective"].split()[1:] == [
        "all",
        "RS_TWO_TOWER_CONFIG",
        "(configs/two_tower_unordered.yaml)",
    ]


def test_show_config_shows_the_objective_a_variable_pins_not_the_yamls(run, monkeypatch):
    """Before, two_tower.objective said 'next' from the YAML while RS_TWO_TOWER_OBJECTIVE=all
    was in force (the trainer trains with the pin)."""
    monkeypatch.setenv("RS_TWO_TOWER_OBJECTIVE", "all")
    lines = {line.split()[0]: line for line in run("show-config").output.splitlines()}
    assert lines["two_tower.objective"].split()[1:] == [
        "all",
        "RS_TWO_TOWER_OBJECTIVE",
        "(environment)",
    ]
    shown = json.loads(run("show-config", "--json").output)
    assert shown["settings"]["two_tower"]["objective"] == "all"
    assert shown["sources"]["two_tower.objective"] == "RS_TWO_TOWER_OBJECTIVE (environment)"
    # an explicit YAML's objective is pinned too, and the variable still wins over it
    monkeypatch.setenv("RS_TWO_TOWER_CONFIG", "configs/two_tower_unordered.yaml")
    monkeypatch.setenv("RS_TWO_TOWER_OBJECTIVE", "next")
    shown = json.loads(run("show-config", "--json").output)["settings"]
    assert shown["two_tower"]["objective"] == shown["tuning_pins"]["two_tower"]["objective"]
    assert shown["two_tower"]["objective"] == "next"


def test_show_config_says_which_yaml_settings_the_trainers_search_may_replace(run, monkeypatch):
    searched = " (until the trainer's settings search chooses another)"
    sources = json.loads(run("show-config", "--json").output)["sources"]
    assert sources["two_tower.objective"] == "configs/two_tower.yaml" + searched
    assert sources["two_tower.members"] == "configs/two_tower.yaml" + searched
    assert sources["two_tower.epochs"] == "configs/two_tower.yaml"  # never searched
    # an explicit YAML pins its objective and size: used as given
    monkeypatch.setenv("RS_TWO_TOWER_CONFIG", "configs/two_tower.yaml")
    sources = json.loads(run("show-config", "--json").output)["sources"]
    assert (
        sources["two_tower.objective"] == sources["two_tower.members"] == "configs/two_tower.yaml"
    )


def test_show_config_says_the_trainers_search_may_replace_the_default_hybrid_weights(
    run, monkeypatch
):
    """Unpinned, the hybrid blends with the weights the trainer chose on the data: "default"
    alone read as the weights in use."""
    searched = " (until the trainer's settings search chooses another)"
    sources = json.loads(run("show-config", "--json").output)["sources"]
    assert sources["hybrid_weights.two_tower"] == "default" + searched
    assert sources["hybrid_weights.sequence"] == "default" + searched
    # one variable pins all five: the others are used at their defaults, never searched
    monkeypatch.setenv("HYBRID_WEIGHTS_CONTENT", "0.5")
    sources = json.loads(run("show-config", "--json").output)["sources"]
    assert sources["hybrid_weights.content"] == "HYBRID_WEIGHTS_CONTENT (environment)"
    assert sources["hybrid_weights.two_tower"] == "default"


def test_a_bad_setting_is_a_clear_error(run, monkeypatch):
    monkeypatch.setenv("EMBEDDING_DIM", "sixty-four")
    result = CliRunner().invoke(cli, ["show-config"])
    assert result.exit_code == 1
    assert "EMBEDDING_DIM='sixty-four': Input should be a valid integer" in result.output


def test_keeping_one_version_is_refused_as_the_store_keeps_at_least_two(monkeypatch):
    monkeypatch.setenv("RS_KEEP_VERSIONS", "1")
    result = CliRunner().invoke(cli, ["show-config"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: invalid setting RS_KEEP_VERSIONS='1': Input should be greater than or equal to 2\n"
    )
    monkeypatch.setenv("RS_KEEP_VERSIONS", "2")
    shown = json.loads(CliRunner().invoke(cli, ["show-config", "--json"]).output)
    assert shown["settings"]["keep_versions"] == 2


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("--port", "99999", "1<=x<=65535"),
        ("--port", "0", "1<=x<=65535"),
        ("--workers", "0", "x>=1"),
        ("--threads", "0", "x>=1"),
    ],
)
def test_serve_refuses_a_port_or_worker_count_it_cannot_serve_with(option, value, allowed):
    result = CliRunner().invoke(cli, ["serve", option, value], catch_exceptions=False)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': {value} is not in the range {allowed}" in result.output


def test_train_two_tower_help_names_the_yaml_it_reads_without_config():
    """Without --config it trains with RS_TWO_TOWER_CONFIG's YAML, as eval does; its help named
    configs/two_tower.yaml alone, so an operator who had set the variable read the wrong file."""
    result = CliRunner().invoke(cli, ["train-two-tower", "--help"])
    assert "(default: $RS_TWO_TOWER_CONFIG or configs/two_tower.yaml)" in " ".join(
        result.output.split()
    )


def test_train_export_and_rebuild_publish_new_versions(run, tmp_path, monkeypatch):
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    config = tmp_path / "two_tower.yaml"
    config.write_text(
        "epochs: 30\nbatch_size: 64\nbuckets: 4096\nuser_buckets: 1024\nembedding_dim: 16\nhidden_dims: [32]\n"
    )
    store = FilesystemArtifactStore(tmp_path / "models")
    run("demo-data", "--learners", "60")
    trained = run("train-two-tower", "--config", str(config), "--epochs", "2")
    assert trained.exit_code == 0, trained.output
    assert "after 2 epochs" in trained.output and "207 courses indexed (Flat,IP)" in trained.output
    first = store.current_version("two_tower")
    assert "not training" in run("train-two-tower", "--if-missing").output
    exported = run("export-embeddings")
    assert exported.exit_code == 0 and "207 courses indexed" in exported.output
    second = store.current_version("two_tower")
    rebuilt = run("rebuild-index")
    assert rebuilt.exit_code == 0 and "207 courses indexed" in rebuilt.output
    third = store.current_version("two_tower")
    assert len({first, second, third}) == 3
    # all three hold one model: kept are the version answering and the one it replaced, the
    # oldest copy pruned (RS_KEEP_VERSIONS counts models)
    assert store.versions("two_tower") == [third, second]


def _small_model_on_the_demo(run, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    """The demo loaded and a small two_tower trained on it in a second; its configuration."""
    config = tmp_path / "two_tower.yaml"
    config.write_text(
        "epochs: 2\nbatch_size: 64\nbuckets: 4096\nuser_buckets: 1024\nembedding_dim: 16\n"
        "hidden_dims: [32]\n"
    )
    run("demo-data", "--learners", "60")
    assert run("train-two-tower", "--config", str(config)).exit_code == 0
    return config


def test_train_two_tower_waits_for_a_fitting_trainer_and_holds_the_turn_while_it_trains(
    run, tmp_path, database_url
):
    """The operator's own training took no turn: a trainer fitting meanwhile (another host's, or
    one started during the training) trained the same data on the same cores, and the slower
    one's publish was refused."""
    import threading

    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.fit_turn import SqlFitTurn

    config = tmp_path / "two_tower.yaml"
    config.write_text(
        "epochs: 3\nbatch_size: 64\nbuckets: 4096\nuser_buckets: 1024\nembedding_dim: 16\n"
        "hidden_dims: [32]\n"
    )
    run("demo-data", "--learners", "60")
    engine = build_engine(database_url)
    turn = SqlFitTurn(engine)
    holding, release, done = threading.Event(), threading.Event(), threading.Event()
    seen_free: list[bool] = []

    def another_trainer() -> None:
        with turn.taken() as ours:
            assert ours
            holding.set()
            release.wait(30)
        while not done.is_set():  # then it tries again while the training runs
            with turn.taken() as ours:
                seen_free.append(ours)
            # often, so that it tries many times whatever the training takes (a second on a busy
            # machine, a third of one on a quiet one, when every 20 ms made a flaky count)
            time.sleep(0.002)

    thread = threading.Thread(target=another_trainer)
    thread.start()
    try:
        assert holding.wait(10)
        threading.Timer(1.0, release.set).start()
        started = time.monotonic()
        trained = run("train-two-tower", "--config", str(config))
        done.set()
        thread.join(30)
        assert trained.exit_code == 0, trained.output
        assert trained.output.startswith(
            "waiting for the fitting turn: a trainer or another train-two-tower is fitting "
            "(Ctrl-C stops waiting)\n"
        )
        assert "published two_tower version" in trained.output
        assert time.monotonic() - started >= 1.0
        # once the training had taken the turn, the other trainer never had it until the end
        # (it may take it back first: the training polls for it every quarter of a second),
        # and then had it at each try from the training's end to the test's
        after = seen_free[seen_free.index(False) :]
        refused = after.index(True) if True in after else len(after)
        assert refused > 2 and all(after[refused:])
    finally:
        release.set()
        done.set()
        thread.join(30)
        engine.dispose()


def _turn_held_until(database_url: str, meanwhile, monkeypatch):  # type: ignore[no-untyped-def]
    """The fitting turn held (another host's trainer fitting) until train-two-tower starts
    waiting for it; then `meanwhile()` runs, as on another host, and the turn is let go."""
    import contextlib

    from adapters.sqlalchemy.engine import build_engine
    from adapters.sqlalchemy.fit_turn import SqlFitTurn

    engine = build_engine(database_url)
    held = contextlib.ExitStack()
    held.callback(engine.dispose)
    assert held.enter_context(SqlFitTurn(engine).taken())

    def waiting() -> None:
        meanwhile()
        held.close()

    monkeypatch.setattr("entrypoints.cli.models._waiting", waiting)
    return held


def test_train_two_tower_that_waited_for_the_turn_keeps_a_rollback_made_meanwhile(
    run, tmp_path, database_url, monkeypatch
):
    """The hold was checked before the wait only: a rollback made on another host while
    train-two-tower waited for a trainer's fit was published over once the turn came, and the
    operator's hold was gone without a word."""
    config = _small_model_on_the_demo(run, tmp_path)
    assert run("train-two-tower", "--config", str(config)).exit_code == 0
    store = FilesystemArtifactStore(tmp_path / "models")
    before = store.current_version("two_tower")

    def another_host_rolls_back() -> None:
        container = Container()  # the fixture's RS_DATABASE_URL and RS_MODELS_DIR
        container.config.from_dict(load_settings(os.environ))
        container.roll_back_model().execute("two_tower")
        container.engine().dispose()

    with _turn_held_until(database_url, another_host_rolls_back, monkeypatch):
        trained = run("train-two-tower", "--config", str(config))
    assert trained.exit_code == 1, trained.output
    assert "two_tower is held by a rollback" in trained.output
    assert "nothing was trained" in trained.output
    assert store.current_version("two_tower") != before  # the rollback's version answers, held
    listed = run("model-versions", "two_tower").output.splitlines()
    (answering,) = [line for line in listed if line.lstrip().startswith("* ")]
    assert "held, restores" in answering


def test_train_two_tower_that_waited_for_the_turn_trains_with_the_settings_chosen_meanwhile(
    run, tmp_path, database_url, monkeypatch
):
    """The settings were read before the wait: a settings search published by the trainer whose
    fit it waited for was ignored, and that trainer trained two_tower again at its next cycle,
    the double training the turn is there to prevent."""
    config = _small_model_on_the_demo(run, tmp_path)
    store = FilesystemArtifactStore(tmp_path / "models")
    chosen = {"settings": {"two_tower": {"objective": "all", "members": 2}}}

    def the_trainer_publishes_a_search() -> None:
        store.publish("tuning", {"trials.json": b"[]"}, chosen)

    with _turn_held_until(database_url, the_trainer_publishes_a_search, monkeypatch):
        trained = run("train-two-tower", "--config", str(config))
    assert trained.exit_code == 0, trained.output
    assert (
        "training with the settings the trainer fits two_tower with: members=2 objective=all"
        in (trained.output)
    )
    assert "2 members" in trained.output
    assert "two_tower" not in run("trainer", "--once").output


def test_train_two_tower_if_missing_that_waited_for_a_trainer_training_one_does_not_train_again(
    run, tmp_path, database_url, monkeypatch
):
    """On a first start, `train-two-tower --if-missing` on one host waited for the trainer
    training the first model on another, then trained a second one: whether one was missing was
    decided before the wait."""
    config = tmp_path / "two_tower.yaml"
    config.write_text(
        "epochs: 2\nbatch_size: 64\nbuckets: 4096\nuser_buckets: 1024\nembedding_dim: 16\n"
        "hidden_dims: [32]\n"
    )
    monkeypatch.setenv("RS_TWO_TOWER_CONFIG", str(config))
    run("demo-data", "--learners", "60")
    store = FilesystemArtifactStore(tmp_path / "models")

    def the_trainer_publishes_the_first_model() -> None:
        trainer = Container()
        trainer.config.from_dict(load_settings(os.environ))
        trainer.train_two_tower().execute()
        trainer.engine().dispose()

    with _turn_held_until(database_url, the_trainer_publishes_the_first_model, monkeypatch):
        trained = run("train-two-tower", "--if-missing")
    assert trained.exit_code == 0, trained.output
    assert "a two-tower model exists already; not training" in trained.output
    assert len(list((tmp_path / "models" / "two_tower" / "versions").iterdir())) == 1
    assert store.current_version("two_tower") is not None


def test_a_trainer_standing_by_while_train_two_tower_trains_says_who_may_hold_the_turn(
    run, tmp_path, database_url, monkeypatch
):
    """While `recsys train-two-tower` held the fitting turn, every trainer read "standing by:
    another trainer is fitting", on every host's dashboard too, and no trainer was fitting: the
    operator looked for a trainer that was not there."""
    from entrypoints.cli import models
    from tests.e2e.conftest import make_app

    config = _small_model_on_the_demo(run, tmp_path)
    training = models._trained

    def a_trainer_cycle_meanwhile(container, settings):  # type: ignore[no-untyped-def]
        trainer = Container()  # a trainer on another host, its cycle due while the training runs
        trainer.config.from_dict(load_settings(os.environ))
        assert trainer.trainer().run_once() == []
        trainer.engine().dispose()
        return training(container, settings)

    monkeypatch.setattr(models, "_trained", a_trainer_cycle_meanwhile)
    assert run("train-two-tower", "--config", str(config)).exit_code == 0
    app = make_app(database_url, models_dir=str(tmp_path / "models"))
    (row,) = app.test_client().get("/admin/recommendations/models").json["trainers"]
    assert row["last_cycle"] == "standing by: another trainer or train-two-tower is fitting"
    page = app.test_client().get("/dashboard").get_data(as_text=True)
    assert ": another trainer or train-two-tower is fitting</td>" in page
    app.container.engine().dispose()


def test_courses_embedded_by_hand_are_not_embedded_again_by_the_trainer(run, tmp_path):
    """export-embeddings embeds the catalog as it is now, but its version kept the data version
    of the model it re-embedded: the trainer took the new course for not embedded yet and did
    the work again at its next cycle."""
    from entrypoints.config import load_settings

    _small_model_on_the_demo(run, tmp_path)
    (tmp_path / "new.csv").write_text("course_id,title,category\nc_new,Rust Basics,Programming\n")
    assert run("import-courses", str(tmp_path / "new.csv")).exit_code == 0
    container = Container()
    container.config.from_dict(load_settings())
    try:
        assert container.fit_strategies().plan()[2] == "reindex"
        exported = run("export-embeddings")
        assert exported.exit_code == 0 and "208 courses indexed" in exported.output
        assert container.fit_strategies().plan()[2] == ""
    finally:
        container.engine().dispose()


def test_a_model_trained_by_hand_is_not_trained_again_by_the_trainer(run, tmp_path, monkeypatch):
    """train-two-tower fits with what the trainer wants (the search's choice, pins winning) and
    says so in the version: it trained with the configuration only and recorded no settings, so
    the trainer's next cycle threw the model away and trained it again."""
    from application.use_cases.fit_strategies import TUNING
    from entrypoints.config import load_settings

    config = tmp_path / "two_tower.yaml"
    config.write_text(
        "epochs: 2\nbatch_size: 64\nbuckets: 4096\nuser_buckets: 1024\nembedding_dim: 16\n"
        "hidden_dims: [32]\nobjective: next\n"
    )
    monkeypatch.setenv("RS_TWO_TOWER_CONFIG", str(config))  # pins objective next
    run("demo-data", "--learners", "60")
    container = Container()
    container.config.from_dict(load_settings())
    chosen = {"two_tower": {"objective": "all", "members": 2}}
    container.artifact_store().publish(TUNING, {"trials.json": b"[]"}, {"settings": chosen})
    trained = run("train-two-tower")
    assert trained.exit_code == 0, trained.output
    assert "the trainer fits two_tower with: members=2 objective=next" in trained.output
    assert "after 2 members" in trained.output
    store = container.artifact_store()
    manifest = store.load("two_tower", store.current_version("two_tower"), only=()).manifest
    assert manifest["training"]["objective"] == "next" and manifest["tower"]["members"] == 2
    try:
        assert container.fit_strategies().plan()[2] == ""
    finally:
        container.engine().dispose()


def test_a_damaged_model_is_a_one_line_error_naming_the_version_and_the_repair(run, tmp_path):
    import shutil

    config = _small_model_on_the_demo(run, tmp_path)
    models = tmp_path / "models" / "two_tower"
    version = (models / "current").read_text()
    embeddings = models / "versions" / version / "item_embeddings.npy"
    embeddings.write_bytes(bytes(embeddings.stat().st_size))  # in place, at its size
    for command in ("rebuild-index", "export-embeddings"):
        result = run(command)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.output == (
            f"Error: the current version is damaged (two_tower {version}: item_embeddings.npy "
            "does not match its checksum); `recsys trainer --once` replaces it with a good one, "
            "then run this again\n"
        )
    retrained = run("train-two-tower", "--config", str(config), "--if-missing")
    assert "item_embeddings.npy does not match its checksum; training a new version" in (
        retrained.output
    )
    assert retrained.exit_code == 0 and "published two_tower version" in retrained.output
    shutil.rmtree(models / "versions" / (models / "current").read_text())
    result = run("rebuild-index")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "unreadable manifest" in result.output and "recsys trainer --once" in result.output


def test_training_an_ensemble_reports_the_epochs_of_each_member_not_their_sum(run, tmp_path):
    config = tmp_path / "two_tower.yaml"
    config.write_text(
        "members: 2\nepochs: 30\nbatch_size: 64\nbuckets: 4096\nuser_buckets: 1024\n"
        "embedding_dim: 16\nhidden_dims: [32]\n"
    )
    run("demo-data", "--learners", "60")
    trained = run("train-two-tower", "--config", str(config), "--epochs", "2")
    assert trained.exit_code == 0, trained.output
    assert "after 2 members, 2/2 epochs, 207 courses indexed" in trained.output


def test_trainer_once_overtaken_by_another_trainer_says_so_in_one_line(tmp_path):
    from dependency_injector import providers

    from adapters.item_cf import ItemCFRecommender
    from application.use_cases.fit_strategies import FitStrategies
    from entrypoints.config import load_settings
    from tests.conftest import CATALOG, event

    container = Container()
    env = {"RS_DATABASE_URL": "memory://", "RS_MODELS_DIR": str(tmp_path / "models")}
    container.config.from_dict(load_settings(env))
    container.upsert_courses().execute(CATALOG)
    container.log_interactions().execute([event("u1", "course_sql_basic", "enroll")])
    store = container.artifact_store()
    theirs = []

    class Overtaken(ItemCFRecommender):
        def fit(self, courses, events):  # type: ignore[no-untyped-def]
            super().fit(courses, events)
            theirs.append(store.publish("item_cf", {}, {}))  # another trainer finished first

    container.fit_strategies.override(
        providers.Factory(FitStrategies, container.uow.provider, {"item_cf": Overtaken}, store)
    )
    result = CliRunner().invoke(cli, ["trainer", "--once"], obj=container, catch_exceptions=False)
    assert result.exit_code == 1
    assert (
        f"Error: item_cf: another trainer published version {theirs[0]} meanwhile; "
        "nothing was replaced, run again\n"
    ) in result.output
    assert "Traceback" not in result.output and store.current_version("item_cf") == theirs[0]


def test_rebuilding_without_a_model_is_a_clear_error(run, tmp_path, monkeypatch):
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    result = run("rebuild-index")
    assert result.exit_code == 1 and "no two_tower model has been trained yet" in result.output


def test_prepare_training_data_exports_every_interaction(run, database_url, tmp_path):
    run("demo-data", "--learners", "20")
    output = tmp_path / "training.csv"
    result = run("prepare-training-data", "--output", str(output))
    lines = output.read_text().splitlines()
    assert lines[0] == "event_id,user_id,course_id,event_type,occurred_at,recommendation_id"
    assert len(lines) - 1 == counts(database_url)[1]
    assert f"wrote {len(lines) - 1} interactions" in result.output


def test_prepare_training_data_named_as_json_lines_is_refused_before_it_writes(run, tmp_path):
    """It wrote CSV into training.jsonl, which import-interactions then read as JSON lines."""
    output = tmp_path / "training.jsonl"
    result = run("prepare-training-data", "--output", str(output))
    assert result.exit_code == 2 and "training.jsonl: the export is CSV; name it .csv" in (
        result.output
    )
    assert not output.exists()


def test_exported_events_load_into_another_database_without_the_credit_its_lists_held(
    run, database_url, tmp_path, monkeypatch
):
    """Moving to another database (the embedded SQLite to PostgreSQL): the served lists stay
    behind, so the events credited to them are logged without that credit, not refused."""
    run("demo-data", "--learners", "20")
    exported = tmp_path / "training.csv"
    run("prepare-training-data", "--output", str(exported))
    credited = sum(1 for line in exported.read_text().splitlines()[1:] if line.split(",")[5])
    assert credited > 0
    source = Container()
    source.config.from_dict({"database_url": database_url})
    with source.uow() as uow:
        catalog = uow.courses.all()
    source.engine().dispose()
    other = f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("RS_DATABASE_URL", other)
    run("init-db")
    target = Container()
    target.config.from_dict({"database_url": other})
    with target.uow() as uow:
        uow.courses.upsert(catalog)
        uow.commit()
    target.engine().dispose()
    result = run("import-interactions", str(exported))
    assert result.exit_code == 0, result.output
    assert f"{credited} named a list this database never served, logged without that credit" in (
        result.output
    )
    assert counts(other)[1] == counts(database_url)[1]
    again = run("import-interactions", str(exported))
    assert f"imported 0 events ({counts(other)[1]} already stored)" in again.output


def test_an_imported_row_that_gives_a_key_twice_is_a_bad_row_as_in_the_api(
    run, database_url, tmp_path
):
    (tmp_path / "courses.csv").write_text(COURSES_CSV)
    run("import-courses", str(tmp_path / "courses.csv"))
    (tmp_path / "events.jsonl").write_text(
        '{"user_id": "u1", "course_id": "c_py1", "event_type": "view", "event_type": "enroll"}\n'
    )
    result = run("import-interactions", str(tmp_path / "events.jsonl"))
    assert result.exit_code == 1
    assert "line 1: the key 'event_type' is given twice in one object" in result.output
    assert counts(database_url)[1] == 0


@pytest.mark.parametrize(
    ("row", "said"),
    [
        ('{"user_id": "u1", "n": ' + "9" * 5000 + "}", "not valid JSON (Exceeds the limit"),
        ("[" * 100_000 + "]" * 100_000, "the JSON nests deeper than 32 levels"),
    ],
)
def test_a_json_row_python_cannot_read_is_a_bad_row_not_a_traceback(
    run, database_url, tmp_path, row, said
):
    (tmp_path / "events.jsonl").write_text(row + "\n")
    result = run("import-interactions", str(tmp_path / "events.jsonl"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"line 1: {said}" in result.output
    assert counts(database_url)[1] == 0


def test_a_csv_field_longer_than_csvs_own_limit_is_a_bad_row_not_a_traceback(
    run, database_url, tmp_path
):
    long = "x" * 200_000  # a pasted description: csv refuses fields past 128 Ki characters
    (tmp_path / "courses.csv").write_text(f"course_id,title,description\nc1,T,{long}\nc2,T,ok\n")
    result = run("import-courses", str(tmp_path / "courses.csv"))
    assert result.exit_code == 1
    assert "line 2: description: Longer than maximum length 10000." in result.output
    assert counts(database_url)[0] == 0
    kept = run("import-courses", "--skip-invalid", str(tmp_path / "courses.csv"))
    assert kept.exit_code == 0 and set(stored_courses(database_url)) == {"c2"}


def test_a_csv_header_naming_a_column_twice_is_refused_not_a_guess(run, database_url, tmp_path):
    (tmp_path / "courses.csv").write_text("course_id,title,title\nc1,Python Basics,Python\n")
    result = run("import-courses", "--skip-invalid", str(tmp_path / "courses.csv"))
    assert "line 2: the header names 'title' twice" in result.output
    assert counts(database_url)[0] == 0


def test_a_quote_left_open_in_a_csv_title_is_a_bad_row_not_the_rows_after_it_swallowed(
    run, database_url, tmp_path
):
    """csv reads a quote left open as a title that takes in the lines after it: the import
    stored "Python Basics,Programming\nc2,SQL Basics..." as one course, and c2 was gone."""
    (tmp_path / "courses.csv").write_text(
        'course_id,title,category\nc1,"Python Basics,Programming\nc2,SQL Basics,Data\n'
    )
    result = run("import-courses", str(tmp_path / "courses.csv"))
    assert result.exit_code != 0
    assert "line 2: a quote left open runs to the end of the file" in result.output
    assert counts(database_url)[0] == 0
    closed = 'course_id,title,category\nc1,"Python Basics,Programming\nc2,SQL Basics",Data\n'
    (tmp_path / "courses.csv").write_text(closed)  # closed on a later line: a two-line title
    result = run("import-courses", str(tmp_path / "courses.csv"))
    assert "line 2: title: must be one line (in a CSV file, a quote left open" in result.output


@pytest.mark.parametrize("end", ["\n", ""], ids=["newline", "no newline"])
def test_a_quote_left_open_on_the_last_csv_row_is_a_bad_row_not_its_fields_run_together(
    run, database_url, tmp_path, end
):
    """With no line after it to take in, csv ended the open field at the end of the file: the
    import stored c2 titled "SQL Basics,Data,advanced", without its category and level."""
    (tmp_path / "courses.csv").write_text(
        "course_id,title,category,level\nc1,Python Basics,Programming,beginner\n"
        f'c2,"SQL Basics,Data,advanced{end}'
    )
    result = run("import-courses", str(tmp_path / "courses.csv"))
    assert result.exit_code != 0
    assert "line 3: a quote left open runs to the end of the file" in result.output
    assert counts(database_url)[0] == 0
    kept = run("import-courses", "--skip-invalid", str(tmp_path / "courses.csv"))
    assert "imported 1 courses" in kept.output and counts(database_url)[0] == 1


def test_a_lone_surrogate_in_an_imported_course_is_reported_not_stored(run, tmp_path):
    (tmp_path / "courses.jsonl").write_text(
        '{"course_id": "c1", "title": "T", "tags": ["ok", "bad\\ud800"]}\n'
    )
    result = run("import-courses", str(tmp_path / "courses.jsonl"))
    assert result.exit_code != 0 and "surrogate" in result.output


def test_an_unreachable_database_is_a_one_line_error_not_a_traceback(monkeypatch, capsys):
    import runpy
    import socket

    from entrypoints.cli import main

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("RS_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{port}/gone")
    monkeypatch.setattr("sys.argv", ["recsys", "update-online-model", "--settle-minutes", "0"])
    with pytest.raises(SystemExit) as raised:
        main()
    assert "the database is unavailable" in str(raised.value.code)
    # the README's original form, `python -m entrypoints.update_online_model`, says it alike
    monkeypatch.setattr("sys.argv", ["update_online_model", "--settle-minutes", "0"])
    with pytest.raises(SystemExit) as raised:
        runpy.run_module("entrypoints.update_online_model", run_name="__main__")
    assert "the database is unavailable" in str(raised.value.code)


def test_a_trainer_that_cannot_write_its_models_dir_stops_at_once_naming_it(
    run, monkeypatch, tmp_path
):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "file" / "models"))
    run("init-db")
    result = CliRunner().invoke(cli, ["trainer", "--once"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: RS_MODELS_DIR={str(tmp_path / 'file' / 'models')!r} is not writable: "
        "Not a directory"
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unmigrated_url(request, tmp_path):  # type: ignore[no-untyped-def]
    """A database without the schema: a new SQLite file, or the PostgreSQL test database taken
    down to no revision (and migrated again afterwards, for the next tests)."""
    if request.param == "sqlite":
        import sqlite3

        sqlite3.connect(tmp_path / "empty.db").close()  # a database, without our tables
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    from adapters.sqlalchemy.migrate import downgrade, upgrade

    url = request.getfixturevalue("postgres_url")
    downgrade(url, "base")
    try:
        yield url
    finally:
        upgrade(url)


NEEDS_SCHEMA = [
    ["demo-data", "--learners", "2"],
    ["update-online-model"],
    ["erase-learner", "--yes", "user1"],
    ["import-courses", "courses.csv"],
    ["import-interactions", "events.jsonl"],
    ["import-xapi", "statements.json"],
    ["prepare-training-data", "--output", "out.csv"],
    ["train-two-tower"],
    ["export-embeddings"],
    ["rebuild-index"],
]


@pytest.mark.parametrize("command", NEEDS_SCHEMA, ids=lambda c: c[0])
def test_a_command_on_a_database_without_a_schema_says_to_run_init_db(
    command, unmigrated_url, monkeypatch, tmp_path
):
    monkeypatch.setenv("RS_DATABASE_URL", unmigrated_url)
    monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "courses.csv").write_text(COURSES_CSV)
    (tmp_path / "events.jsonl").write_text(
        '{"user_id": "u1", "course_id": "c1", "event_type": "view"}\n'
    )
    (tmp_path / "statements.json").write_text("[]")
    result = CliRunner().invoke(cli, command, catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: the database has no schema: run `recsys init-db`"
    )


def test_repair_credit_clears_only_credit_a_list_never_earned(run, database_url):
    """Credit an older version accepted: another learner's click, a click on a course the list
    did not hold, and an enrolment an hour before the list was served. The counts say so,
    --apply clears them, and the true click stays, as does a view 4 minutes before the list
    (within RS_MAX_CLOCK_SKEW's default 5 minutes: the platform's clock may be behind ours)."""
    from tests.conftest import CATALOG, NOW, event

    run("init-db")
    container = Container()
    container.config.from_dict({"database_url": database_url})
    shown = RecommendationId("r1")
    items = (Recommendation(CourseId("course_sql_basic"), 1.0, 1, "popularity"),)
    with container.uow() as uow:
        uow.courses.upsert(CATALOG)
        uow.slates.add(Slate(shown, UserId("u1"), "popularity", items, NOW))
        uow.interactions.add_batch(
            [
                event("u1", "course_sql_basic", "click", 1, recommendation_id=shown),  # earned
                event("u2", "course_sql_basic", "click", 2, recommendation_id=shown),
                event("u1", "course_ml_basic", "click", 3, recommendation_id=shown),
                event("u1", "course_sql_basic", "enroll", -60, recommendation_id=shown),
                event("u1", "course_sql_basic", "view", -4, recommendation_id=shown),
            ]
        )
        uow.commit()
    assert "3 events credited to a list" in run("repair-credit").output
    assert "cleared the credit of 3 events" in run("repair-credit", "--apply").output
    assert "every credited event names a list its learner was shown" in run("repair-credit").output
    with container.uow() as uow:
        kept = {e.event_id: e.recommendation_id for e in uow.interactions.stream()}
    container.engine().dispose()
    assert kept == {
        "u1-course_sql_basic-click-1": "r1",
        "u2-course_sql_basic-click-2": None,
        "u1-course_ml_basic-click-3": None,
        "u1-course_sql_basic-enroll--60": None,
        "u1-course_sql_basic-view--4": "r1",
    }


@pytest.mark.postgres
def test_init_db_waits_for_a_reader_of_the_events_and_says_what_held_it_up_if_it_never_ends(
    postgres_engine, monkeypatch, tmp_path
):
    """Upgrading past 0012 while a trainer read the events (a read of every event, seconds to
    minutes each cycle) stopped at the lock timeout with "the database is unavailable
    (LockNotAvailable...); retry shortly": the database was up, and a retry during the next
    cycle's read stopped the same. It now tries again between the reads, and only a reader that
    outlasts its patience stops it, saying what held it up, the schema left as it was."""
    import psycopg
    from sqlalchemy.engine import make_url

    import adapters.sqlalchemy.migrate as migrate
    from tests.contract.test_migrations import _scratch_database

    with _scratch_database("h_init_db_held") as url:
        migrate.upgrade(url, "0011")
        monkeypatch.setenv("RS_DATABASE_URL", url)
        monkeypatch.setenv("RS_MODELS_DIR", str(tmp_path / "models"))
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn) as reader:  # a trainer's read, its transaction open
            reader.execute("SELECT count(*) FROM interactions").fetchone()
            monkeypatch.setattr(migrate, "LOCK_PATIENCE_SECONDS", 0)
            result = CliRunner().invoke(cli, ["init-db"])
            (revision,) = reader.execute("SELECT version_num FROM alembic_version").fetchone()
            assert result.exit_code == 1
            assert "database is unavailable" not in result.output
            assert (
                "another session kept a table it changes in use through every try" in result.output
            )
            assert "stop the trainers" in result.output
            assert revision == "0011"

            waits = []

            def wait(seconds: float) -> None:  # the trainer's read ends meanwhile
                waits.append(seconds)
                reader.commit()

            monkeypatch.setattr(migrate, "LOCK_PATIENCE_SECONDS", 60)
            monkeypatch.setattr(migrate, "pause", wait)
            reader.execute("SELECT count(*) FROM interactions").fetchone()
            result = CliRunner().invoke(cli, ["init-db"])
            assert result.exit_code == 0, result.output
            assert waits == [migrate.LOCK_RETRY_SECONDS]
            (revision,) = reader.execute("SELECT version_num FROM alembic_version").fetchone()
            assert {revision} == migrate.known_revisions()[1]
