"""Metrics read from the shared database when /metrics is scraped: what each trainer fitted and
ran, and the jobs queued or running. Trainers serve no metrics of their own, so this is how one
scrape of any web host tells the whole story; computed by the worker answering, never added up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from application.ports import Job, TrainerBeat
from application.trainer import STANDING_BY, STANDING_BY_BEFORE, STARTED

#: beats that end no fit cycle: a trainer standing by behind one stuck fitting beats at every
#: cycle, and passed for fitting while nothing was (a fit under way counts from when it began)
NO_CYCLE = (STARTED, STANDING_BY, STANDING_BY_BEFORE)

#: trainers reported at most, the latest seen first (as /admin/recommendations/models lists them)
TRAINERS_REPORTED = 20


def stored_exposition(trainers: Sequence[TrainerBeat], active: Sequence[Job]) -> bytes:
    """The Prometheus text of `trainers` (TrainerRepository.recent) and `active` jobs."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Stored(trainers, active))
    return generate_latest(registry)


class _Stored(Collector):
    def __init__(self, trainers: Sequence[TrainerBeat], active: Sequence[Job]) -> None:
        self.trainers, self.active = trainers, active

    def collect(self) -> Iterator[Metric]:
        seen = GaugeMetricFamily(
            "recsys_trainer_seen_timestamp_seconds",
            "When the trainer's latest fit cycle ended (Unix seconds)",
            labels=["worker"],
        )
        # per trainer process: counts since it started, so they only grow (a restart is a new
        # worker, like a restarted process's counters)
        fits = CounterMetricFamily(
            "recsys_trainer_fits",
            "Strategies fitted by the trainer, by outcome",
            labels=["worker", "strategy", "outcome"],
        )
        jobs = CounterMetricFamily(
            "recsys_trainer_jobs",
            "Jobs the trainer finished, by kind and outcome",
            labels=["worker", "kind", "outcome"],
        )
        fit_seconds = GaugeMetricFamily(
            "recsys_trainer_last_fit_duration_seconds",
            "Time the trainer's latest fit of a strategy took, labelled with its outcome",
            labels=["worker", "strategy", "outcome"],
        )
        publish_seconds = GaugeMetricFamily(
            "recsys_trainer_last_publish_duration_seconds",
            "Time the trainer took to publish its latest fit of a strategy, when that published",
            labels=["worker", "strategy"],
        )
        stats_days = CounterMetricFamily(
            "recsys_trainer_stats_days",
            "Closed days whose stats figures the trainer stored, or failed to store",
            labels=["worker", "outcome"],
        )
        lists_removed = CounterMetricFamily(
            "recsys_trainer_lists_removed",
            "Served lists the trainer removed past RS_LIST_RETENTION_DAYS",
            labels=["worker"],
        )
        for trainer in self.trainers:
            worker, tally = trainer.worker, trainer.tally
            for outcome in ("stored", "failed"):
                stats_days.add_metric([worker, outcome], tally.stats.get(outcome, 0))
            lists_removed.add_metric([worker], tally.stats.get("lists_removed", 0))
            if trainer.last_cycle not in NO_CYCLE:
                seen.add_metric([worker], trainer.seen_at.timestamp())
            for (strategy, outcome), count in sorted(tally.fits.items()):
                fits.add_metric([worker, strategy, outcome], count)
            for (kind, outcome), count in sorted(tally.jobs.items()):
                jobs.add_metric([worker, kind, outcome], count)
            for strategy, last in sorted(tally.last_fits.items()):
                fit_seconds.add_metric([worker, strategy, last.outcome], last.fit_seconds)
                if last.outcome == "published":
                    publish_seconds.add_metric([worker, strategy], last.publish_seconds)
        active = GaugeMetricFamily(
            "recsys_jobs_active", "Jobs queued or running now", labels=["kind", "status"]
        )
        for (kind, status), count in sorted(
            Counter((j.kind, j.status) for j in self.active).items()
        ):
            active.add_metric([kind, status], count)
        yield from (seen, fits, jobs, fit_seconds, publish_seconds, stats_days, lists_removed)
        yield active
