"""The folder gunicorn workers write their metrics to: what a dead worker counted is folded into
one file of the dead, so a scrape reads the live workers' files and that one however many workers
were ever started, and no count goes backwards. A worker exiting during a fold (older gunicorn
reaps in its SIGCHLD handler) is queued and folded by the fold under way; a worker that cannot be
folded (a full disk) keeps its files, still counted; a file that cannot be read (cut short, a
stray file) is left out of scrapes, named in a warning. A server starting folds what the
processes of one gone left (an older version's workers, a server killed outright)."""

from __future__ import annotations

import fcntl
import logging
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, generate_latest, multiprocess, values
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.mmap_dict import _INITIAL_MMAP_SIZE, MmapedDict, mmap_key
from prometheus_client.samples import Sample

#: the kinds whose values add up over processes; gauges of a dead worker are simply dropped
ADDED_UP = ("counter", "histogram")
DEAD = "dead"

log = logging.getLogger(__name__)
#: workers whose files await a fold; a fold under way (_folding) takes those queued meanwhile
_pending: list[int] = []
_folding = False
#: a process's own file: counter_<pid>.db, histogram_<pid>.db, gauge_<mode>_<pid>.db
_OWN_FILE = re.compile(r"(?:counter|histogram|gauge_[a-z]+)_(\d+)\.db")
#: files found unreadable, already named in a warning
_unreadable: set[str] = set()


class ReservedMmapedDict(MmapedDict):  # type: ignore[misc]
    """prometheus_client's file of one process's values, with its disk space allocated before
    anything is written to it through mmap, where a full disk is a SIGBUS that kills the worker
    (every worker at its first request, /healthz included): without the space, OSError (ENOSPC),
    and nothing is written."""

    def __init__(self, filename: str, read_mode: bool = False) -> None:
        if not read_mode:
            _allocate(filename, _INITIAL_MMAP_SIZE)
        super().__init__(filename, read_mode)

    def _init_value(self, key: str) -> None:
        capacity = self._capacity
        while self._used + _entry_size(key) > capacity:  # as prometheus_client grows it
            capacity *= 2
        if capacity > self._capacity:
            _allocate(self._fname, capacity)
        super()._init_value(key)


def reserve_space() -> None:
    """Every process's files are ReservedMmapedDicts from now on (prometheus_client opens them
    at a process's first count), where the system can reserve space (macOS cannot: as before)."""
    if hasattr(os, "posix_fallocate"):
        values.MmapedDict = ReservedMmapedDict  # type: ignore[attr-defined]


def scraped(folder: str) -> bytes:
    """Every metric of `folder`, added up over its files, read while none is being folded."""
    registry = CollectorRegistry()
    registry.register(_Files(folder))
    with _locked(folder, fcntl.LOCK_SH):
        return generate_latest(registry)


class _Files:
    """prometheus_client's MultiProcessCollector, but for a file it cannot read: one a process
    is creating at this instant (prometheus_client creates it empty, then sizes it: a 500 while a
    worker started) is skipped, and one no process wrote whole is left out and counted in
    recsys_metrics_files_unreadable, where either failed the whole scrape."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def collect(self) -> Iterable[Metric]:
        names = (os.path.join(self.folder, name) for name in os.listdir(self.folder))
        files = [path for path in names if path.endswith(".db") and _has_content(path)]
        try:
            merged, unreadable = list(_merged(files)), 0
        except Exception:  # a file no process wrote whole (a full disk, a stray file)
            readable = [path for path in files if _readable(path)]
            merged, unreadable = list(_merged(readable)), len(files) - len(readable)
        left_out = GaugeMetricFamily(
            "recsys_metrics_files_unreadable",
            "Files of the metrics folder this scrape could not read: their counts are left out",
            value=unreadable,
        )
        return [*merged, left_out]


def _merged(files: list[str]) -> Iterable[Metric]:
    return multiprocess.MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-any-return]


def _readable(path: str) -> bool:
    """Whether prometheus_client can read `path`; one it cannot is left out of the scrape (its
    counts missing, which Prometheus reads as a counter reset) rather than failing it, tried
    again at the next, and named in a warning once per process."""
    try:
        _merged([path])
        return True
    except Exception as error:
        if path not in _unreadable:
            _unreadable.add(path)
            log.warning(
                "the metrics file %s cannot be read (%r): left out of scrapes while it cannot",
                path,
                error,
            )
        return False


def _has_content(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except FileNotFoundError:
        return False


def fold_dead(folder: str, pid: int) -> None:
    """Add worker `pid`'s counters and histograms to the dead's file and remove its files; if
    called during a fold (from a signal handler), only queue `pid` for the fold under way, as
    taking the lock again would wait forever on the lock this process holds."""
    global _folding
    _pending.append(pid)
    while _pending and not _folding:  # a pid queued as the last fold let go is folded now
        _folding = True
        try:
            with _locked(folder, fcntl.LOCK_EX):
                while _pending:
                    _fold_worker(folder, _pending.pop(0))
        finally:
            _folding = False


def fold_gone(folder: str) -> None:
    """At a server's start, before its workers: fold the files of every process gone, which
    only a fold at its exit would have (the version before 0008 folded none, so a folder it
    used held every worker it ever started, and a server killed with SIGKILL folds none). A
    process alive on this host keeps its files; a folder shared with another host or container
    (whose processes this one cannot see) would lose that server's: one server per folder."""
    found = {int(m.group(1)) for name in os.listdir(folder) if (m := _OWN_FILE.fullmatch(name))}
    for pid in sorted(found - {os.getpid()}):
        if not _alive(pid):
            fold_dead(folder, pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def _fold_worker(folder: str, pid: int) -> None:
    # Any error, not only OSError: raised in gunicorn's master, it would stop every worker.
    try:
        for kind in ADDED_UP:
            _recover(os.path.join(folder, f"{kind}_{DEAD}.db"))
            gone = os.path.join(folder, f"{kind}_{pid}.db")
            if not os.path.exists(gone):
                continue
            if os.path.getsize(gone) == 0:  # killed as it made it: no count, and scrapes fail
                os.remove(gone)
            else:
                _fold(os.path.join(folder, f"{kind}_{DEAD}.db"), gone)
        multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]
        older = os.path.join(folder, f"gauge_mostrecent_{pid}.db")  # the previous release's
        if os.path.exists(older):  # live-version gauge, which mark_process_dead keeps
            os.remove(older)
    except Exception as error:
        log.warning(
            "could not fold the metrics of worker %s (%r): its files stay, counted", pid, error
        )


def _fold(dead: str, gone: str) -> None:
    """`dead` becomes its own values plus `gone`'s, written aside in space reserved first and
    renamed (a scrape never reads half of it), then `gone` is removed; both under the exclusive
    lock. A journal names `gone` from before the rename until it is removed, so that a fold cut
    short between the two is finished by the next (see _recover), not counted twice for good."""
    staged, journal = f"{dead}.new", f"{dead}.folding"  # not *.db: scrapes never read them
    merged = multiprocess.MultiProcessCollector.merge(
        [path for path in (dead, gone) if os.path.exists(path)], accumulate=False
    )
    values = {_key(metric, sample): sample.value for metric in merged for sample in metric.samples}
    _reserve(staged, 8 + sum(_entry_size(key) for key in values))
    written = MmapedDict(staged)  # type: ignore[no-untyped-call]
    try:
        for key, value in values.items():
            written.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]
    finally:
        written.close()  # type: ignore[no-untyped-call]
    with open(journal, "w") as named:
        named.write(gone)
    os.replace(staged, dead)
    os.remove(gone)
    os.remove(journal)


def _recover(dead: str) -> None:
    """Finish what a fold into `dead` cut short (its process killed) left: before the rename,
    the staged file is dropped (the worker's own file still counts); after it, the worker's file
    it folded is removed (the dead's file holds its counts now)."""
    staged, journal = f"{dead}.new", f"{dead}.folding"
    if os.path.exists(journal):
        with open(journal) as named:
            gone = named.read()
        if not os.path.exists(staged) and os.path.exists(gone):
            os.remove(gone)
        os.remove(journal)
    if os.path.exists(staged):
        os.remove(staged)


def _key(metric: Metric, sample: Sample) -> str:
    labels = sorted(sample.labels.items())
    return mmap_key(
        metric.name,
        sample.name,
        [name for name, _ in labels],
        [value for _, value in labels],
        metric.documentation,
    )


def _entry_size(key: str) -> int:
    """Bytes MmapedDict writes for `key`: its length, the key padded to 8 bytes, two doubles."""
    encoded = len(key.encode())
    return 4 + encoded + (8 - (encoded + 4) % 8) + 16


def _reserve(path: str, size: int) -> None:
    """Allocate `size` bytes on disk to the new file `path`, or raise OSError (ENOSPC). MmapedDict
    then writes within them; a file it grows itself is sparse and written through mmap, where a
    full disk is a SIGBUS, not an OSError, and kills the process (here gunicorn's master)."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        _allocate(path, size)
    except OSError:
        os.remove(path)
        raise


def _allocate(path: str, size: int) -> None:
    """At least `size` bytes on disk for the file `path` (all of it, if larger), or OSError.
    Through a descriptor of its own, read and written: where the filesystem cannot allocate
    (ZFS before 2.2, NFS before 4.2) glibc writes the space itself, and refuses (EBADF) a file
    opened to append, as prometheus_client opens its own, or only to write."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        os.posix_fallocate(fd, 0, max(size, os.fstat(fd).st_size))
    finally:
        os.close(fd)


@contextmanager
def _locked(folder: str, how: int) -> Iterator[None]:
    with open(os.path.join(folder, ".lock"), "a") as lock:
        fcntl.flock(lock, how)
        yield
