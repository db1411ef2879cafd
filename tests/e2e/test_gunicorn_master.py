"""What the gunicorn master of `recsys serve` leaves behind: workers it replaced keep their counts
but not their metric files, and servers sharing a machine share nothing of gunicorn's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_observability import _get, _samples
from tests.e2e.test_readme import free_port, wait_until_up
from tests.processes import PATIENCE, eventually, stopped

RECSYS = [sys.executable, "-m", "entrypoints.cli"]
HEALTHZ = (
    "recsys_http_requests_total",
    (("method", "GET"), ("route", "/healthz"), ("status", "200")),
)
LIVE = "recsys_live_model_version_timestamp_seconds"


def _serve(folder: Path, port: int, *args: str, **env: str) -> subprocess.Popen:  # type: ignore[type-arg]
    settings = {
        **os.environ,
        "RS_DATABASE_URL": f"sqlite:///{folder}/recsys.db",
        "RS_MODELS_DIR": str(folder / "models"),
        "RS_ADMIN_TOKEN": "",
        **env,
    }
    if not (folder / "recsys.db").exists():
        subprocess.run([*RECSYS, "init-db"], env=settings, check=True, capture_output=True)
    process = subprocess.Popen(
        [*RECSYS, "serve", "--port", str(port), "--workers", "1", "--threads", "1", *args],
        env=settings,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_up(port, process)
    return process


def _workers(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return set(map(int, children))


def test_replaced_workers_keep_their_counts_but_leave_no_metric_files(tmp_path):
    """Every worker ever started left files that each scrape read again, so /metrics grew slower
    with every reload or crash of a worker; what they counted must stay counted."""
    (tmp_path / "metrics").mkdir()
    port = free_port()
    server = _serve(tmp_path, port, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    try:
        replaced: set[int] = set()
        before = _samples(port).get(HEALTHZ, 0.0)  # wait_until_up asked too
        for _ in range(3):
            for _ in range(5):
                _get(port, "/healthz")
            old = _workers(server.pid)
            replaced |= old
            server.send_signal(signal.SIGHUP)  # gunicorn replaces every worker
            eventually(lambda: not _workers(server.pid) & old, "the old worker gone")  # noqa: B023
            eventually(lambda: _up(port), "a new worker answers")
        kept = {int(p.stem.split("_")[-1]) for p in (tmp_path / "metrics").glob("*_[0-9]*.db")}
        assert not kept & replaced, "files of workers that exited are still read at every scrape"
        assert _samples(port)[HEALTHZ] - before == 15, (
            "what replaced workers counted is still counted"
        )
    finally:
        stopped(server)


def _left_by_a_server_gone(folder: Path) -> int:
    """Files an earlier server's exited worker left in `folder` (the version before 0008 never
    folded them, and a server killed with SIGKILL cannot): a /healthz count of 7 and the
    two_tower version it served, under a pid no process can have. Returns that pid."""
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    labels = dict(HEALTHZ[1])
    for name, key, value in (
        (
            f"counter_{pid}.db",
            mmap_key("recsys_http_requests", HEALTHZ[0], list(labels), [*labels.values()], "HTTP"),
            7.0,
        ),
        (
            f"gauge_mostrecent_{pid}.db",
            mmap_key(LIVE, LIVE, ["strategy"], ["two_tower"], "Creation time"),
            1.7e9,
        ),
    ):
        written = MmapedDict(str(folder / name))
        written.write_value(key, value, 1.7e9)
        written.close()
    return pid


def test_a_metrics_folder_a_server_gone_left_is_folded_when_the_next_one_starts(tmp_path):
    """An upgrade from a version that left every worker's files (or a server killed with
    SIGKILL) kept them read at every scrape for good, as only the workers of the running
    server were folded, and a version served by nobody now was reported as live."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    gone = _left_by_a_server_gone(folder)
    port = free_port()
    server = _serve(tmp_path, port, PROMETHEUS_MULTIPROC_DIR=str(folder))
    try:
        samples = _samples(port)
        assert not list(folder.glob(f"*_{gone}.db")), "files of a server gone are read each scrape"
        assert samples[HEALTHZ] >= 7 + 1, "what the server gone counted is still counted"
        assert samples.get((LIVE, (("strategy", "two_tower"),))) != 1.7e9, (
            "the version a worker gone served is reported as served"
        )
    finally:
        stopped(server)


def test_a_worker_loads_the_published_models_before_its_first_request(tmp_path):
    """So that the first request does not wait for them, and a worker that served nothing before
    the database went away still answers from them: /metrics, with no other request asked of
    the worker, shows the versions it serves."""
    env = {
        **os.environ,
        "RS_DATABASE_URL": f"sqlite:///{tmp_path}/recsys.db",
        "RS_MODELS_DIR": str(tmp_path / "models"),
    }
    for step in (["init-db"], ["demo-data", "--learners", "20"], ["trainer", "--once"]):
        subprocess.run([*RECSYS, *step], env=env, check=True, capture_output=True, timeout=PATIENCE)
    (tmp_path / "metrics").mkdir()
    port = free_port()
    server = _serve(tmp_path, port, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    try:
        live = eventually(
            lambda: {
                dict(labels)["strategy"]
                for (name, labels), value in _samples(port).items()
                if name == "recsys_live_model_version_timestamp_seconds" and value > 0
            },
            "the worker serves published versions",
        )
        assert {"popularity", "item_cf", "two_tower"} <= live
    finally:
        stopped(server)


def _up(port: int) -> bool:
    try:
        return _get(port, "/openapi.json")[0] == 200
    except OSError:
        return False


def test_two_servers_on_one_machine_take_no_control_socket_of_the_users(tmp_path):
    """gunicorn's control socket sits at one path per user: the second server took it from the
    first (and stopping either removed it), so `gunicornc` reached whichever forked last."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": ""}
    first = _serve(tmp_path, free_port(), **env)
    try:
        second = _serve(tmp_path, free_port(), **env)
        try:
            assert not (home / ".gunicorn").exists(), "a control socket every server shares"
        finally:
            stopped(second)
    finally:
        stopped(first)


def _gone(pid: int) -> bool:
    """Exited (a zombie no one has reaped yet counts: it runs no more)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_the_trainer_of_a_server_killed_outright_stops_with_it(tmp_path):
    """`serve --with-trainer` stops its trainer as it leaves; killed outright (SIGKILL, the OOM
    killer) it cannot, and the trainer went on fitting and publishing for a server that was gone,
    beside the one started next with its own trainer."""
    server = _serve(tmp_path, free_port(), "--with-trainer")
    trainer = None
    try:
        trainer = eventually(
            lambda: next(
                (
                    pid
                    for pid in _workers(server.pid)
                    if Path(f"/proc/{pid}/cmdline").read_bytes().endswith(b"\0trainer\0")
                ),
                None,
            ),
            "the trainer started",
        )
        stopped(server, signal.SIGKILL)
        eventually(lambda: _gone(trainer), "the trainer stopped with its server")
    finally:
        if trainer is not None and not _gone(trainer):
            os.kill(trainer, signal.SIGKILL)
