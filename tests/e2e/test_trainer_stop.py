"""`recsys trainer` stops when told to, even in the middle of a fit, and leaves whole versions."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from adapters.fs_artifacts import FilesystemArtifactStore
from tests.processes import eventually, stopped

ROOT = Path(__file__).resolve().parents[2]


def test_a_trainer_told_to_stop_mid_training_leaves_at_once_with_every_version_whole(tmp_path):
    # a two_tower training that would take many minutes: early stopping never comes
    config = yaml.safe_load((ROOT / "configs/two_tower.yaml").read_text())
    config |= {"epochs": 10_000, "patience": 10_000, "min_patience": 10_000, "members": 3}
    (tmp_path / "slow.yaml").write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "RS_DATABASE_URL": f"sqlite:///{tmp_path}/recsys.db",
        "RS_MODELS_DIR": str(tmp_path / "models"),
        "RS_TWO_TOWER_CONFIG": str(tmp_path / "slow.yaml"),
        "RS_TUNING_BUDGET_SECONDS": "0",
    }
    recsys = [sys.executable, "-m", "entrypoints.cli"]
    subprocess.run([*recsys, "init-db"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*recsys, "demo-data", "--learners", "100"], env=env, check=True, capture_output=True
    )
    log = tmp_path / "trainer.log"
    with open(log, "w") as out:
        trainer = subprocess.Popen(
            [*recsys, "trainer"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            eventually(lambda: "training two_tower" in _said(log, trainer), "training two_tower")
            time.sleep(2)  # well into its epochs
        finally:
            code = stopped(trainer)

    assert code == 0, log.read_text()
    assert "trainer stopped; a fit in progress was dropped" in log.read_text()
    store = FilesystemArtifactStore(tmp_path / "models")
    for name in ("popularity", "content", "item_cf", "sequence"):  # published before training
        version = store.current_version(name)
        assert version is not None and store.load(name, version).manifest
    assert store.current_version("two_tower") is None  # dropped, not half-published


def _said(log: Path, trainer: subprocess.Popen) -> str:  # type: ignore[type-arg]
    """What the trainer has logged so far; it must still be running."""
    assert trainer.poll() is None, log.read_text()
    return log.read_text()


def _fitted_demo(tmp_path, **settings: str) -> tuple[dict[str, str], list[str]]:  # type: ignore[no-untyped-def]
    """A small demo on SQLite with every strategy fitted once: the environment and the command."""
    (tmp_path / "quick.yaml").write_text(
        "members: 1\nepochs: 2\nbatch_size: 64\nembedding_dim: 16\nhidden_dims: [32]\n"
    )
    env = {
        **os.environ,
        "RS_DATABASE_URL": f"sqlite:///{tmp_path}/recsys.db",
        "RS_MODELS_DIR": str(tmp_path / "models"),
        "RS_TWO_TOWER_CONFIG": str(tmp_path / "quick.yaml"),
        "RS_TUNING_BUDGET_SECONDS": "0",
        **settings,
    }
    recsys = [sys.executable, "-m", "entrypoints.cli"]
    subprocess.run([*recsys, "init-db"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*recsys, "demo-data", "--learners", "30"], env=env, check=True, capture_output=True
    )
    subprocess.run([*recsys, "trainer", "--once"], env=env, cwd=ROOT, check=True)
    return env, recsys


def test_a_forced_trainer_refits_every_strategy_then_keeps_running_until_stopped(tmp_path):
    env, recsys = _fitted_demo(tmp_path, RS_FIT_INTERVAL="1")
    store = FilesystemArtifactStore(tmp_path / "models")
    names = ("popularity", "content", "item_cf", "sequence", "two_tower")
    before = {name: store.current_version(name) for name in names}  # all up to date now

    log = tmp_path / "trainer.log"
    with open(log, "w") as out:
        trainer = subprocess.Popen(
            [*recsys, "trainer", "--force"], env=env, cwd=ROOT, stdout=out, stderr=out
        )
        try:

            def all_refitted() -> bool:
                _said(log, trainer)
                return all(store.current_version(name) != before[name] for name in names)

            eventually(all_refitted, "every strategy refitted")
            forced = {name: store.current_version(name) for name in names}
            time.sleep(5)  # several fit intervals after its forced cycle: a supervisor sees it up
            assert trainer.poll() is None, log.read_text()
        finally:
            code = stopped(trainer)
    assert code == 0, log.read_text()
    # only the first cycle was forced: the later ones found nothing stale
    assert {name: store.current_version(name) for name in names} == forced


def test_a_trainer_stopped_between_cycles_does_not_say_it_dropped_a_fit(tmp_path):
    """A trainer at rest, told to stop, said "a fit in progress was dropped" all the same."""
    import sqlite3

    env, recsys = _fitted_demo(tmp_path)

    log = tmp_path / "trainer.log"

    def resting() -> bool:  # its first cycle found every strategy up to date
        _said(log, trainer)
        with sqlite3.connect(tmp_path / "recsys.db") as db:
            cycles = [row[0] for row in db.execute("SELECT last_cycle FROM trainers")]
        return any(cycle.startswith("up to date") for cycle in cycles)

    with open(log, "w") as out:
        trainer = subprocess.Popen(
            [*recsys, "trainer"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            eventually(resting, "a trainer at rest")
        finally:
            code = stopped(trainer)
    said = log.read_text()
    assert code == 0, said
    assert said.strip().splitlines()[-1] == "trainer stopped", said
    assert "dropped" not in said


def test_a_trainer_keeping_models_in_a_database_taking_no_writes_waits_for_it_rather_than_stop(
    tmp_path,
):
    """A standby (here a SQLite file opened read-only) refuses the models' writes until it is
    promoted: the trainer waits for it as for a database down, as it does with its models in a
    folder; it stopped, asking for grants the role has (a supervisor restarting it then restarted
    a trainer that stopped at once, with the same wrong advice, until the failover was over)."""
    database = tmp_path / "recsys.db"
    env = {**os.environ, "RS_DATABASE_URL": f"sqlite:///{database}", "RS_FIT_INTERVAL": "1"}
    recsys = [sys.executable, "-m", "entrypoints.cli"]
    subprocess.run([*recsys, "init-db"], env=env, check=True, capture_output=True)
    env |= {
        "RS_DATABASE_URL": f"sqlite:///file:{database}?mode=ro&uri=true",
        "RS_MODELS_STORE": "database",
    }
    log = tmp_path / "trainer.log"
    with open(log, "w") as out:
        trainer = subprocess.Popen(
            [*recsys, "trainer"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            eventually(lambda: "database unavailable" in _said(log, trainer), "waits for it")
        finally:
            code = stopped(trainer)

    assert code == 0, log.read_text()
    assert "the database is read-only" in log.read_text()
    assert "this role needs" not in log.read_text()
