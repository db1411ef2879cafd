"""`recsys import-xapi` on exports too large to hold: every statement checked as the export is
read, then the export read again and stored in batches, each committed on its own. An export of
up to KEPT good statements is stored from its first read: every test runs both ways."""

from __future__ import annotations

import gc
import json
import os

import pytest

from application.use_cases.ingest_xapi import IngestStatements
from application.xapi_statements import VOIDED, Statement
from entrypoints.cli import two_reads, xapi_passes
from tests.e2e.test_cli import counts
from tests.e2e.test_event_import import reads  # noqa: F401 - both ways, as for events
from tests.e2e.test_xapi_cli import _statements, run  # noqa: F401 - the fixture

__all__ = ["reads", "run"]


class Killed(Exception):
    pass


def test_a_small_export_is_read_once_and_a_large_one_twice(
    run, database_url, tmp_path, monkeypatch
):
    opened = []
    read_statements = xapi_passes.read_statements

    def counted(*args):  # type: ignore[no-untyped-def]
        opened.append(args[0])
        return read_statements(*args)

    monkeypatch.setattr(xapi_passes, "read_statements", counted)
    monkeypatch.setattr(two_reads, "KEPT", 4)
    write(tmp_path / "small.json", _statements(4))
    result = run("import-xapi", "--batch-size", "3", str(tmp_path / "small.json"))
    assert "4 events stored" in result.output and len(opened) == 1
    write(tmp_path / "large.json", _statements(9)[4:])
    result = run("import-xapi", "--batch-size", "3", str(tmp_path / "large.json"))
    assert "5 events stored" in result.output and len(opened) == 3
    assert counts(database_url) == (2, 9)


def write(path, statements, kind="lines"):  # type: ignore[no-untyped-def]
    texts = [json.dumps(s) for s in statements]
    path.write_text("[\n" + ",\n".join(texts) + "\n]\n" if kind == "array" else "\n".join(texts))


def test_statements_are_stored_in_batches_each_committed_so_a_crash_keeps_the_batches_before_it(
    run, database_url, tmp_path, monkeypatch
):
    batches: list[int] = []
    store = IngestStatements.store

    def counted(self, statements, skip_conflicts):  # type: ignore[no-untyped-def]
        batches.append(len(statements))
        if os.environ.get("CRASH_AT") == str(len(batches)):
            raise Killed  # the process dying in the middle of its writes
        return store(self, statements, skip_conflicts)

    monkeypatch.setattr(IngestStatements, "store", counted)
    statements = _statements(10)
    write(tmp_path / "a.jsonl", statements[:5])
    result = run("import-xapi", "--batch-size", "2", str(tmp_path / "a.jsonl"))
    assert result.exit_code == 0 and "5 statements: 5 events stored, 0 duplicates" in result.output
    assert batches == [2, 2, 1] and counts(database_url) == (2, 5)

    batches.clear()
    monkeypatch.setenv("CRASH_AT", "3")
    write(tmp_path / "b.json", statements[5:], kind="array")
    with pytest.raises(Killed):
        run("import-xapi", "--batch-size", "2", str(tmp_path / "b.json"))
    assert counts(database_url) == (2, 9)  # the two batches committed before the crash
    monkeypatch.delenv("CRASH_AT")
    again = run("import-xapi", "--batch-size", "2", str(tmp_path / "b.json"))
    assert "5 statements: 1 events stored, 4 duplicates" in again.output
    assert counts(database_url) == (2, 10)


def test_an_export_is_stored_holding_a_batch_of_statements_not_the_export(
    run, database_url, tmp_path, monkeypatch
):
    """What a large export cost in memory (about 1 KB a statement: 10 GB for an LRS's 10
    million) was every statement held parsed until all were checked."""
    monkeypatch.setattr(two_reads, "KEPT", 100)  # 3,000: a large export here
    held: list[int] = []
    store = IngestStatements.store

    def counted(self, statements, skip_conflicts):  # type: ignore[no-untyped-def]
        if not held:  # type(), not isinstance: it reads __class__, which some of torch's warn on
            held.append(sum(type(o) is Statement for o in gc.get_objects()))
        return store(self, statements, skip_conflicts)

    monkeypatch.setattr(IngestStatements, "store", counted)
    write(tmp_path / "lrs.json", _statements(3000), kind="array")
    result = run("import-xapi", "--batch-size", "100", str(tmp_path / "lrs.json"))
    assert result.exit_code == 0 and "3000 events stored" in result.output
    assert held[0] <= 200  # the batch being stored (3,000 were held before)


@pytest.mark.parametrize(("kind", "place"), [("lines", "line {}"), ("array", "statement {}")])
def test_a_bad_statement_late_in_a_large_export_stores_nothing_and_is_named_by_its_place(
    run, database_url, tmp_path, kind, place
):
    """Past the first chunk of 1,000 statements checked together: an id given again far from
    the statement that first gave it, and a statement without an actor at the end."""
    statements = _statements(2500)
    statements[1800]["id"] = statements[3]["id"]
    statements.append({**statements[0], "actor": {}})
    write(tmp_path / "lrs", statements, kind)
    result = run("import-xapi", "--batch-size", "100", str(tmp_path / "lrs"))
    assert result.exit_code == 1
    first = 1 if kind == "lines" else 0  # lines count from 1, an array's items from 0
    errors = [line for line in result.output.splitlines() if line.startswith(("line", "statement"))]
    assert errors == [
        place.format(1800 + first) + ": id: repeats the id of an earlier statement",
        place.format(2500 + first) + ": actor: must have exactly one identifier of mbox, "
        "mbox_sha1sum, openid, account",
    ]
    assert "Error: 2 invalid statements; nothing was written" in result.output
    assert counts(database_url) == (2, 0)
    kept = run("import-xapi", "--skip-invalid", str(tmp_path / "lrs"))
    assert "skipping 2 invalid statements" in kept.output
    assert "2499 statements: 2499 events stored, 0 duplicates" in kept.output
    assert counts(database_url) == (2, 2499)


def test_a_statement_voided_in_a_later_batch_loses_its_event(run, database_url, tmp_path):
    statement, voiding = _statements(2)
    voiding["verb"] = {"id": VOIDED}
    voiding["object"] = {"objectType": "StatementRef", "id": statement["id"]}
    write(tmp_path / "lrs.jsonl", [statement, voiding])
    result = run("import-xapi", "--batch-size", "1", str(tmp_path / "lrs.jsonl"))
    assert "2 statements: 1 events stored, 0 duplicates, 1 events voided" in result.output
    assert counts(database_url) == (2, 0)
