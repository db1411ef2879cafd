"""`recsys eval` end to end on a few hundred interactions written as files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.demo_data import demo_data
from entrypoints.cli import cli
from entrypoints.schemas import course_json


def write_dataset(directory):  # type: ignore[no-untyped-def]
    data = demo_data(seed=3, learners=60)
    (directory / "courses.jsonl").write_text(
        "\n".join(json.dumps(course_json(c)) for c in data.courses)
    )
    lines = ["event_id,user_id,course_id,event_type,occurred_at"]
    lines += [
        f"{e.event_id},{e.user_id},{e.course_id},{e.event_type.value},{e.occurred_at.isoformat()}"
        for e in data.interactions
    ]
    (directory / "interactions.csv").write_text("\n".join(lines))
    return len(data.interactions)


def test_eval_prints_a_table_and_writes_json_and_a_plot(tmp_path, monkeypatch):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    events = write_dataset(tmp_path)
    assert 200 < events < 2000
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "--dataset",
            "csv",
            "--data-dir",
            str(tmp_path),
            "--strategy",
            "popularity,content",
            "--k",
            "5",
            "--json",
            str(tmp_path / "out.json"),
            "--plot",
            str(tmp_path / "out.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ndcg@5" in result.output and "content" in result.output
    report = json.loads((tmp_path / "out.json").read_text())
    assert (report["dataset"], report["protocol"], report["k"], report["seed"]) == (
        tmp_path.name,
        "random",
        5,
        42,
    )
    assert [r["strategy"] for r in report["results"]] == ["popularity", "content"]
    assert set(report["results"][0]) >= {
        "precision@5",
        "recall@5",
        "ndcg@5",
        "map@5",
        "hit_rate@5",
        "coverage@5",
        "fit_seconds",
        "recommend_seconds",
    }
    assert 0 < report["results"][0]["ndcg@5"] <= 1
    # how sure each figure is, and each strategy against the baseline on the same learners
    assert "95% intervals over the" in result.output and "minus popularity" in result.output
    assert report["baseline"] == "popularity"  # the first listed
    popularity, content = report["results"]
    for row in (popularity, content):
        low, high = row["ndcg@5_ci95"]
        assert low <= row["ndcg@5"] <= high
    assert "vs_baseline" not in popularity
    against = content["vs_baseline"]["ndcg@5"]
    assert against["difference"] == pytest.approx(
        content["ndcg@5"] - popularity["ndcg@5"], abs=2e-4
    )
    assert against["ci95"][0] <= against["difference"] <= against["ci95"][1]
    assert (tmp_path / "out.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_on_the_stored_events_measures_what_the_same_events_as_files_measure(
    tmp_path, monkeypatch, database_url
):
    """A platform checks the service on the history it has loaded, without exporting it; the
    database is read, never written."""
    from tests.e2e.test_cli import counts

    write_dataset(tmp_path)
    # in the order the database gives them back (courses by id, events by time), as the figures
    # depend on it where scores or times tie
    courses = (tmp_path / "courses.jsonl").read_text().splitlines()
    courses.sort(key=lambda line: json.loads(line)["course_id"])
    (tmp_path / "courses.jsonl").write_text("\n".join(courses))
    header, *events = (tmp_path / "interactions.csv").read_text().splitlines()
    events.sort(key=lambda line: line.split(",")[4])
    (tmp_path / "interactions.csv").write_text("\n".join([header, *events]))
    runner = CliRunner()
    monkeypatch.setenv("RS_DATABASE_URL", database_url)
    for command, name in (
        ("import-courses", "courses.jsonl"),
        ("import-interactions", "interactions.csv"),
    ):
        loaded = runner.invoke(cli, [command, str(tmp_path / name)])
        assert loaded.exit_code == 0, loaded.output
    stored = counts(database_url)
    figures = {}
    for dataset in ("stored", "csv"):
        where = ["--data-dir", str(tmp_path)] if dataset == "csv" else []
        out = tmp_path / f"{dataset}.json"
        result = runner.invoke(
            cli,
            [
                "eval",
                "--dataset",
                dataset,
                *where,
                "--protocol",
                "temporal",
                "--strategy",
                "popularity,item_cf",
                "--tuning-budget",
                "0",
                "--json",
                str(out),
            ],
        )
        assert result.exit_code == 0, result.output
        figures[dataset] = [
            {k: v for k, v in r.items() if not k.endswith("_seconds")}
            for r in json.loads(out.read_text())["results"]
        ]
    assert figures["stored"] == figures["csv"]
    assert figures["stored"][1]["ndcg@10"] > 0
    assert counts(database_url) == stored
    wrong = runner.invoke(cli, ["eval", "--dataset", "stored", "--data-dir", str(tmp_path)])
    assert wrong.exit_code == 2 and "give no --data-dir" in wrong.output


def test_eval_on_a_database_without_events_says_so(monkeypatch, sqlite_url):
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(cli, ["eval", "--dataset", "stored"])
    assert result.exit_code == 1
    assert "the database holds no events to evaluate on" in result.output


def test_eval_explains_what_is_wrong(tmp_path, monkeypatch):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    runner = CliRunner()
    unknown = runner.invoke(
        cli, ["eval", "--dataset", "csv", "--data-dir", str(tmp_path), "--strategy", "oracle"]
    )
    assert unknown.exit_code == 1 and "valid strategies" in unknown.output
    fixed = runner.invoke(
        cli, ["eval", "--dataset", "csv", "--data-dir", str(tmp_path), "--protocol", "fixed"]
    )
    assert fixed.exit_code == 1 and "no split of its own" in fixed.output
    missing = runner.invoke(cli, ["eval", "--dataset", "ml-100k", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 1 and "missing u.data" in missing.output
    for empty in ("", " , "):
        none = runner.invoke(
            cli, ["eval", "--dataset", "csv", "--data-dir", str(tmp_path), "--strategy", empty]
        )
        assert none.exit_code == 2
        assert "Invalid value for '--strategy': name at least one strategy" in none.output


def test_eval_checks_where_it_will_write_before_it_evaluates(tmp_path, monkeypatch):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    args = ["eval", "--dataset", "csv", "--data-dir", str(tmp_path), "--tuning-budget", "0"]
    for option, path, problem in [
        ("--json", tmp_path / "missing" / "y.json", f"{tmp_path / 'missing'} is not a directory"),
        ("--plot", tmp_path / "missing" / "y.png", f"{tmp_path / 'missing'} is not a directory"),
        ("--plot", tmp_path / "x.txt", "x.txt: a plot is written as "),
    ]:
        result = CliRunner().invoke(cli, [*args, option, str(path)], catch_exceptions=False)
        assert result.exit_code == 2, result.output
        assert f"Invalid value for '{option}': {problem}" in result.output
        assert "ndcg@10" not in result.output  # refused before evaluating, not after
    two_tower = CliRunner().invoke(
        cli, ["eval-two-tower", "--json", str(tmp_path / "missing" / "y.json")]
    )
    assert two_tower.exit_code == 2 and "is not a directory" in two_tower.output


@pytest.mark.parametrize(("option", "value"), [("--seed", "-1"), ("--ratio", "nan")])
def test_eval_refuses_a_seed_or_ratio_it_cannot_use_before_it_evaluates(
    tmp_path, monkeypatch, option, value
):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    args = ["eval", "--dataset", "csv", "--data-dir", str(tmp_path), "--tuning-budget", "0"]
    result = CliRunner().invoke(cli, [*args, option, value])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output
    assert "ndcg@10" not in result.output  # refused before evaluating, not after


@pytest.mark.parametrize("protocol", ["leave-last-out", "fixed"])
def test_eval_refuses_a_ratio_its_protocol_would_not_use(tmp_path, monkeypatch, protocol):
    """--ratio 0.5 with a protocol that splits its own way was taken without a word, and the
    figures passed for a split it made."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    args = ["eval", "--dataset", "csv", "--data-dir", str(tmp_path), "--protocol", protocol]
    result = CliRunner().invoke(cli, [*args, "--ratio", "0.5"])
    assert result.exit_code == 2, result.output
    assert f"the {protocol} protocol splits its own way" in result.output


@pytest.mark.parametrize("protocol", ["leave-last-out", "fixed"])
def test_eval_two_tower_takes_the_protocols_that_split_their_own_way(
    tmp_path, monkeypatch, protocol
):
    """eval-two-tower has no --ratio, yet with leave-last-out or fixed it was refused for the
    --ratio it handed eval itself."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    monkeypatch.setenv("RS_TUNING_BUDGET_SECONDS", "0")
    config = tmp_path / "small.yaml"
    config.write_text("embedding_dim: 8\nhidden_dims: [16]\nepochs: 1\nmembers: 1\n")
    monkeypatch.setenv("RS_TWO_TOWER_CONFIG", str(config))
    data = tmp_path / "data"
    data.mkdir()
    write_dataset(data)
    if protocol == "fixed":
        header, *rows = (data / "interactions.csv").read_text().splitlines()
        rows.sort(key=lambda line: line.rsplit(",", 1)[1])
        (data / "interactions.csv").unlink()
        (data / "train.csv").write_text("\n".join([header, *rows[: len(rows) * 4 // 5]]))
        (data / "test.csv").write_text("\n".join([header, *rows[len(rows) * 4 // 5 :]]))
    args = ["--dataset", "csv", "--data-dir", str(data), "--protocol", protocol]
    result = CliRunner().invoke(cli, ["eval-two-tower", *args])
    assert result.exit_code == 0, result.output
    assert f"{protocol} split" in result.output and "two_tower" in result.output


def test_eval_takes_a_two_tower_config_and_a_temporal_split(tmp_path, monkeypatch):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    config = tmp_path / "small.yaml"
    config.write_text(
        "embedding_dim: 8\nhidden_dims: [16]\nepochs: 3\nbatch_size: 32\nbuckets: 4096\n"
        "user_buckets: 1024\nobjective: next\nrecency_decay: 0.5\n"
    )
    args = ["eval", "--dataset", "csv", "--data-dir", str(tmp_path), "--protocol", "temporal"]
    result = CliRunner().invoke(
        cli,
        [
            *args,
            "--strategy",
            "two_tower",
            "--two-tower-config",
            str(config),
            "--json",
            str(tmp_path / "out.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["protocol"] == "temporal"
    assert report["results"][0]["strategy"] == "two_tower"
    assert 0 < report["results"][0]["hit_rate@10"] <= 1
    assert report["pinned"]["two_tower"]["objective"] == "next"  # its config's, as given
    assert report["results"][0]["settings"] == {
        "objective": "next",
        "members": report["tuning"]["settings"]["two_tower"]["members"],  # as chosen
        "recency_decay": 0.5,
    }
    config.write_text("objective: sideways\n")
    wrong = CliRunner().invoke(
        cli, [*args, "--strategy", "two_tower", "--two-tower-config", str(config)]
    )
    assert wrong.exit_code == 1
    assert "small.yaml: objective='sideways': Input should be 'all' or 'next'" in wrong.output


def test_eval_takes_a_fixed_split_as_two_files_and_reports_the_chosen_settings(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_dataset(tmp_path)
    header, *rows = (tmp_path / "interactions.csv").read_text().splitlines()
    rows.sort(key=lambda line: line.rsplit(",", 1)[1])  # by time: the latest fifth tests
    cut = len(rows) * 4 // 5
    (tmp_path / "interactions.csv").unlink()
    (tmp_path / "train.csv").write_text("\n".join([header, *rows[:cut]]))
    (tmp_path / "test.csv").write_text("\n".join([header, *rows[cut:]]))
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "--dataset",
            "csv",
            "--data-dir",
            str(tmp_path),
            "--protocol",
            "fixed",
            "--strategy",
            "popularity,item_cf",
            "--json",
            str(tmp_path / "out.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["protocol"] == "fixed"
    assert "hybrid" not in report["tuning"]["settings"]  # not evaluated: no weights to show
    chosen = report["tuning"]["settings"]["item_cf"]
    assert chosen["regularization"] > 0 and 0 < chosen["recency_decay"] <= 1
    assert 0 <= report["tuning"]["validation"]["item_cf"]["ndcg@10"] <= 1
    assert "item_cf: {" in result.output
    untuned = CliRunner().invoke(
        cli,
        [
            "eval",
            "--dataset",
            "csv",
            "--data-dir",
            str(tmp_path),
            "--protocol",
            "fixed",
            "--strategy",
            "item_cf",
            "--tuning-budget",
            "0",
            "--json",
            str(tmp_path / "u.json"),
        ],
    )
    assert untuned.exit_code == 0, untuned.output
    assert json.loads((tmp_path / "u.json").read_text())["tuning"] is None


def test_import_dataset_loads_a_public_dataset_and_says_how_much(tmp_path, monkeypatch, sqlite_url):
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    (tmp_path / "u.genre").write_text("unknown|0\nDrama|1\n")
    (tmp_path / "u.item").write_text(
        "1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n2|Heat (1995)|01-Jan-1995||http://x|0|1\n"
    )
    (tmp_path / "u.data").write_text("1\t1\t5\t881250949\n1\t2\t4\t881250950\n2\t1\t3\t881250951\n")
    runner = CliRunner()
    first = runner.invoke(
        cli, ["import-dataset", "--dataset", "ml-100k", "--data-dir", str(tmp_path)]
    )
    assert first.exit_code == 0, first.output
    assert "imported 2 courses and 3 events (0 already stored)" in first.output
    again = runner.invoke(
        cli, ["import-dataset", "--dataset", "ml-100k", "--data-dir", str(tmp_path)]
    )
    assert "imported 2 courses and 0 events (3 already stored)" in again.output


def write_cnpc(directory, courses):  # type: ignore[no-untyped-def]
    (directory / "cnpc_course_info_v3.json").write_text("\n".join(courses) + "\n")
    (directory / "train_valid_data_cnpc_v2.json").write_text(
        '{"user": 1, "item": 0}\n{"user": 1, "item": 1}\n{"user": 2, "item": 0}\n'
    )
    (directory / "test_data_cnpc_v2.json").write_text('{"user": 2, "item": 1}\n')


GOOD_CNPC = [
    '{"course_idx2": 0, "discipline": "Math", "course_length": 21}',
    '{"course_idx2": 1, "discipline": "Art", "course_length": 70}',
]


def test_import_dataset_loads_canvas_network_files(tmp_path, monkeypatch, sqlite_url):
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    write_cnpc(tmp_path, GOOD_CNPC)
    result = CliRunner().invoke(
        cli, ["import-dataset", "--dataset", "cnpc", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "imported 2 courses and 4 events (0 already stored)" in result.output


@pytest.mark.parametrize(
    ("bad_row", "said"),
    [
        ('{"course_idx2": 2, "discipline": "Art"}', "line 3 has no course_length"),
        (
            '{"course_idx2": 2, "discipline": "Art", "course_length": "a month"}',
            "line 3: course_length 'a month' is not a number of days",
        ),
        ('[2, "Art", 30]', "line 3 is not a JSON object"),
    ],
)
def test_a_canvas_network_file_with_a_bad_row_is_one_line_naming_it(
    tmp_path, monkeypatch, bad_row, said
):
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    write_cnpc(tmp_path, [*GOOD_CNPC, bad_row])
    result = CliRunner().invoke(
        cli, ["eval", "--dataset", "cnpc", "--data-dir", str(tmp_path), "--protocol", "fixed"]
    )
    assert result.exit_code == 1, result.output
    assert f"Error: cnpc_course_info_v3.json {said}" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_import_dataset_of_changed_files_says_which_event_conflicts(
    tmp_path, monkeypatch, sqlite_url
):
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    write_cnpc(tmp_path, GOOD_CNPC)
    runner = CliRunner()
    args = ["import-dataset", "--dataset", "cnpc", "--data-dir", str(tmp_path)]
    assert runner.invoke(cli, args).exit_code == 0
    # a newer copy of the files: its events' ids are their lines, now other courses
    (tmp_path / "train_valid_data_cnpc_v2.json").write_text(
        '{"user": 1, "item": 1}\n{"user": 1, "item": 0}\n{"user": 2, "item": 0}\n'
    )
    changed = runner.invoke(cli, args)
    assert changed.exit_code == 1, changed.output
    assert "Error: event 'cnpc-train-0' was already logged with a different course_id" in (
        changed.output
    )
    assert "these files differ from the cnpc imported into this database before" in changed.output
    assert isinstance(changed.exception, SystemExit)


@pytest.mark.parametrize("command", ["eval", "import-dataset"])
def test_a_dataset_without_its_folder_says_what_to_give_and_only_what_the_command_takes(
    monkeypatch, command, sqlite_url
):
    """import-dataset, told to try --dataset stored, refused it: it loads a dataset into the
    database, and evaluates nothing."""
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("RS_DATA_DIR", raising=False)
    result = CliRunner().invoke(cli, [command, "--dataset", "ml-100k"])
    assert result.exit_code == 2 and "give --data-dir (or set RS_DATA_DIR" in result.output
    assert ("--dataset stored" in result.output) == (command == "eval")


def test_import_dataset_whose_ratings_name_a_film_its_catalog_lacks_stores_nothing(
    tmp_path, monkeypatch, sqlite_url
):
    """It stored the catalog and the batches before the stray rating, then blamed "the ml-100k
    imported into this database before", which there was none of."""
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    (tmp_path / "u.genre").write_text("unknown|0\nDrama|1\n")
    (tmp_path / "u.item").write_text("1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n")
    (tmp_path / "u.data").write_text("1\t1\t5\t881250949\n1\t2\t4\t881250950\n")
    result = CliRunner().invoke(
        cli, ["import-dataset", "--dataset", "ml-100k", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: ml-100k's events name course '2', which its catalog does not list (a file cut "
        "short, or from another release); nothing was imported"
    )
    courses = CliRunner().invoke(cli, ["eval", "--dataset", "stored", "--strategy", "popularity"])
    assert "holds no events" in courses.output


@pytest.mark.parametrize(
    "item, said",
    [
        ("1|Toy Story (1995)|01-Jan-1995\n", "Error: u.item line 1 has 3 fields, not 7"),
        (None, "Error: u.data holds no ratings"),
    ],
)
def test_movielens_files_cut_short_are_refused_in_one_line(
    item, said, tmp_path, monkeypatch, sqlite_url
):
    """A short line of u.item was skipped without a word (and its film then missing), and an
    empty u.data imported "0 events" with exit status 0."""
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    (tmp_path / "u.genre").write_text("unknown|0\nDrama|1\n")
    (tmp_path / "u.item").write_text(item or "1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n")
    (tmp_path / "u.data").write_text("1\t1\t5\t881250949\n" if item else "")
    result = CliRunner().invoke(
        cli, ["import-dataset", "--dataset", "ml-100k", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1 and result.output.strip().splitlines()[-1] == said


def test_rs_data_dir_in_dot_env_is_where_the_datasets_are_looked_for(
    tmp_path, monkeypatch, sqlite_url
):
    """Every setting may come from .env; RS_DATA_DIR was read from the environment alone."""
    monkeypatch.setenv("RS_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("RS_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    films = tmp_path / "data" / "ml-100k"
    films.mkdir(parents=True)
    (films / "u.genre").write_text("unknown|0\nDrama|1\n")
    (films / "u.item").write_text("1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n")
    (films / "u.data").write_text("1\t1\t5\t881250949\n")
    (tmp_path / ".env").write_text(f"RS_DATA_DIR={tmp_path / 'data'}\n")
    result = CliRunner().invoke(cli, ["import-dataset", "--dataset", "ml-100k"])
    assert result.exit_code == 0, result.output
    assert "imported 1 courses and 1 events" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["import-dataset", "--dataset", "ml-100k", "--data-dir", "."],
        ["import-courses", "courses.csv"],
        ["demo-data", "--learners", "2"],
        ["erase-learner", "--yes", "user1"],
    ],
    ids=lambda c: c[0],
)
def test_a_command_that_stores_refuses_the_in_memory_database_that_would_throw_it_away(
    command, monkeypatch, tmp_path
):
    """On memory:// they said "imported 2 courses" and exited 0, keeping nothing."""
    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "courses.csv").write_text("course_id,title\nc1,One\n")
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: RS_DATABASE_URL=memory:// keeps nothing past this command: what `recsys "
        f"{command[0]}` stores would be gone as it ends; set RS_DATABASE_URL to a SQLite or "
        "PostgreSQL database"
    )


def test_a_movielens_file_that_cannot_be_read_is_one_line_naming_it(tmp_path, monkeypatch):
    """Its mode (0600, another user's) raised PermissionError, a traceback."""

    monkeypatch.setenv("RS_DATABASE_URL", "memory://")
    (tmp_path / "u.genre").write_text("unknown|0\nDrama|1\n")
    (tmp_path / "u.item").write_text("1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n")
    (tmp_path / "u.data").write_text("1\t1\t5\t881250949\n")
    read = Path.read_text

    def refused(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == "u.data":
            raise PermissionError(13, "Permission denied", str(self))
        return read(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refused)
    result = CliRunner().invoke(
        cli,
        ["eval", "--dataset", "ml-100k", "--data-dir", str(tmp_path), "--strategy", "popularity"],
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {tmp_path / 'u.data'} cannot be read: Permission denied"
    )
