"""The functions the trainer and the views call record what they say, in one exposition."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prometheus_client import REGISTRY

from entrypoints import metrics
from tests.processes import PATIENCE


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_live_version_is_its_creation_time():
    metrics.live_version("unit_tower", "20261128T203912500000Z-ab12cd")
    assert value("recsys_live_model_version_timestamp_seconds", strategy="unit_tower") == (
        pytest.approx(1795898352.5)
    )


def test_a_fallback_is_counted_with_the_list_it_served():
    before = value(
        "recsys_recommendation_fallbacks_total", requested="two_tower", served="popularity"
    )
    metrics.served("home", "popularity", 3, "two_tower")
    assert (
        value("recsys_recommendation_fallbacks_total", requested="two_tower", served="popularity")
        == before + 1
    )


def test_what_trainers_did_and_the_jobs_waiting_read_from_the_database_reach_the_exposition():
    from prometheus_client.parser import text_string_to_metric_families

    from application.ports import Job, LastFit, TrainerBeat, TrainerTally
    from entrypoints.stored_metrics import stored_exposition
    from tests.conftest import NOW

    tally = TrainerTally(
        fits={("item_cf", "published"): 3, ("item_cf", "failed"): 1},
        jobs={("reindex", "failed"): 2},
        last_fits={"item_cf": LastFit("failed", 1.5, 0.0), "content": LastFit("published", 2, 1)},
        stats={"stored": 30, "lists_removed": 9000},
    )
    trainers = [TrainerBeat("host-a:7", NOW, NOW, "failed: item_cf (boom)", tally)]
    queued = [Job("j1", "reindex", "queued", NOW)]
    families = {
        f.name: f
        for f in text_string_to_metric_families(stored_exposition(trainers, queued).decode())
    }
    samples = {
        (s.name, tuple(sorted(s.labels.values()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert families["recsys_trainer_fits"].type == "counter"
    assert families["recsys_trainer_jobs"].type == "counter"
    assert samples[("recsys_trainer_fits_total", ("failed", "host-a:7", "item_cf"))] == 1
    assert samples[("recsys_trainer_jobs_total", ("failed", "host-a:7", "reindex"))] == 2
    assert (
        samples[("recsys_trainer_last_fit_duration_seconds", ("failed", "host-a:7", "item_cf"))]
        == 1.5
    )
    assert samples[("recsys_trainer_last_publish_duration_seconds", ("content", "host-a:7"))] == 1
    assert ("recsys_trainer_last_publish_duration_seconds", ("host-a:7", "item_cf")) not in samples
    assert samples[("recsys_trainer_seen_timestamp_seconds", ("host-a:7",))] == NOW.timestamp()
    assert samples[("recsys_jobs_active", ("queued", "reindex"))] == 1
    assert families["recsys_trainer_stats_days"].type == "counter"
    assert samples[("recsys_trainer_stats_days_total", ("host-a:7", "stored"))] == 30
    assert samples[("recsys_trainer_stats_days_total", ("failed", "host-a:7"))] == 0
    assert samples[("recsys_trainer_lists_removed_total", ("host-a:7",))] == 9000


def test_a_trainer_standing_by_behind_one_stuck_fitting_does_not_pass_for_a_fit_cycle():
    """A trainer stuck fitting (its host frozen, a write hung on the shared volume) keeps the
    fitting turn, and the others stand by at every cycle: their fresh beats kept
    `time() - max(recsys_trainer_seen_timestamp_seconds) > 900` quiet while nothing was fitted
    for hours. A fit under way counts from when it began; standing by, or starting, no cycle."""
    from datetime import timedelta

    from prometheus_client.parser import text_string_to_metric_families

    from application.ports import TrainerBeat
    from application.trainer import FITTING, STANDING_BY, STARTED
    from entrypoints.stored_metrics import stored_exposition
    from tests.conftest import NOW

    stuck_since = NOW - timedelta(hours=3)
    trainers = [
        TrainerBeat("host-b:8", NOW - timedelta(days=1), NOW, STANDING_BY),
        TrainerBeat("host-c:9", NOW, NOW, STARTED),
        TrainerBeat("host-a:7", NOW - timedelta(days=1), stuck_since, FITTING),
    ]
    seen = [
        sample.value
        for family in text_string_to_metric_families(stored_exposition(trainers, []).decode())
        for sample in family.samples
        if sample.name == "recsys_trainer_seen_timestamp_seconds"
    ]
    assert max(seen) == stuck_since.timestamp()


def test_a_worker_whose_counts_cannot_be_folded_leaves_them_counted_and_the_server_up(
    tmp_path, monkeypatch
):
    """The server's master folds an exited worker's files; a write it cannot make (a full disk)
    must not stop the master, which would take every worker of the host down with it."""
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    gone = MmapedDict(str(tmp_path / "counter_4242.db"))
    gone.write_value(mmap_key("recsys_events", "recsys_events_total", [], [], "h"), 7.0, 0.0)
    gone.close()
    (tmp_path / "counter_dead.db.new").mkdir()  # where the fold writes: it cannot
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics.worker_exited(4242)
    assert (tmp_path / "counter_4242.db").exists(), "its counts are still read at each scrape"
    assert b"recsys_events_total 7.0" in metrics.exposition()[0]


def _worker_file(folder, pid: int, count: float) -> None:
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    written = MmapedDict(str(folder / f"counter_{pid}.db"))
    written.write_value(mmap_key("recsys_events", "recsys_events_total", [], [], "h"), count, 0.0)
    written.close()


def test_a_scrape_while_a_worker_creates_its_file_counts_the_others(tmp_path, monkeypatch):
    """prometheus_client creates a process's file empty and sizes it next: a scrape in between
    answered 500 (seen in CI as a worker loaded its models as it started)."""
    _worker_file(tmp_path, 4242, 7.0)
    (tmp_path / "gauge_livemostrecent_4243.db").touch()  # a starting worker's, this instant
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert b"recsys_events_total 7.0" in metrics.exposition()[0]


def test_a_worker_exiting_while_another_is_folded_is_folded_too_without_hanging_the_master(
    tmp_path, monkeypatch
):
    """Older gunicorn reaps workers in its SIGCHLD handler: a second exit during a fold ran a
    fold inside the fold, which waited forever on the lock the first one held."""
    import threading

    from entrypoints import metric_files

    _worker_file(tmp_path, 4242, 7.0)
    _worker_file(tmp_path, 4243, 5.0)
    fold = metric_files._fold

    def interrupted(dead: str, gone: str) -> None:
        monkeypatch.setattr(metric_files, "_fold", fold)
        metric_files.fold_dead(str(tmp_path), 4243)  # as the signal handler would
        fold(dead, gone)

    monkeypatch.setattr(metric_files, "_fold", interrupted)
    folding = threading.Thread(
        target=metric_files.fold_dead, args=(str(tmp_path), 4242), daemon=True
    )
    folding.start()
    folding.join(timeout=10)
    assert not folding.is_alive(), "the master waits on its own lock"
    assert not list(tmp_path.glob("*_424[23].db")), "files of workers that exited are left"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert b"recsys_events_total 12.0" in metrics.exposition()[0]


def test_a_disk_too_full_to_fold_a_worker_leaves_its_counts_counted(tmp_path, monkeypatch):
    """prometheus_client writes its files through mmap, where a full disk is a SIGBUS that would
    kill the master (and every worker with it): the fold reserves its space first."""
    import errno
    import os

    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    _worker_file(tmp_path, 4242, 7.0)
    monkeypatch.setattr(os, "posix_fallocate", full)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics.worker_exited(4242)
    assert (tmp_path / "counter_4242.db").exists(), "its counts are still read at each scrape"
    assert not (tmp_path / "counter_dead.db.new").exists(), "the space it could get is freed"
    assert b"recsys_events_total 7.0" in metrics.exposition()[0]


def test_a_fold_cut_short_after_its_rename_is_finished_not_counted_twice(tmp_path, monkeypatch):
    """The master killed between the dead's file taking a worker's counts and the worker's file
    going: the next fold (or the next server's start) removes that file instead of adding it
    again."""
    import os

    from entrypoints import metric_files

    _worker_file(tmp_path, 4242, 7.0)
    removed = os.remove

    def killed(path):  # type: ignore[no-untyped-def]
        if str(path).endswith("counter_4242.db"):
            raise SystemExit("the master is killed here")
        removed(path)

    monkeypatch.setattr(os, "remove", killed)
    with pytest.raises(SystemExit):
        metric_files._fold(str(tmp_path / "counter_dead.db"), str(tmp_path / "counter_4242.db"))
    monkeypatch.setattr(os, "remove", removed)
    monkeypatch.setattr(metric_files, "_alive", lambda pid: False)
    metric_files.fold_gone(str(tmp_path))  # the next server's start: pid 4242 is gone
    assert not (tmp_path / "counter_4242.db").exists()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert b"recsys_events_total 7.0" in metrics.exposition()[0]


def test_the_file_of_the_dead_is_never_grown_past_the_space_reserved_for_it(tmp_path):
    """Where prometheus_client grows a file itself, the disk space is not reserved."""
    import struct

    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    from entrypoints import metric_files

    gone = MmapedDict(str(tmp_path / "counter_4242.db"))
    for route in range(1000):  # past the 64 KiB a file starts with
        key = mmap_key("recsys_events", "recsys_events_total", ["r"], [str(route)], "h")
        gone.write_value(key, 1.0, 0.0)
    gone.close()
    metric_files.fold_dead(str(tmp_path), 4242)
    folded = (tmp_path / "counter_dead.db").read_bytes()
    assert struct.unpack_from("i", folded)[0] == len(folded), "bytes used == bytes reserved"


def test_a_worker_file_cut_short_does_not_stop_the_server(tmp_path, monkeypatch):
    """A file that cannot be read raised in gunicorn's master, whose main loop then exited."""
    (tmp_path / "counter_4242.db").write_bytes(b"\x10\x00\x00\x00")  # says 16 bytes used
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics.worker_exited(4242)
    assert (tmp_path / "counter_4242.db").exists()


def test_the_empty_file_of_a_worker_killed_as_it_started_is_dropped(tmp_path, monkeypatch):
    """It holds no count, and while it stayed every scrape failed reading it."""
    (tmp_path / "counter_4242.db").write_bytes(b"")
    _worker_file(tmp_path, 4243, 5.0)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics.worker_exited(4242)
    assert not (tmp_path / "counter_4242.db").exists()
    assert b"recsys_events_total 5.0" in metrics.exposition()[0]


def _garbled(path) -> None:  # type: ignore[no-untyped-def]
    """A file whose header and lengths add up but whose key is not what prometheus_client wrote."""
    from prometheus_client.mmap_dict import MmapedDict

    written = MmapedDict(str(path))
    written.write_value("{not json}", 1.0, 0.0)
    written.close()


@pytest.mark.parametrize("name", ["counter_4242.db", "counter_dead.db", "backup.db"])
def test_a_file_no_process_wrote_whole_leaves_the_scrape_to_the_others(
    tmp_path, monkeypatch, caplog, name
):
    """One unreadable file in the folder (cut short, garbled, a stray file of no metric kind)
    failed every scrape (a 500) until someone removed it: the others are still scraped, and a
    warning names it once."""
    _worker_file(tmp_path, 4243, 5.0)
    if name == "backup.db":
        _worker_file(tmp_path, 4244, 1.0)
        (tmp_path / "counter_4244.db").rename(tmp_path / name)
    elif name == "counter_4242.db":
        (tmp_path / name).write_bytes(b"\x10\x00\x00\x00")  # says 16 bytes used, holds 4
    else:
        _garbled(tmp_path / name)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for _ in range(2):
        scraped = metrics.exposition()[0]
        assert b"recsys_events_total 5.0" in scraped
        assert b"recsys_metrics_files_unreadable 1.0" in scraped  # to alert on
    named = [r for r in caplog.records if name in r.getMessage()]
    assert len(named) == 1 and "left out of scrapes" in named[0].getMessage()
    (tmp_path / name).unlink()
    assert b"recsys_metrics_files_unreadable 0.0" in metrics.exposition()[0]


def _in_a_worker(folder, script: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    """`script` in a process of its own whose metrics go to `folder`, as a gunicorn worker's do
    (prometheus_client picks its multiprocess files when it is first imported)."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    setup = "from entrypoints import metrics\n"
    return subprocess.run(
        [sys.executable, "-c", setup + script],
        env=env,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )


def test_a_worker_holds_the_disk_space_of_its_metrics_before_it_counts_into_them(tmp_path):
    """Workers write their counts through mmap: into a file whose space is not allocated yet, a
    full disk (a full /tmp, where `recsys serve` makes the folder) is a SIGBUS, and every worker
    died at its first request, /healthz included."""
    routes = "".join(
        f"metrics.HTTP_LATENCY.labels('GET', '/r{n}', '200').observe(0.1)\n" for n in range(400)
    )
    done = _in_a_worker(
        tmp_path,
        "metrics.EVENTS.labels('accepted').inc()\nmetrics.LIVE_VERSION.labels('x').set(1)\n"
        + routes,
    )
    assert done.returncode == 0, done.stderr
    files = list(tmp_path.glob("*.db"))
    assert files
    for file in files:  # past the 64 KiB a file starts with, for the histogram's
        stat = file.stat()
        assert stat.st_blocks * 512 >= stat.st_size, f"{file.name} is sparse"


def test_a_worker_whose_metrics_have_no_space_left_answers_and_says_so_once(tmp_path):
    """Counts that cannot be written are lost, not the requests (nor the load of new models,
    which reports the version it loaded)."""
    done = _in_a_worker(
        tmp_path,
        "import errno, os\n"
        "def full(fd, offset, length):\n"
        "    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "os.posix_fallocate = full\n"
        "metrics.request_answered('GET', '/healthz', '200', 0.1)\n"
        "metrics.served('home', 'popularity', 3)\n"
        "metrics.live_version('item_cf', '20261128T203912500000Z-ab12cd')\n"
        "metrics.events_received(1, 0, 0)\n"
        "print('answered')\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "answered"
    warnings = [line for line in done.stderr.splitlines() if "No space left" in line]
    assert len(warnings) == 1, done.stderr
    assert "metrics" in warnings[0]


def test_a_worker_counts_where_the_filesystem_cannot_allocate_space_itself(tmp_path):
    """There (ZFS before 2.2, NFS before 4.2) glibc's posix_fallocate writes the space itself,
    and refuses a file opened to append or only to write with EBADF: every count of every worker
    was lost, where before space was reserved they were counted."""
    from entrypoints import metric_files

    routes = "".join(f"metrics.request_answered('GET', '/r{n}', '200', 0.1)\n" for n in range(400))
    done = _in_a_worker(
        tmp_path,
        "import errno, fcntl, os\n"
        "native = os.posix_fallocate\n"
        "def emulated(fd, offset, length):  # as glibc's emulation refuses (man posix_fallocate)\n"
        "    if fcntl.fcntl(fd, fcntl.F_GETFL) & (os.O_APPEND | os.O_WRONLY):\n"
        "        raise OSError(errno.EBADF, os.strerror(errno.EBADF))\n"
        "    native(fd, offset, length)\n"
        "os.posix_fallocate = emulated\n"
        "metrics.events_received(1, 0, 0)\n" + routes,
    )
    assert done.returncode == 0, done.stderr
    assert "not being counted" not in done.stderr
    scraped = metric_files.scraped(str(tmp_path))
    assert b'recsys_events_total{outcome="accepted"} 1.0' in scraped
    assert b'route="/r399"' in scraped
