"""UpdateBandit: credit each served slate's strategy with the reward of what the learner did.

Only slates the bandit chose count (strategy=auto with more than one strategy able to answer the
learner). A slate counts for the arm the bandit chose, with what it earned, also when that arm
found nothing and popularity filled the list: the bandit learns what each choice earns, fallback
included. Left out, an arm that answers nobody would keep UCB1's infinite bound and Thompson's
Beta(1, 1) and win every choice; credited to popularity, it would mix into popularity's mean the
learners the other arms could not serve. A slate counts once
its settling time has passed (so late clicks are not missed), and only once:
the state remembers up to when slates were counted, so re-running over the same window changes
nothing. That window ends by the database's clock, whichever host updates: an updater whose own
clock ran ahead ended it at slates not served yet, which, served meanwhile, were never counted.
A slate's reward is that of its strongest attributed event (0 when there was none).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from application.bandit import BanditService, BanditState
from application.ports import SlateOutcome, StaleBase, UnitOfWork
from domain.bandit import DEFAULT_REWARDS
from domain.model import ArmStats, EventType

#: the lists the bandit chose: explicit requests, the default strategy and strategy=auto with one
#: strategy able to answer (a new learner's popular courses) say nothing about its choices
BANDIT = "bandit"
#: before any slate was served
EVER = datetime(1970, 1, 1, tzinfo=UTC)
#: how far back an update reads at most (or --hours, if longer): lists left uncounted, their
#: events too few for --min-interactions, count with the next ones up to this age
REACH = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class UpdateResult:
    changed: bool
    message: str
    slates: int = 0
    events: int = 0
    version: str | None = None


class UpdateBandit:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        bandit: BanditService,
        rewards: Mapping[EventType, float] = DEFAULT_REWARDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.uow_factory = uow_factory
        self.bandit = bandit
        self.rewards = dict(rewards)
        #: this host's clock: only the arms' `last_update` (shown, compared with nothing)
        self.clock = clock

    def execute(
        self, hours: float = 24, min_interactions: int = 10, settle_minutes: float = 30
    ) -> UpdateResult:
        return _again_if_overtaken(lambda: self._update(hours, min_interactions, settle_minutes))

    def _update(self, hours: float, min_interactions: int, settle_minutes: float) -> UpdateResult:
        based_on, state = self.bandit.current()
        if self.bandit.unreadable:
            # counted on nothing, the arms would hold this window alone: every slate counted
            # before it would be gone from them for good; the slates are kept, so count them all
            unreadable = self.bandit.unreadable
            recounted = self._recount(settle_minutes)
            return replace(recounted, message=f"{unreadable}: {recounted.message}")
        with self.uow_factory() as uow:
            moment = uow.slates.now()
            until = moment - timedelta(minutes=settle_minutes)
            # where the last update stopped: slates left uncounted while their events were too
            # few for `min_interactions` must not age out of the next window; but at most REACH
            # back, or a deployment that no longer serves `auto` would read ever more each cycle
            after = moment - timedelta(hours=hours)
            if state.counted_until is not None:
                after = max(state.counted_until, moment - max(timedelta(hours=hours), REACH))
            if until <= after:
                return UpdateResult(
                    False, "no settled slates since the last update; nothing changed"
                )
            outcomes = uow.slates.outcomes(after, until, BANDIT)
        events = sum(o.events for o in outcomes)
        if events < min_interactions:
            return UpdateResult(
                False,
                f"{events} attributed interactions on {len(outcomes)} slates in the window, fewer than "
                f"{min_interactions}; nothing changed",
                len(outcomes),
                events,
            )
        arms = dict(state.arms)
        updated = self.clock()
        for arm, (pulls, reward) in self._tally(outcomes).items():
            arms[arm] = arms.get(arm, ArmStats()).add(pulls, reward, updated)
        version = self.bandit.save(replace(state, arms=arms, counted_until=until), based_on)
        return UpdateResult(
            True,
            f"credited {len(outcomes)} slates and {events} interactions",
            len(outcomes),
            events,
            version,
        )

    def recount(self, settle_minutes: float = 30) -> UpdateResult:
        """The arms counted afresh from every settled slate the bandit chose, whatever was counted
        before: after `recsys repair-credit --apply`, rewards of credit since cleared are gone."""
        return _again_if_overtaken(lambda: self._recount(settle_minutes))

    def _recount(self, settle_minutes: float) -> UpdateResult:
        based_on = self.bandit.current()[0]
        with self.uow_factory() as uow:
            until = uow.slates.now() - timedelta(minutes=settle_minutes)
            outcomes = uow.slates.outcomes(EVER, until, BANDIT)
        updated = self.clock()
        arms = {
            arm: ArmStats().add(pulls, reward, updated)
            for arm, (pulls, reward) in self._tally(outcomes).items()
        }
        events = sum(o.events for o in outcomes)
        version = self.bandit.save(BanditState(arms, counted_until=until), based_on)
        return UpdateResult(
            True,
            f"recounted the arms from {len(outcomes)} slates and {events} interactions",
            len(outcomes),
            events,
            version,
        )

    def _tally(self, outcomes: list[SlateOutcome]) -> dict[str, tuple[int, float]]:
        """Per arm: the slates the bandit chose it for, and the sum of their rewards."""
        pulls: dict[str, int] = defaultdict(int)
        rewards: dict[str, float] = defaultdict(float)
        for outcome in outcomes:
            chosen = outcome.fallback_from or outcome.strategy
            pulls[chosen] += 1
            rewards[chosen] += self.rewards[outcome.best_event] if outcome.best_event else 0.0
        return {arm: (pulls[arm], rewards[arm]) for arm in pulls}


def _again_if_overtaken(attempt: Callable[[], UpdateResult], tries: int = 3) -> UpdateResult:
    """Another host's update or recount published while this one counted: published over it,
    this one would undo it (a recount's cleared rewards back, an update's slates lost). Counted
    again on what it published instead."""
    for _ in range(tries):
        try:
            return attempt()
        except StaleBase:
            continue
    return UpdateResult(
        False, f"other hosts published the bandit meanwhile, {tries} times; nothing changed"
    )
