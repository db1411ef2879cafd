"""`recsys import-xapi` backfills an LRS export; `recsys erase-learner` forgets a learner."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from entrypoints.cli import cli
from tests.e2e.test_cli import COURSES_CSV, counts
from tests.e2e.xapi_examples import MOODLE_COURSE_VIEWED, SPEC_COMPLETED, SPEC_SIMPLE


@pytest.fixture
def run(database_url, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    # a statement slowed past the 3 s default by a busy machine (CI shares its cores) is not
    # what these commands' tests are about: the outage tests set their own timeouts
    monkeypatch.setenv("RS_DB_TIMEOUT_SECONDS", "30")
    runner = CliRunner()
    (tmp_path / "courses.csv").write_text(COURSES_CSV)
    assert runner.invoke(cli, ["import-courses", str(tmp_path / "courses.csv")]).exit_code == 0

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def _statements(n: int) -> list[dict]:  # type: ignore[type-arg]
    found = []
    for i in range(n):
        statement = copy.deepcopy(SPEC_COMPLETED)
        statement["id"] = f"00000000-0000-4000-8000-{i:012d}"
        statement["actor"] = {"account": {"homePage": "https://lms.example", "name": f"u{i % 3}"}}
        statement["object"]["id"] = f"https://lms.example/courses/c_py{1 + i % 2}"
        found.append(statement)
    return found


def test_a_json_lines_export_is_imported_in_batches_and_again_as_duplicates(
    run, database_url, tmp_path
):
    export = tmp_path / "lrs.jsonl"
    extra = [SPEC_SIMPLE, MOODLE_COURSE_VIEWED]  # activities that are not in this catalog
    export.write_text("\n".join(json.dumps(s) for s in [*_statements(5), *extra]) + "\n")
    first = run("import-xapi", str(export), "--batch-size", "2")
    assert first.exit_code == 0, first.output
    assert "7 statements: 5 events stored, 0 duplicates" in first.output
    assert "2 ignored (activity not mapped to a catalog course: 2)" in first.output
    assert counts(database_url) == (2, 5)
    again = run("import-xapi", str(export))
    assert "0 events stored, 7 duplicates" in again.output
    assert counts(database_url) == (2, 5)


def test_a_json_array_export_reports_conflicts_and_imports_the_rest(run, database_url, tmp_path):
    statements = _statements(3)
    (tmp_path / "a.json").write_text(json.dumps(statements[:1]))
    run("import-xapi", str(tmp_path / "a.json"))
    statements[0]["verb"]["id"] = "http://adlnet.gov/expapi/verbs/experienced"
    (tmp_path / "b.json").write_text(json.dumps(statements))
    result = run("import-xapi", str(tmp_path / "b.json"))
    assert result.exit_code == 0
    assert "2 events stored, 0 duplicates, 0 events voided, 1 conflicts" in result.output
    assert f"conflict: {statements[0]['id']}" in result.output
    assert counts(database_url) == (2, 3)


def test_an_export_with_a_byte_order_mark_is_imported(run, database_url, tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(_statements(2)), encoding="utf-8-sig")
    result = run("import-xapi", str(tmp_path / "a.json"))
    assert result.exit_code == 0 and "2 events stored" in result.output
    assert counts(database_url) == (2, 2)


def test_invalid_statements_are_reported_by_line_and_nothing_is_written(
    run, database_url, tmp_path
):
    bad = _statements(2)
    del bad[1]["actor"]["account"]
    lines = [json.dumps(bad[0]), "{not json", json.dumps(bad[1])]
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
    result = run("import-xapi", str(tmp_path / "bad.jsonl"))
    assert result.exit_code == 1
    assert "line 2: not valid JSON" in result.output
    assert "line 3: actor: must have exactly one identifier" in result.output
    assert counts(database_url) == (2, 0)
    kept = run("import-xapi", str(tmp_path / "bad.jsonl"), "--skip-invalid")
    assert kept.exit_code == 0 and "1 events stored" in kept.output
    assert counts(database_url) == (2, 1)
    (tmp_path / "worse.jsonl").write_text("{not json\n" + json.dumps(bad[1]) + "\n")
    none = run("import-xapi", str(tmp_path / "worse.jsonl"), "--skip-invalid")
    assert none.exit_code == 1  # "0 events stored" would pass for a success
    assert none.output.strip().splitlines()[-1] == (
        "Error: nothing was imported: all 2 statements are invalid"
    )


def test_an_export_that_is_not_utf8_is_named_and_nothing_is_written(run, database_url, tmp_path):
    statement = json.dumps(_statements(1)[0]).replace('"u0"', '"Jos\u00e9"', 1)
    (tmp_path / "lrs.jsonl").write_bytes(statement.encode("latin-1") + b"\n")
    result = run("import-xapi", str(tmp_path / "lrs.jsonl"))
    assert result.exit_code == 1
    assert f"{tmp_path / 'lrs.jsonl'} is not UTF-8 text (byte 0xe9 at offset" in result.output
    assert "line 1); save it as UTF-8" in result.output
    assert counts(database_url) == (2, 0)


def test_erase_learner_reports_what_it_removed(run, database_url, tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(_statements(6)))
    run("import-xapi", str(tmp_path / "a.json"))
    result = run("erase-learner", "u1", "--yes")
    assert result.exit_code == 0
    assert "removed 2 events, 0 slates, 0 impressions, 2 statements" in result.output
    assert counts(database_url) == (2, 4)


def test_erasing_an_id_no_learner_can_have_says_why_in_words(run, database_url):
    result = run("erase-learner", " u1", "--yes")
    assert result.exit_code == 1
    assert result.output == (
        "Error: invalid learner id: must be 1 to 128 printable characters without surrounding "
        "spaces\n"
    )


def test_a_statement_that_gives_a_key_twice_is_a_bad_row_as_in_the_api(run, database_url, tmp_path):
    """An LRS export is read with the API's rules: a statement naming "verb" twice would
    otherwise keep whichever came last, a guess at what the LRS meant."""
    good, twice = (json.dumps(s) for s in _statements(2))
    twice = twice.replace(
        '"verb": {', '"verb": {"id": "http://adlnet.gov/expapi/verbs/voided"}, "verb": {', 1
    )
    (tmp_path / "lrs.jsonl").write_text(f"{good}\n{twice}\n")
    result = run("import-xapi", str(tmp_path / "lrs.jsonl"))
    assert result.exit_code == 1
    assert "line 2: the key 'verb' is given twice in one object" in result.output
    assert counts(database_url) == (2, 0)
    (tmp_path / "lrs.json").write_text(f"[{good}, {twice}]")
    result = run("import-xapi", str(tmp_path / "lrs.json"))
    assert result.exit_code == 1
    assert "statement 1: the key 'verb' is given twice in one object" in result.output
    assert counts(database_url) == (2, 0)
    kept = run("import-xapi", str(tmp_path / "lrs.json"), "--skip-invalid")
    assert kept.exit_code == 0 and "1 events stored" in kept.output
    assert counts(database_url) == (2, 1)


def test_a_json_array_that_is_not_json_says_where(run, database_url, tmp_path):
    good = json.dumps(_statements(1)[0])
    (tmp_path / "lrs.json").write_text(f"[{good},\n{good}\n{good}]")
    result = run("import-xapi", str(tmp_path / "lrs.json"))
    assert result.exit_code == 1
    assert "not valid JSON (Expecting ',' delimiter: line 3 column 1" in result.output
    assert counts(database_url) == (2, 0)


def test_a_json_array_with_an_item_only_json_refuses_imports_the_rest(run, database_url, tmp_path):
    good, nan = (json.dumps(s) for s in _statements(2))
    nan = nan.replace("{", '{"result": {"score": {"raw": NaN}}, ', 1)
    (tmp_path / "lrs.json").write_text(f"[{good}, {nan}]")
    result = run("import-xapi", str(tmp_path / "lrs.json"), "--skip-invalid")
    assert "statement 1: not valid JSON (NaN is not a JSON number)" in result.output
    assert result.exit_code == 0 and "1 events stored" in result.output
    assert counts(database_url) == (2, 1)


def test_lines_may_end_as_the_other_imports_read_them(run, database_url, tmp_path):
    lines = [json.dumps(s) for s in _statements(3)]
    (tmp_path / "lrs.jsonl").write_bytes(f"{lines[0]}\r\n{lines[1]}\r{lines[2]}\n".encode())
    result = run("import-xapi", str(tmp_path / "lrs.jsonl"))
    assert result.exit_code == 0 and "3 events stored" in result.output, result.output


def test_a_line_separator_inside_a_statement_is_text_not_a_new_line(run, database_url, tmp_path):
    """JSON lets a string hold U+2028 as it is; str.splitlines() cut the statement in two there."""
    statement = _statements(1)[0]
    statement["object"]["definition"] = {"name": {"en": "Line\u2028separated"}}
    (tmp_path / "lrs.jsonl").write_text(json.dumps(statement, ensure_ascii=False) + "\n")
    result = run("import-xapi", str(tmp_path / "lrs.jsonl"))
    assert result.exit_code == 0 and "1 events stored" in result.output, result.output


def test_a_line_python_or_postgresql_cannot_read_is_a_bad_row_not_a_traceback(
    run, database_url, tmp_path
):
    """An integer of 5,000 digits, nesting 100,000 deep, a lone surrogate in an extension (no
    UTF-8 text holds it): the API's 400s, here bad rows, as with the other imports."""
    good = json.dumps(_statements(1)[0])
    huge = good.replace('"u0"', '"u0", "n": ' + "9" * 5000, 1)
    lone = good.replace("{", '{"context": {"extensions": {"https://x.example/e": "\\ud800"}}, ', 1)
    (tmp_path / "lrs.jsonl").write_text(f"{good}\n{huge}\n{'[' * 100_000}\n{lone}\n")
    result = run("import-xapi", str(tmp_path / "lrs.jsonl"), "--skip-invalid")
    assert result.exit_code == 0 and "1 events stored" in result.output
    assert "line 2: not valid JSON (Exceeds the limit (4300 digits)" in result.output
    assert "line 3: the JSON nests deeper than 32 levels" in result.output
    assert "line 4: the JSON holds a lone surrogate (\\ud800)" in result.output
    assert counts(database_url) == (2, 1)


def test_a_large_array_is_read_a_block_at_a_time_and_still_checked_whole(
    run, database_url, tmp_path, monkeypatch
):
    """An LRS export is no longer held whole; a break or a byte that is not UTF-8 far into the
    array, blocks after the first statements were read, still stores nothing, and says where."""
    import entrypoints.files

    monkeypatch.setattr(entrypoints.files, "BLOCK", 64)
    lines = [json.dumps(s) for s in _statements(40)]
    export = tmp_path / "lrs.json"
    export.write_text("[\n" + ",\n".join(lines) + "\n]\n")
    assert "40 events stored" in run("import-xapi", str(export), "--batch-size", "7").output
    assert counts(database_url) == (2, 40)
    export.write_text("[\n" + ",\n".join(lines[:30]) + "\n" + ",\n".join(lines[30:]) + "]")
    broken = run("import-xapi", str(export))
    assert broken.exit_code == 1
    assert "not valid JSON (Expecting ',' delimiter: line 32 column 1 (char " in broken.output
    fresh = [json.dumps(s).replace("00000000-0000", "11111111-0000") for s in _statements(40)]
    fresh[35] = fresh[35].replace('"u2"', '"Jos\u00e9"', 1)
    export.write_bytes(("[\n" + ",\n".join(fresh) + "\n]").encode("latin-1"))
    latin = run("import-xapi", str(export))
    assert latin.exit_code == 1
    assert "is not UTF-8 text (byte 0xe9 at offset" in latin.output and "line 37)" in latin.output
    assert counts(database_url) == (2, 40)


@pytest.mark.parametrize("kind", ["array", "lines"])
def test_an_export_can_be_piped_in(run, database_url, tmp_path, kind):
    """`recsys import-xapi <(zcat lrs.json.gz)`: a pipe is read once, from its start."""
    import os
    import threading

    statements = [json.dumps(s) for s in _statements(5)]
    text = "[" + ",".join(statements) + "]" if kind == "array" else "\n".join(statements)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)

    def write() -> None:
        with pipe.open("w", encoding="latin-1") as end:
            end.write(text)

    writer = threading.Thread(target=write)
    writer.start()
    result = run("import-xapi", str(pipe))
    writer.join()
    assert result.exit_code == 0 and "5 events stored" in result.output, result.output
    assert counts(database_url) == (2, 5)
    # not UTF-8: said without reading the pipe again (which would wait for another writer): the
    # copy it is checked from says where
    text = text.replace('"u1"', '"Jos\u00e9"', 1)
    writer = threading.Thread(target=write)
    writer.start()
    writer.join(timeout=0.2)  # the whole text in the pipe's buffer, the writer gone
    result = run("import-xapi", str(pipe))
    writer.join()
    assert result.exit_code == 1
    assert f"{pipe} is not UTF-8 text (byte 0xe9 at offset" in result.output
