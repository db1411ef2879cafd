"""Recording slates: concurrent requests share a commit, and nothing unrecorded is acknowledged."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from application.ports import StorageUnavailable
from application.slate_recorder import SlateRecorder
from application.use_cases.erase_learner import EraseLearner
from domain.model import CourseId, Recommendation, RecommendationId, Slate, UserId


def slate(n: int) -> Slate:
    item = Recommendation(CourseId("course_sql_basic"), 1.0, 1, "popularity", "Popular")
    return Slate(
        RecommendationId(f"rec{n}"), UserId(f"u{n}"), "popularity", (item,), datetime.now(UTC)
    )


class Gated(InMemoryUnitOfWork):
    """Counts commits; the first one waits for `gate`; slates named in `broken` fail to store."""

    commits: list[int] = []
    gate = threading.Event()
    broken: set[str] = set()
    down = False

    def __enter__(self) -> Gated:
        super().__enter__()
        add = self.slates.add

        def checked(s: Slate) -> None:
            if s.recommendation_id in self.broken:
                raise ValueError(f"cannot store {s.recommendation_id}")
            add(s)

        self.slates.add = checked  # type: ignore[method-assign]
        return self

    def commit(self) -> None:
        if not self.commits:
            self.gate.wait(10)
        if self.down:
            raise StorageUnavailable("the database is unreachable")
        self.commits.append(len(self.working.slates) - len(self.committed.slates))
        super().commit()


@pytest.fixture
def store() -> InMemoryStore:
    Gated.commits, Gated.gate, Gated.broken, Gated.down = [], threading.Event(), set(), False
    return InMemoryStore()


def record_concurrently(recorder: SlateRecorder, count: int) -> dict[int, BaseException | None]:
    """The first slate's commit is held until the others wait behind it."""
    outcomes: dict[int, BaseException | None] = {}

    def run(n: int) -> None:
        try:
            recorder.record(slate(n), 0)  # nobody erased
            outcomes[n] = None
        except Exception as error:  # noqa: BLE001 - the outcome is what the test reads
            outcomes[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    threads[0].start()
    while not recorder._writer.locked():
        time.sleep(0.001)
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 10
    while len(recorder._queued) < count - 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    Gated.gate.set()
    for thread in threads:
        thread.join(10)
    return outcomes


def test_slates_served_together_share_one_commit_and_all_are_stored(store):
    outcomes = record_concurrently(SlateRecorder(lambda: Gated(store)), 8)
    assert outcomes == dict.fromkeys(range(8))
    assert Gated.commits == [1, 7]
    assert set(store.slates) == {f"rec{n}" for n in range(8)}


def test_a_slate_that_cannot_be_stored_fails_only_its_own_request(store):
    Gated.broken = {"rec3"}
    outcomes = record_concurrently(SlateRecorder(lambda: Gated(store)), 6)
    assert isinstance(outcomes.pop(3), ValueError)
    assert outcomes == dict.fromkeys([0, 1, 2, 4, 5])
    assert set(store.slates) == {f"rec{n}" for n in (0, 1, 2, 4, 5)}


def test_an_unreachable_database_fails_every_waiting_request(store):
    Gated.down = True
    outcomes = record_concurrently(SlateRecorder(lambda: Gated(store)), 5)
    assert all(isinstance(error, StorageUnavailable) for error in outcomes.values())
    assert len(outcomes) == 5
    assert not store.slates


def test_an_erasure_committing_while_the_mark_is_read_does_not_leave_the_old_mark_cached():
    """A request read the erasure mark from the database while an erasure of this process
    committed (forget_mark ran before that read's result was kept): the mark read before the
    erasure must not then be reused for 10 s, or the learner, back at once, is served lists
    without an id although the erasure was this process's own (README: "at once after one of
    its own")."""
    store = InMemoryStore()
    recorder = SlateRecorder(lambda: InMemoryUnitOfWork(store))
    erase = EraseLearner(lambda: InMemoryUnitOfWork(store), erased=recorder.forget_mark)

    class ReadingDuringTheErasure(InMemoryUnitOfWork):
        def __enter__(self) -> ReadingDuringTheErasure:
            super().__enter__()
            read = self.erasures.mark

            def mark() -> int:
                before = read()  # the erasure commits once this read has answered
                erase.execute(UserId("u1"))
                return before

            self.erasures.mark = mark  # type: ignore[method-assign]
            return self

    with ReadingDuringTheErasure(store) as uow:
        recorder.mark(uow)  # a request under way: its own slate is rightly left out
    with InMemoryUnitOfWork(store) as uow:
        later = recorder.mark(uow)  # the learner comes back after the erasure
    recorder.record(slate(1), later)  # raises ErasedMeanwhile: the stale mark was cached


def test_a_mark_read_before_another_requests_newer_one_does_not_replace_it():
    """Two requests re-read the erasure mark while another host's erasure commits: the one that
    asked first, answered last, put its older mark back, and this process took a learner erased
    meanwhile for one never erased (their lists recorded, their history kept for degraded
    answers) until the next read."""
    import threading
    from types import SimpleNamespace

    recorder = SlateRecorder(lambda: InMemoryUnitOfWork(InMemoryStore()), mark_seconds=0)
    asked, answer = threading.Event(), threading.Event()

    def old_mark() -> int:  # read before the erasure, answered after the newer read
        asked.set()
        answer.wait(5)
        return 4

    first = threading.Thread(
        target=recorder.mark, args=(SimpleNamespace(erasures=SimpleNamespace(mark=old_mark)),)
    )
    first.start()
    asked.wait(5)
    assert recorder.mark(SimpleNamespace(erasures=SimpleNamespace(mark=lambda: 5))) == 5
    answer.set()
    first.join(5)
    assert recorder.era() == (0, 5)


def test_a_mark_read_after_an_erasure_is_not_replaced_by_a_later_begun_older_read():
    """Of two requests re-reading the mark while another host's erasure commits, the one that
    began first may be answered after the commit and the other before it: the older mark, stored
    last, took this process back to before the erasure (their history kept for degraded answers
    again)."""
    import threading
    from types import SimpleNamespace

    ticks = iter(range(100))
    recorder = SlateRecorder(
        lambda: InMemoryUnitOfWork(InMemoryStore()), mark_seconds=0, clock=lambda: next(ticks)
    )
    asked, answer = threading.Event(), threading.Event()

    def old_mark() -> int:  # begun after the other read, answered before the erasure committed
        asked.set()
        answer.wait(5)
        return 4

    def new_mark() -> int:  # begun first, answered after the erasure committed
        later = threading.Thread(
            target=recorder.mark, args=(SimpleNamespace(erasures=SimpleNamespace(mark=old_mark)),)
        )
        later.start()
        asked.wait(5)
        threads.append(later)
        return 5

    threads: list[threading.Thread] = []
    assert recorder.mark(SimpleNamespace(erasures=SimpleNamespace(mark=new_mark))) == 5
    answer.set()
    threads[0].join(5)
    assert recorder.era() == (0, 5)
