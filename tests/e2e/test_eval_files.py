"""`recsys eval --dataset csv` on an operator's own files: read with import-interactions' rules,
and refusing what it cannot measure rather than printing figures of nothing."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from click.testing import CliRunner

from entrypoints.cli import cli
from tests.e2e.test_eval_cli import write_dataset
from tests.processes import PATIENCE

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


def test_rows_without_a_time_or_with_more_fields_than_the_header_are_bad_rows(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    events = write_dataset(tmp_path)
    with (tmp_path / "interactions.csv").open("a") as file:
        file.write(
            "\nx1,user1,course_sql_basic,enroll,\n"  # an empty time
            "x2,user1,course_git_basic,enroll,2026-06-03T00:00:00Z,EXTRA,MORE\n"
            "x3,user1,course_excel_basic,enroll\n"  # a short row
        )
    result, report = evaluate(tmp_path)
    assert result.exit_code == 1 and report is None
    last = events + 1  # the header, then the events
    assert [line.split(":")[0] for line in result.output.splitlines()[:-1]] == [
        f"interactions.csv line {last + n}" for n in (1, 2, 3)
    ]
    assert "occurred_at: missing; an evaluation orders events by their time" in result.output
    assert "more fields than the header names: 'EXTRA', 'MORE'" in result.output
    assert "Error: 3 invalid event rows; nothing was evaluated" in result.output
    kept, report = evaluate(tmp_path, "--skip-invalid")
    assert kept.exit_code == 0 and "skipping 3 invalid event rows" in kept.output
    assert report["results"][0]["users_evaluated"] > 0


def test_events_of_courses_the_courses_file_lacks_stop_the_evaluation_unless_left_out(
    tmp_path, monkeypatch
):
    """Before, they were counted as relevant courses no strategy could ever recommend."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    whole, lacking = tmp_path / "whole", tmp_path / "lacking"
    for directory in (whole, lacking):
        directory.mkdir()
        write_dataset(directory)
    courses = [json.loads(line) for line in (lacking / "courses.jsonl").read_text().splitlines()]
    dropped = {c["course_id"] for c in courses[::2]}
    (lacking / "courses.jsonl").write_text(
        "\n".join(json.dumps(c) for c in courses if c["course_id"] not in dropped)
    )
    header, *rows = (whole / "interactions.csv").read_text().splitlines()
    unknown = [row for row in rows if row.split(",")[2] in dropped]
    assert 0 < len(unknown) < len(rows)
    (whole / "courses.jsonl").write_text((lacking / "courses.jsonl").read_text())
    (whole / "interactions.csv").write_text(
        "\n".join([header, *(row for row in rows if row not in unknown)])
    )
    args = ("--strategy", "popularity,item_cf")
    refused, report = evaluate(lacking, *args)
    assert refused.exit_code == 1 and report is None
    assert (
        "course_id: unknown course" in refused.output and "(not in courses.jsonl)" in refused.output
    )
    assert f"Error: {len(unknown)} invalid event rows; nothing was evaluated" in refused.output
    left_out, report = evaluate(lacking, *args, "--skip-invalid")
    assert (
        left_out.exit_code == 0 and f"skipping {len(unknown)} invalid event rows" in left_out.output
    )
    _, without = evaluate(whole, *args)
    assert figures(report) == figures(without)


def test_events_of_a_course_whose_row_was_left_out_do_not_say_the_file_lacks_it(
    tmp_path, monkeypatch
):
    """With --skip-invalid, the events of a course whose row was bad were each said to be of a
    course "not in courses.jsonl", which lists it."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    courses = [json.loads(line) for line in (tmp_path / "courses.jsonl").read_text().splitlines()]
    header, *rows = (tmp_path / "interactions.csv").read_text().splitlines()
    bad = next(c for c in courses if any(row.split(",")[2] == c["course_id"] for row in rows))
    bad["level"] = "expert"
    (tmp_path / "courses.jsonl").write_text("\n".join(json.dumps(c) for c in courses))
    result, _ = evaluate(tmp_path, "--strategy", "popularity", "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "skipping 1 invalid course rows" in result.output
    said = f"unknown course {bad['course_id']!r} "
    assert said + "(not in courses.jsonl)" not in result.output
    assert said + "(not in courses.jsonl, or in a row of it left out as bad)" in result.output


def test_a_repeated_row_counts_once_and_an_event_id_reused_for_another_event_is_a_bad_row(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    once, twice = tmp_path / "once", tmp_path / "twice"
    for directory in (once, twice):
        directory.mkdir()
        write_dataset(directory)
        split_in_two(directory)
    header, *train = (twice / "train.csv").read_text().splitlines()
    (twice / "train.csv").write_text("\n".join([header, *train, *train[:100]]))
    args = ("--protocol", "fixed", "--strategy", "popularity,item_cf")
    (_, single), (repeated, double) = evaluate(once, *args), evaluate(twice, *args)
    assert repeated.exit_code == 0, repeated.output
    assert "train.csv: 100 rows repeat an earlier row and count once" in repeated.output
    assert figures(double) == figures(single)

    header, *test = (once / "test.csv").read_text().splitlines()
    reused = train[0].split(",")[0]
    test[0] = ",".join([reused, *test[0].split(",")[1:]])
    (once / "test.csv").write_text("\n".join([header, *test]))
    result, report = evaluate(once, *args)
    assert result.exit_code == 1 and report is None
    assert f"test.csv line 2: event_id: repeats event {reused!r} of train.csv line 2 with a " in (
        result.output
    )
    assert "Error: 1 invalid event rows; nothing was evaluated" in result.output


def test_a_row_with_two_bad_fields_is_one_bad_row(tmp_path, monkeypatch):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    events = write_dataset(tmp_path)
    header, *rows = (tmp_path / "interactions.csv").read_text().splitlines()
    (tmp_path / "interactions.csv").write_text(
        "\n".join([header, *(row.replace(",view,", ",peek,")[:-6] + "soon" for row in rows)])
    )
    result, _ = evaluate(tmp_path)
    assert "line 2: event_type:" in result.output and "line 2: occurred_at:" in result.output
    assert f"Error: {events} invalid event rows;" in result.output


def test_a_folder_that_could_be_read_two_ways_is_refused_with_what_to_do(tmp_path, monkeypatch):
    """Before, interactions.csv beside test.csv trained on every event, the test ones too, and
    printed zeros; a CSV won over its JSON-lines twin unseen."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    events = (tmp_path / "interactions.csv").read_text()
    for extra, problem in [
        ("test.csv", "holds interactions.csv and test.csv: either all the events"),
        ("train.csv", "holds interactions.csv and train.csv: either all the events"),
        ("interactions.jsonl", "holds both interactions.csv and interactions.jsonl"),
    ]:
        (tmp_path / extra).write_text(events if extra.endswith(".csv") else "")
        for protocol in ("fixed", "random"):
            result, report = evaluate(tmp_path, "--protocol", protocol)
            assert result.exit_code == 1 and report is None
            assert problem in result.output
        (tmp_path / extra).unlink()
    (tmp_path / "interactions.csv").rename(tmp_path / "train.csv")
    alone, _ = evaluate(tmp_path, "--protocol", "fixed")
    assert alone.exit_code == 1
    assert "holds train.csv alone: a split of your own is train.csv|jsonl and test.csv|jsonl" in (
        alone.output
    )
    (tmp_path / "train.csv").unlink()
    (tmp_path / "interactions.csv").mkdir()
    folder, _ = evaluate(tmp_path)
    assert (
        folder.exit_code == 1 and f"{tmp_path / 'interactions.csv'} is not a file" in folder.output
    )
    nowhere = CliRunner().invoke(
        cli, ["eval", "--dataset", "csv", "--data-dir", str(tmp_path / "nowhere")]
    )
    assert nowhere.exit_code == 1 and f"{tmp_path / 'nowhere'} does not exist" in nowhere.output


def test_nothing_to_evaluate_is_an_error_not_a_table_of_zeros(tmp_path, monkeypatch):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    split_in_two(tmp_path)
    header, *train = (tmp_path / "train.csv").read_text().splitlines()
    seen = [f"again-{row}" for row in train[:50]]  # new ids, courses the learners had
    for test, problem in [
        (HEADER + "\n", "its test part holds no events"),
        ("", "its test part holds no events"),
        ("\n".join([header, *seen]), "each of its 50 test events is of a course its learner has"),
    ]:
        (tmp_path / "test.csv").write_text(test)
        result, report = evaluate(tmp_path, "--protocol", "fixed")
        assert result.exit_code == 1 and report is None
        assert (
            f"Error: no learner can be evaluated on {tmp_path.name} (fixed split): {problem}"
            in (result.output)
        )
        assert "ndcg@10" not in result.output


def test_a_train_and_test_folder_split_another_way_splits_both_files_together(
    tmp_path, monkeypatch
):
    """Before, --protocol random read train.csv alone and left the test events out unsaid."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    for directory in (whole, parts):
        directory.mkdir()
        events = write_dataset(directory)
    split_in_two(parts)
    header, *rows = (whole / "interactions.csv").read_text().splitlines()
    rows.sort(key=lambda line: line.rsplit(",", 1)[1])  # the order of train and test together
    (whole / "interactions.csv").write_text("\n".join([header, *rows]))
    for protocol in ("random", "temporal"):
        _, expected = evaluate(whole, "--protocol", protocol)
        result, measured = evaluate(parts, "--protocol", protocol)
        assert result.exit_code == 0, result.output
        training, test = re.search(r"(\d+) training and (\d+) test events", result.output).groups()
        assert int(training) + int(test) == events
        assert figures(measured) == figures(expected)


def test_a_tuning_budget_that_is_not_a_finite_number_is_refused_as_the_variable_is(
    tmp_path, monkeypatch
):
    """Before, "inf" searched and then failed ("cannot convert float NaN to integer") and "nan"
    turned the search off unsaid."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    args = ["eval", "--dataset", "csv", "--data-dir", str(tmp_path), "--strategy", "item_cf"]
    for budget in ("inf", "nan", "-inf"):
        result = CliRunner().invoke(cli, [*args, "--tuning-budget", budget])
        assert result.exit_code == 2 and "ndcg@10" not in result.output
        assert "Invalid value for '--tuning-budget': " in result.output
    small = CliRunner().invoke(cli, [*args, "--tuning-budget", "0.001"])
    assert small.exit_code == 0 and "budget 0.001 s" in small.output  # not "budget 0 s"


def test_the_settings_each_strategy_was_fitted_with_are_said_even_without_a_search(
    tmp_path, monkeypatch
):
    """Before, --tuning-budget 0 applied RS_ITEM_CF_REGULARIZATION=42 and said nothing of it:
    the output and --json ("tuning": null) showed no settings at all."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    monkeypatch.setenv("RS_ITEM_CF_REGULARIZATION", "42")
    write_dataset(tmp_path)
    weights = "item_cf:0.7,popularity:0.3"
    result, report = evaluate(
        tmp_path, "--strategy", "popularity,item_cf,hybrid", "--weights", weights
    )
    assert result.exit_code == 0, result.output
    assert report["tuning"] is None
    assert report["pinned"] == {
        "item_cf": {"regularization": 42.0},
        "hybrid": {"weights": {"item_cf": 0.7, "popularity": 0.3}},
    }
    settings = {r["strategy"]: r["settings"] for r in report["results"]}
    assert settings["popularity"] == {}
    assert settings["item_cf"]["regularization"] == 42.0
    assert settings["hybrid"]["weights"] == {"item_cf": 0.7, "popularity": 0.3}
    assert settings["hybrid"]["components"]["item_cf"] == settings["item_cf"]
    assert "no settings search: pinned settings as given, the others at their defaults" in (
        result.output
    )
    assert 'item_cf fitted with {"kind": "ease", "regularization": 42.0' in result.output


def test_weights_are_refused_without_the_hybrid_and_name_only_what_it_blends(tmp_path, monkeypatch):
    """Before, --weights without hybrid in --strategy was ignored unsaid, and the names it
    took included the implicit peer's, which the service's hybrid never blends."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    ignored, _ = evaluate(tmp_path, "--strategy", "item_cf", "--weights", "item_cf:1")
    assert ignored.exit_code == 2 and "add hybrid to --strategy" in ignored.output
    peer, _ = evaluate(tmp_path, "--strategy", "hybrid", "--weights", "implicit-als:1")
    assert peer.exit_code == 2
    assert "choose from content, item_cf, popularity, sequence, two_tower" in peer.output


def test_the_search_says_its_lines_as_log_lines_so_json_logs_stay_json(tmp_path, monkeypatch):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    monkeypatch.setenv("RS_LOG_FORMAT", "json")
    write_dataset(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["eval", "--dataset", "csv", "--data-dir", str(tmp_path), "--strategy", "item_cf"]
        + ["--tuning-budget", "5"],
    )
    assert result.exit_code == 0, result.output
    said = [json.loads(line) for line in result.stderr.splitlines()]
    searched = [line["message"] for line in said if line["logger"] == "recsys.tuning"]
    assert searched[0].startswith("tuning: ") and "budget 5 s" in searched[0]


def test_results_that_cannot_be_written_are_one_line_and_leave_the_last_ones_whole(
    tmp_path, monkeypatch
):
    """After minutes of work: not a traceback, nor the previous results cut short."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    args = ["eval", "--dataset", "csv", "--data-dir", str(tmp_path), "--tuning-budget", "0"]
    args += ["--protocol", "temporal", "--strategy", "popularity"]
    result = CliRunner().invoke(cli, [*args, "--json", "/dev/full"])
    assert result.exit_code == 1
    assert result.output.endswith(
        "Error: cannot write /dev/full: No space left on device; the figures are above\n"
    )
    last = tmp_path / "last.json"
    last.write_text('{"results": []}\n')
    written = []

    def fills_the_disk(self, data, *rest):  # type: ignore[no-untyped-def]
        written.append(self)
        with self.open("wb") as handle:
            handle.write(data[:10].encode())
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pathlib.Path.write_text", fills_the_disk)
    assert CliRunner().invoke(cli, [*args, "--json", str(last)]).exit_code == 1
    assert written and last.read_bytes() == b'{"results": []}\n'
    assert [p.name for p in tmp_path.iterdir() if "last" in p.name] == ["last.json"]


def test_an_empty_training_file_is_an_error_not_figures_of_what_nothing_learned(
    tmp_path, monkeypatch
):
    """Before, a train.csv of only a header (an export that failed) printed figures: every
    learner was new, so every strategy served the same list of the whole catalog."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    split_in_two(tmp_path)
    for train in (HEADER + "\n", ""):
        (tmp_path / "train.csv").write_text(train)
        result, report = evaluate(tmp_path, "--protocol", "fixed")
        assert result.exit_code == 1 and report is None
        assert (
            f"Error: no learner can be evaluated on {tmp_path.name} (fixed split): "
            "its training part holds no events" in result.output
        )
        assert "ndcg@10" not in result.output


def test_a_strategy_named_twice_is_evaluated_once(tmp_path, monkeypatch):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    result, report = evaluate(tmp_path, "--strategy", "popularity,content,popularity")
    assert result.exit_code == 0, result.output
    assert [r["strategy"] for r in report["results"]] == ["popularity", "content"]


def test_the_json_says_the_split_the_table_says(tmp_path, monkeypatch):
    """Before, --json left out the train share and the events on each side, so two result
    files of different splits could not be told apart."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    result, report = evaluate(tmp_path, "--protocol", "temporal", "--ratio", "0.5")
    assert result.exit_code == 0, result.output
    training, test = re.search(r"(\d+) training and (\d+) test events", result.output).groups()
    assert "ratio 0.5" in result.output
    assert (report["ratio"], report["train_events"], report["test_events"]) == (
        0.5,
        int(training),
        int(test),
    )
    split_in_two(tmp_path)
    result, report = evaluate(tmp_path, "--protocol", "fixed")
    assert result.exit_code == 0, result.output
    said = next(line for line in result.output.splitlines() if "fixed split" in line)
    assert report["ratio"] is None and "ratio" not in said


def test_the_folder_evaluated_from_inside_it_is_named_by_its_name(tmp_path, monkeypatch):
    """`--data-dir .` named the dataset "": the table began ": temporal split" and the json
    said "dataset": ""."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    folder = tmp_path / "my-lms-export"
    folder.mkdir()
    write_dataset(folder)
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(
        cli,
        ["eval", "--dataset", "csv", "--data-dir", ".", "--protocol", "temporal"]
        + ["--strategy", "popularity", "--tuning-budget", "0", "--json", "out.json"],
    )
    assert result.exit_code == 0, result.output
    assert "my-lms-export: temporal split" in result.output
    assert json.loads((folder / "out.json").read_text())["dataset"] == "my-lms-export"


def test_files_without_rows_are_named_not_counted_as_bad_event_rows(tmp_path, monkeypatch):
    """Before, an empty courses file made every event a bad row of an unknown course, and an
    empty events file was said to hold learners with too few courses to leave one."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    (tmp_path / "courses.jsonl").write_text("")
    result, _ = evaluate(tmp_path)
    assert result.exit_code == 1
    assert "Error: nothing was evaluated: courses.jsonl holds no course rows" in result.output
    assert "unknown course" not in result.output
    (tmp_path / "courses.jsonl").unlink()
    write_dataset(tmp_path)
    (tmp_path / "interactions.csv").write_text(HEADER + "\n")
    result, _ = evaluate(tmp_path)
    assert result.exit_code == 1
    assert f"no learner can be evaluated on {tmp_path.name} (random split): it holds no events" in (
        result.output
    )


def test_a_test_file_older_than_the_training_file_is_said(tmp_path, monkeypatch):
    """A split of one's own whose test events all precede the training ones is most likely
    train and test swapped: the figures would measure predicting the past, unsaid."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    split_in_two(tmp_path)
    (tmp_path / "train.csv").rename(tmp_path / "was-train.csv")
    (tmp_path / "test.csv").rename(tmp_path / "train.csv")
    (tmp_path / "was-train.csv").rename(tmp_path / "test.csv")
    result, _ = evaluate(tmp_path, "--protocol", "fixed")
    assert result.exit_code == 0, result.output
    assert (
        "every event of the test part is older than every event of the training part"
        in result.output
    )
    result, _ = evaluate(tmp_path, "--protocol", "random")  # split its own way: nothing to say
    assert result.exit_code == 0 and "is older than" not in result.output
    (tmp_path / "train.csv").rename(tmp_path / "was-train.csv")
    (tmp_path / "test.csv").rename(tmp_path / "train.csv")
    (tmp_path / "was-train.csv").rename(tmp_path / "test.csv")
    result, _ = evaluate(tmp_path, "--protocol", "fixed")
    assert result.exit_code == 0 and "is older than" not in result.output


def test_the_learners_new_to_the_training_part_are_counted(tmp_path, monkeypatch):
    """They are scored on popularity's list under every strategy; unsaid, identical rows (or a
    personalised strategy's figures pulled towards popularity's) could not be explained."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    split_in_two(tmp_path)
    header, *train = (tmp_path / "train.csv").read_text().splitlines()
    test = (tmp_path / "test.csv").read_text().splitlines()[1:]
    trained = {row.split(",")[1] for row in train}
    new = {row.split(",")[1] for row in test} - trained
    result, report = evaluate(tmp_path, "--protocol", "fixed", "--strategy", "popularity,item_cf")
    assert result.exit_code == 0, result.output
    assert report["new_learners"] == len(new) > 0
    assert f"{len(new)} of the learners evaluated are not in the training part" in result.output
    (tmp_path / "test.csv").write_text(
        "\n".join([header, *(row for row in test if row.split(",")[1] in trained)])
    )
    result, report = evaluate(tmp_path, "--protocol", "fixed")
    assert report["new_learners"] == 0 and "not in the training part" not in result.output


def test_the_order_of_the_courses_file_does_not_change_the_figures(tmp_path, monkeypatch):
    """Before, courses tied in score were served in the order of the file's rows, so the same
    history gave other figures from files than from the database (which lists them by id)."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    measured = []
    for name, order in (("as-written", None), ("reversed", reversed)):
        directory = tmp_path / name
        directory.mkdir()
        write_dataset(directory)
        if order is not None:
            lines = (directory / "courses.jsonl").read_text().splitlines()
            (directory / "courses.jsonl").write_text("\n".join(order(lines)))
        result, report = evaluate(directory, "--strategy", "popularity,item_cf", "--k", "20")
        assert result.exit_code == 0, result.output
        measured.append(
            [{**r, "fit_seconds": 0, "recommend_seconds": 0} for r in report["results"]]
        )
    assert measured[0] == measured[1]


def test_an_event_dated_in_the_future_is_a_bad_row_as_the_import_refuses_it(tmp_path, monkeypatch):
    """Before, a mistyped year (2999 for 2024) was evaluated as the latest event of all, though
    import-interactions refuses it (RS_MAX_CLOCK_SKEW)."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    split_in_two(tmp_path)
    header, first, *rest = (tmp_path / "test.csv").read_text().splitlines()
    future = ",".join([*first.split(",")[:4], "2999-01-01T00:00:00+00:00"])
    (tmp_path / "test.csv").write_text("\n".join([header, future, *rest]))
    result, report = evaluate(tmp_path, "--protocol", "fixed")
    assert result.exit_code == 1 and report is None
    assert "test.csv line 2: occurred_at: lies more than 300 s in the future" in result.output
    result, report = evaluate(tmp_path, "--protocol", "fixed", "--skip-invalid")
    assert result.exit_code == 0 and report["test_events"] == len(rest)


def test_a_csv_header_without_a_column_every_row_needs_is_one_line(tmp_path, monkeypatch):
    """Before, a header of other names (or a semicolon-separated export) made every row a bad
    row, said as fifty lines of missing and unknown fields before the count."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    rows = (tmp_path / "interactions.csv").read_text().splitlines()[1:]
    for header, told in [
        (
            "id,user,course,event_type,occurred_at",
            "lacks user_id, course_id; names id, user, course",
        ),
        (HEADER.replace(",", ";"), "lacks user_id, course_id, event_type, occurred_at; names"),
    ]:
        (tmp_path / "interactions.csv").write_text("\n".join([header, *rows]))
        result, _ = evaluate(tmp_path)
        assert result.exit_code == 1
        assert f"interactions.csv: the header {told}" in result.output
        assert "line 2" not in result.output


def test_a_reader_that_stops_early_still_gets_the_json_and_no_traceback(tmp_path):
    """`recsys eval ... --json out.json | head -1`: the table's printing met a closed pipe
    and the command stopped with a traceback before it wrote the results file."""
    import os
    import subprocess
    import sys

    write_dataset(tmp_path)
    out = tmp_path / "out.json"
    command = [sys.executable, "-m", "entrypoints.cli", "eval", "--dataset", "csv"]
    command += ["--data-dir", str(tmp_path), "--tuning-budget", "0", "--json", str(out)]
    env = os.environ | {"RS_DATABASE_URL": "memory://", "RS_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader has gone before the first line
    _, errors = process.communicate(timeout=PATIENCE)
    assert b"Traceback" not in errors, errors.decode()
    assert json.loads(out.read_text())["results"]


def test_a_file_that_cannot_be_read_is_one_line_naming_it(tmp_path, monkeypatch):
    """Its mode (0600, another user's) raised PermissionError, a traceback."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    opened = Path.open

    def refused(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == "interactions.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refused)
    result, _ = evaluate(tmp_path, "--strategy", "popularity")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {tmp_path / 'interactions.csv'} cannot be read: Permission denied"
    )
