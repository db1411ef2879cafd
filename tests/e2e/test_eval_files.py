"""`recsys eval --dataset csv` on an operator's own files: read with import-interactions' rules,
and refusing what it cannot measure rather than printing figures of nothing."""

from __future__ import annotations

import json
import random

from click.testing import CliRunner

from entrypoints.cli import cli
from tests.e2e.test_eval_cli import write_dataset

HEADER = "event_id,user_id,course_id,event_type,occurred_at"


def evaluate(directory, *args: str):  # type: ignore[no-untyped-def]
    out = directory / "out.json"
    out.unlink(missing_ok=True)
    result = CliRunner().invoke(
        cli,
        ["eval", "--dataset", "csv", "--data-dir", str(directory), "--tuning-budget", "0"]
        + ["--json", str(out), *args],
    )
    report = json.loads(out.read_text()) if out.exists() else None
    return result, report


def split_in_two(directory, order=None):  # type: ignore[no-untyped-def]
    """interactions.csv as train.csv and test.csv (each learner's latest fifth tests), rows
    in time order or shuffled by `order` (a random.Random)."""
    header, *rows = (directory / "interactions.csv").read_text().splitlines()
    rows.sort(key=lambda line: line.rsplit(",", 1)[1])
    cut = len(rows) * 4 // 5
    train, test = rows[:cut], rows[cut:]
    if order is not None:
        order.shuffle(train)
        order.shuffle(test)
    (directory / "interactions.csv").unlink()
    (directory / "train.csv").write_text("\n".join([header, *train]))
    (directory / "test.csv").write_text("\n".join([header, *test]))


def figures(report):  # type: ignore[no-untyped-def]
    return {r["strategy"]: (r["ndcg@10"], r["recall@10"]) for r in report["results"]}


def test_a_fixed_split_gives_the_same_figures_whatever_the_order_of_its_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    ordered, shuffled = tmp_path / "ordered", tmp_path / "shuffled"
    for directory, order in ((ordered, None), (shuffled, random.Random(5))):
        directory.mkdir()
        write_dataset(directory)
        split_in_two(directory, order)
    args = ("--protocol", "fixed", "--strategy", "popularity,sequence")
    (first, in_order), (second, out_of_order) = evaluate(ordered, *args), evaluate(shuffled, *args)
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert figures(in_order)["sequence"][0] > 0
    assert figures(out_of_order) == figures(in_order)
