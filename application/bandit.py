"""The bandit's state (arm statistics, kept in the artifact store) and the service that chooses arms."""

from __future__ import annotations

import json
import logging
import math
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from application.ports import ArtifactsDenied, ArtifactStore, CorruptArtifact, StorageUnavailable
from domain.model import ArmStats
from domain.ports import Bandit

log = logging.getLogger(__name__)
ARTIFACT = "bandit"
STATE_FILE = "bandit_state.json"


@dataclass
class BanditState:
    arms: dict[str, ArmStats] = field(default_factory=dict)
    #: slates served up to this moment have been counted
    counted_until: datetime | None = None

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "counted_until": self.counted_until.isoformat() if self.counted_until else None,
                "arms": {
                    name: {
                        "pulls": a.pulls,
                        "reward_sum": a.reward_sum,
                        "last_update": a.last_update.isoformat() if a.last_update else None,
                    }
                    for name, a in sorted(self.arms.items())
                },
            },
            indent=2,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> BanditState:
        """The state `to_json` wrote; ValueError for anything else, so that the version before it
        is read (a list, a null count or an infinite sum failed every request that chose)."""
        try:
            raw = json.loads(data)
        except RecursionError:  # nested deeper than the parser goes: no state either
            raise ValueError("not a bandit state: nested too deep") from None
        arms = raw.get("arms", {}) if isinstance(raw, dict) else None
        if not isinstance(arms, dict) or not all(isinstance(a, dict) for a in arms.values()):
            raise ValueError("not a bandit state: expected {'arms': {strategy: {...}}}")
        return cls(
            {name: _arm(name, a) for name, a in arms.items()}, _moment(raw.get("counted_until"))
        )


def _arm(name: str, arm: dict[str, Any]) -> ArmStats:
    pulls, rewards = arm.get("pulls"), arm.get("reward_sum")
    if not isinstance(pulls, int) or isinstance(pulls, bool) or pulls < 0:
        raise ValueError(f"arm {name}: pulls {pulls!r} is no count")
    if not isinstance(rewards, int | float) or isinstance(rewards, bool):
        raise ValueError(f"arm {name}: reward_sum {rewards!r} is no number")
    # an integer past any float: math.isfinite raised OverflowError on it, which no reader caught
    past_floats = isinstance(rewards, int) and abs(rewards) > sys.float_info.max
    if past_floats or not math.isfinite(rewards):
        raise ValueError(f"arm {name}: reward_sum {rewards!r} is no finite number")
    return ArmStats(pulls, float(rewards), _moment(arm.get("last_update")))


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    if not isinstance(value, str) or (moment := datetime.fromisoformat(value)).tzinfo is None:
        raise ValueError(f"{value!r} is no time with its offset")
    return moment


class BanditService:
    """Chooses the strategy for `strategy=auto`; reloads the state when a new version is published.

    Choosing reads the published pointer at most every `refresh_seconds` (0: on every choice), as
    web workers check the strategies' versions: on a shared volume (NFS) each read is a round
    trip to its server, and `strategy=auto` made one per request. An update published by this
    process is chosen by at once."""

    def __init__(
        self,
        policy: Bandit,
        store: ArtifactStore,
        arms: Sequence[str],
        seed: int | None = None,
        refresh_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.store = store
        self.arms = list(arms)
        self.rng = random.Random(seed)
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._checked_at: float | None = None  # when choosing last read the pointer
        self._version: str | None = None
        self._read = False  # no version (None) is read too: the pointer may be damaged
        self._state = BanditState()
        #: why no published version of the state could be read, while none can (None: one was)
        self.unreadable: str | None = None
        self._loading = threading.Lock()
        self._drawing = threading.Lock()  # random.Random is not safe to share between threads

    def state(self) -> BanditState:
        """The newest published state; if it cannot be read, the newest older version that can
        (a process that read none before would otherwise start from no statistics, and its next
        update publish them)."""
        return self.current()[1]

    def current(self) -> tuple[str | None, BanditState]:
        """The published version, and the state it (or the newest readable version before it)
        holds: what an update builds on, and publishes over only if still current."""
        version = self.store.current_version(ARTIFACT)
        if self._read and version == self._version:  # every request asks: no lock while unchanged
            return version, self._state
        with self._loading:
            if not self._read or version != self._version:
                self._state = self._readable(version)
                self._version, self._read = version, True
            return self._version, self._state

    def _readable(self, version: str | None) -> BanditState:
        """`version`'s state, or the newest readable one before it. A pointer that names no kept
        version (none published, a directory, NUL bytes, a name cut short) keeps the state this
        process read last, or else reads the newest readable of all: a damaged pointer must not
        start the arms from nothing, which the next update would publish."""
        kept = self.store.versions(ARTIFACT)
        if version in kept:
            candidates = [version, *[v for v in kept if v < version]]
        elif self._read and self._version in kept:  # names are publishers' clocks: keep ours
            return self._state
        else:
            candidates = kept
        self.unreadable = None
        if not candidates:
            return BanditState()
        for candidate in candidates:
            try:
                state = BanditState.from_json(
                    self.store.load(ARTIFACT, candidate).files[STATE_FILE]
                )
            except (CorruptArtifact, KeyError, ValueError) as error:
                log.error("bandit state %s rejected: %s", candidate, error)
                self.unreadable = self.unreadable or f"{candidate}: {error}"
                continue
            if candidate != version:
                log.warning("bandit state %s is used instead of %s", candidate, version)
            self.unreadable = None
            return state
        log.error("no bandit state is readable: the arms start from no statistics")
        self.unreadable = f"the published bandit state cannot be read ({self.unreadable})"
        return BanditState()

    def save(self, state: BanditState, based_on: str | None) -> str:
        """Publishes `state` if `based_on` is still the current version; else StaleBase (another
        update or a recount published meanwhile, and this one would undo it)."""
        version = self.store.publish(
            ARTIFACT, {STATE_FILE: state.to_json()}, {"policy": self.policy.name}, based_on=based_on
        )
        self._checked_at = None  # chosen by at once in this process
        return version

    def arms_among(self, available: Sequence[str]) -> list[str]:
        """The arms among `available` strategies (all of them if none is an arm)."""
        return [a for a in self.arms if a in available] or list(available)

    def choose(self, available: Sequence[str]) -> str:
        arms = self.arms_among(available)
        stats = self._choosing_state().arms
        with self._drawing:
            return self.policy.choose(arms, stats, self.rng)

    def _choosing_state(self) -> BanditState:
        """The state choices are made by: the one read last while it was read less than
        `refresh_seconds` ago, else state()."""
        checked = self._checked_at
        if self._read and checked is not None and self.clock() - checked < self.refresh_seconds:
            return self._state
        now = self.clock()
        state = self._state_or_last()
        self._checked_at = now
        return state

    def _state_or_last(self) -> BanditState:
        """state(), or while the database is unreachable (the artifact store being the database,
        RS_MODELS_STORE=database) the state read last: strategy=auto and the admin view answer
        from memory then, as they do from a folder."""
        try:
            return self.state()
        except StorageUnavailable:  # the outage is logged where it is met first
            return self._state
        except ArtifactsDenied as error:  # the admin view says what to grant
            self.unreadable = str(error)
            return self._state

    def _chances(self, available: Sequence[str], stats: dict[str, ArmStats]) -> dict[str, float]:
        arms = self.arms_among(available)
        if len(arms) < 2:  # no choice: served by the only one (strategy=auto credits nobody)
            return dict.fromkeys(arms, 1.0)
        return self.policy.probabilities(arms, stats)

    def describe(self, available: Sequence[str], newcomers: Sequence[str] = ()) -> dict[str, Any]:
        """The arms among `available` (ready) strategies; selection_probability is for a learner
        all of them can answer, new_learner_probability for one with no history, whom only
        `newcomers` can (strategy=auto chooses among those that can answer the learner)."""
        state = self._state_or_last()
        arms = self.arms_among(available)
        chance = self._chances(arms, state.arms)
        new = self._chances([a for a in arms if a in newcomers], state.arms)
        return {
            "policy": self.policy.name,
            "version": self._version,
            # else the arms below read as a bandit that has counted nothing yet
            **({"unreadable": self.unreadable} if self.unreadable else {}),
            "counted_until": state.counted_until.isoformat() if state.counted_until else None,
            "arms": [
                {
                    "strategy": arm,
                    "pulls": state.arms.get(arm, ArmStats()).pulls,
                    "reward_sum": round(state.arms.get(arm, ArmStats()).reward_sum, 6),
                    "mean_reward": round(state.arms.get(arm, ArmStats()).mean, 6),
                    "selection_probability": round(chance.get(arm, 0.0), 6),
                    "new_learner_probability": round(new.get(arm, 0.0), 6),
                    "last_update": (
                        lu.isoformat()
                        if (lu := state.arms.get(arm, ArmStats()).last_update)
                        else None
                    ),
                }
                for arm in arms
            ],
        }
