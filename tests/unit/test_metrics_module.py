"""The functions the trainer and the views call record what they say, in one exposition."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from entrypoints import metrics


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_fit_is_timed_even_when_it_fails():
    before = value("recsys_fit_duration_seconds_count", strategy="unit_fit")
    with pytest.raises(RuntimeError), metrics.timed_fit("unit_fit"):
        raise RuntimeError("boom")
    assert value("recsys_fit_duration_seconds_count", strategy="unit_fit") == before + 1


def test_the_live_version_is_its_creation_time():
    metrics.live_version("unit_tower", "20261128T203912500000Z-ab12cd")
    assert value("recsys_live_model_version_timestamp_seconds", strategy="unit_tower") == (
        pytest.approx(1795898352.5)
    )


def test_a_fallback_is_counted_with_the_list_it_served():
    before = value(
        "recsys_recommendation_fallbacks_total", requested="two_tower", served="popularity"
    )
    metrics.served("home", "popularity", "two_tower")
    assert (
        value("recsys_recommendation_fallbacks_total", requested="two_tower", served="popularity")
        == before + 1
    )


def test_job_outcomes_and_publish_durations_reach_the_exposition():
    metrics.job_finished("unit_reindex", "failed")
    metrics.publish_finished("unit_tower", 0.2)
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    assert b'recsys_jobs_total{kind="unit_reindex",outcome="failed"}' in body
    assert b'recsys_publish_duration_seconds_count{strategy="unit_tower"}' in body


def test_every_finished_job_is_counted_by_kind_and_outcome():
    from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
    from application.use_cases.jobs import RunJobs, SubmitJob
    from entrypoints.container import job_finished

    store = InMemoryStore()
    uow = lambda: InMemoryUnitOfWork(store)  # noqa: E731
    before = value("recsys_jobs_total", kind="reindex", outcome="failed")
    SubmitJob(uow, ("reindex",)).execute("reindex")

    def broken():  # type: ignore[no-untyped-def]
        raise OSError("the index could not be written")

    job = RunJobs(uow, {"reindex": broken}, "w", on_finished=job_finished).run_one()
    assert job is not None and job.status == "failed"
    assert value("recsys_jobs_total", kind="reindex", outcome="failed") == before + 1
