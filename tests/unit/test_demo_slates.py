"""The demo LMS tells a story: 30 days of served lists, strategies with different true CTRs."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from adapters.demo_data import demo_data
from adapters.demo_slates import TRUE_CTR, demo_slates
from entrypoints.schemas import STRATEGIES

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_served_lists_cover_thirty_days_and_earn_clicks_at_each_strategys_rate():
    data = demo_data(seed=3, learners=3000, now=NOW)
    served = demo_slates(data.courses, 3000, seed=3, now=NOW)
    days = {s.served_at.date() for s in served.slates}
    assert len(days) == 30 and all(
        NOW - timedelta(days=31) < s.served_at < NOW for s in served.slates
    )
    strategy = {s.recommendation_id: s.strategy for s in served.slates}
    shown = Counter(s.strategy for s in served.slates for _ in s.items)
    clicks = Counter(
        strategy[e.recommendation_id] for e in served.interactions if e.event_type.value == "click"
    )
    measured = {name: clicks[name] / shown[name] for name in TRUE_CTR}
    assert measured["hybrid"] > measured["item_cf"] > measured["popularity"]
    assert abs(measured["hybrid"] - TRUE_CTR["hybrid"]) < 0.02
    assert all(e.occurred_at <= NOW for e in served.interactions)


def test_the_bandit_sends_more_traffic_to_the_best_strategy_as_days_go_by():
    data = demo_data(seed=3, learners=600, now=NOW)
    served = demo_slates(data.courses, 600, seed=3, now=NOW)
    first = [s.strategy for s in served.slates if s.served_at < NOW - timedelta(days=20)]
    last = [s.strategy for s in served.slates if s.served_at > NOW - timedelta(days=7)]
    assert first.count("hybrid") / len(first) < last.count("hybrid") / len(last)


def test_demo_events_are_spread_in_time_not_piled_on_now():
    events = demo_data(seed=3, learners=500, now=NOW).interactions
    busiest = Counter(e.occurred_at for e in events).most_common(1)[0][1]
    assert busiest / len(events) < 0.01 and max(e.occurred_at for e in events) <= NOW


def test_activity_follows_the_hours_of_the_day():
    served = demo_slates(demo_data(seed=3, learners=600, now=NOW).courses, 600, seed=3, now=NOW)
    hours = Counter(s.served_at.hour for s in served.slates)
    assert hours[19] > 3 * hours[3]


def test_every_strategy_the_bandit_chooses_among_has_demo_lists():
    """Without them an arm starts the demo with no pulls, and UCB1 (or Thompson sampling's
    wide prior) sends every `auto` request to it until an update counts its first lists."""
    served = demo_slates(demo_data(seed=3, learners=600, now=NOW).courses, 600, seed=3, now=NOW)
    assert {s.strategy for s in served.slates} == set(STRATEGIES)
