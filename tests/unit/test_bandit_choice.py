"""strategy=auto chooses among the strategies that can answer the learner, and learns from its
fallbacks (use cases on the in-memory adapters)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.fs_artifacts import FilesystemArtifactStore
from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender
from adapters.tfidf import ContentRecommender
from application.bandit import BanditService, BanditState
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.recommend_home import RecommendHome, RecommendHomeQuery
from application.use_cases.update_bandit import UpdateBandit
from application.use_cases.upsert_courses import UpsertCourses
from domain.bandit import make_policy
from domain.model import ArmStats, UserId
from tests.conftest import CATALOG, NOW, event
from tests.unit.test_use_cases import serving

ARMS = ["item_cf", "content", "popularity"]


@pytest.fixture
def auto(tmp_path):  # type: ignore[no-untyped-def]
    """A worker serving item_cf, content and popularity with strategy=auto under `policy`, and
    an update of the bandit; u1 took a course nobody took with another, so item_cf, though it
    knows the course, finds nothing for u1 and falls back to popularity every time."""
    store = InMemoryStore()

    def uow():  # type: ignore[no-untyped-def]
        return InMemoryUnitOfWork(store)

    UpsertCourses(uow).execute(CATALOG)
    LogInteractions(uow).execute(
        [
            event("u1", "course_python_basic", "complete", 1),
            event("u2", "course_sql_basic", "enroll", 2),
            event("u3", "course_ml_basic", "enroll", 3),
        ]
    )
    registry = serving(
        uow,
        {
            "popularity": lambda: PopularityRecommender(None),
            "content": ContentRecommender,
            "item_cf": lambda: ItemCFRecommender(regularization=10.0),
        },
        tmp_path / "models",
    )

    def clock():  # type: ignore[no-untyped-def]
        # the store's clock ends the bandit's window of settled slates: lists served by it
        return datetime.now(UTC)

    def build(policy: str):  # type: ignore[no-untyped-def]
        bandit = BanditService(
            make_policy(policy), FilesystemArtifactStore(tmp_path / "bandit"), ARMS, seed=0
        )
        home = RecommendHome(uow, registry, clock=clock, bandit=bandit)
        return home, UpdateBandit(uow, bandit, clock=clock), bandit

    return uow, build


def _serve_click_and_update(uow, home, update, user: str, n: int):  # type: ignore[no-untyped-def]
    """`n` auto lists for `user`, one at a time, each clicked and counted by an update before
    the next is served."""
    slates = []
    for _ in range(n):
        slate = home.execute(RecommendHomeQuery(UserId(user), k=3, strategy="auto")).slate
        moment = (slate.served_at - NOW).total_seconds() / 60
        LogInteractions(uow).execute(
            [
                event(
                    user,
                    slate.items[0].course_id,
                    "click",
                    moment + 0.5,
                    recommendation_id=slate.recommendation_id,
                )
            ]
        )
        update.execute(hours=10_000, min_interactions=0, settle_minutes=0)
        slates.append(slate)
    return slates


@pytest.mark.parametrize("policy", ["ucb1", "thompson"])
def test_an_arm_that_always_falls_back_for_a_learner_is_not_chosen_forever(auto, policy):
    """Each list is clicked, whichever arm was chosen: the arm that falls back earns what
    popularity's lists earn, so it is chosen about as often as the others, not every time."""
    uow, build = auto
    home, update, bandit = build(policy)
    slates = _serve_click_and_update(uow, home, update, "u1", 40)
    fell_back = [s for s in slates if s.fallback_from == "item_cf"]
    assert fell_back, "item_cf was never tried"
    assert len(fell_back) <= 25  # UCB1's +inf and Thompson's Beta(1, 1) picked it 40 times
    assert {s.strategy for s in slates} == {"content", "popularity"}
    arms = bandit.state().arms
    # the choice is credited with what it earned, the fallback's click included
    assert arms["item_cf"].pulls == len(fell_back)
    assert arms["item_cf"].reward_sum == pytest.approx(0.3 * len(fell_back))
    own = sum(s.strategy == "popularity" and s.fallback_from is None for s in slates)
    assert arms["popularity"].pulls == own
    assert sum(a.pulls for a in arms.values()) == len(slates)


@pytest.mark.parametrize("policy", ["epsilon_greedy", "ucb1", "thompson"])
def test_a_new_learner_gets_popular_courses_with_no_choice_that_teaches_the_bandit_nothing(
    auto, policy
):
    uow, build = auto
    home, update, bandit = build(policy)
    slates = [
        _serve_click_and_update(uow, home, update, f"newcomer{n}", 1)[0] for n in range(5)
    ]  # each clicks their list, and is new no more
    assert all(s.strategy == "popularity" and s.fallback_from is None for s in slates)
    assert all(s.selected_by == "no_choice" for s in slates)
    assert bandit.state().arms == {}
    shown = bandit.describe(ARMS, ["popularity"])["arms"]
    assert {a["strategy"]: a["new_learner_probability"] for a in shown} == {
        "item_cf": 0.0,
        "content": 0.0,
        "popularity": 1.0,
    }
    assert sum(a["selection_probability"] for a in shown) == pytest.approx(1.0, abs=1e-5)


class _CountingStore(FilesystemArtifactStore):
    """The shared models volume, counting how often the bandit's pointer is read from it."""

    reads = 0

    def current_version(self, name: str) -> str | None:
        if name == "bandit":
            self.reads += 1
        return super().current_version(name)


def _favouring(arm: str) -> BanditState:
    return BanditState({a: ArmStats(10, 9.0 if a == arm else 1.0) for a in ARMS})


def test_auto_reads_the_shared_bandit_state_every_refresh_seconds_not_on_every_request(tmp_path):
    """A web worker's strategy=auto follows an update published by another host within
    refresh_seconds, as it does the strategies' versions, without a read of the shared volume
    (an NFS round trip) per request; its own process's update it follows at once."""
    now = [0.0]
    store = _CountingStore(tmp_path)
    worker = BanditService(
        make_policy("epsilon_greedy", epsilon=0.0),
        store,
        ARMS,
        seed=0,
        refresh_seconds=30.0,
        clock=lambda: now[0],
    )
    other_host = BanditService(
        make_policy("epsilon_greedy"), FilesystemArtifactStore(tmp_path), ARMS
    )
    other_host.save(_favouring("content"), other_host.current()[0])

    assert {worker.choose(ARMS) for _ in range(100)} == {"content"}
    assert store.reads == 1

    other_host.save(_favouring("item_cf"), other_host.current()[0])
    now[0] = 29.0
    assert worker.choose(ARMS) == "content"  # within refresh_seconds: as read last
    now[0] = 30.0
    assert {worker.choose(ARMS) for _ in range(100)} == {"item_cf"}
    assert store.reads == 2

    worker.save(_favouring("popularity"), worker.current()[0])
    assert worker.choose(ARMS) == "popularity"


@pytest.mark.parametrize(
    "published",
    [
        b"[]",
        b'{"arms": []}',
        b'{"arms": {"content": []}}',
        b'{"arms": {"content": {"pulls": null, "reward_sum": 1}}}',
        b'{"arms": {"content": {"pulls": 1e400, "reward_sum": 1}}}',
        b'{"arms": {"content": {"pulls": 3, "reward_sum": 1, "last_update": 5}}}',
        b'{"arms": {"content": {"pulls": -3, "reward_sum": 1}}}',
        b'{"arms": {"content": {"pulls": 3, "reward_sum": NaN}}}',
        # an integer no float holds: math.isfinite raised OverflowError, which no reader caught
        b'{"arms": {"content": {"pulls": 3, "reward_sum": 1' + b"0" * 400 + b"}}}",
        # nested past the parser's recursion limit: RecursionError, which no reader caught
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_a_published_state_of_the_wrong_shape_is_passed_over_for_the_one_before(
    tmp_path, published
):
    """Whole on disk (its checksum holds) but not a state this version reads: every
    strategy=auto request, the bandit's admin view and the dashboard were a 500 until the next
    update, as a state cut short is not."""
    store = FilesystemArtifactStore(tmp_path)
    trainer = BanditService(make_policy("epsilon_greedy"), store, ARMS)
    trainer.save(_favouring("content"), trainer.current()[0])
    store.publish("bandit", {"bandit_state.json": published}, {})
    worker = BanditService(make_policy("epsilon_greedy", epsilon=0.0), store, ARMS, seed=0)
    assert {worker.choose(ARMS) for _ in range(20)} == {"content"}
    assert worker.state() == _favouring("content")
