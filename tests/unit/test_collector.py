"""The trainer lists every event with the garbage collector paused, and always turns it back on:
a process left without it would keep every reference cycle it makes afterwards."""

from __future__ import annotations

import gc

import pytest

from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from application.collector import collector_paused
from application.use_cases.fit_strategies import FitStrategies
from tests.conftest import CATALOG, event


def test_the_collector_is_paused_for_the_block_and_on_again_after_whatever_happens():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("the database went away mid-read")
    assert gc.isenabled()
    gc.disable()  # a caller that had it off keeps it off
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_fit_reads_the_events_with_the_collector_paused_and_leaves_it_on(tmp_path):
    from adapters.fs_artifacts import FilesystemArtifactStore
    from adapters.popularity import PopularityRecommender
    from application.use_cases.log_interactions import LogInteractions
    from application.use_cases.upsert_courses import UpsertCourses

    memory = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(memory)  # noqa: E731
    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute([event("u1", CATALOG[0].course_id, "enroll")])
    seen: list[bool] = []

    class Watched(InMemoryUnitOfWork):
        def __enter__(self):  # type: ignore[no-untyped-def]
            unit = super().__enter__()
            stream = unit.interactions.stream

            def streamed(*args, **kwargs):  # type: ignore[no-untyped-def]
                seen.append(gc.isenabled())
                yield from stream(*args, **kwargs)

            unit.interactions.stream = streamed
            return unit

    store = FilesystemArtifactStore(tmp_path)
    FitStrategies(lambda: Watched(memory), {"popularity": PopularityRecommender}, store).execute()
    assert seen == [False] and gc.isenabled()
    assert store.current_version("popularity") is not None
