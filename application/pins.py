"""Settings a trainer pins, compared with another trainer's: trainers that pin a setting
otherwise each find the other's version fitted with settings they do not want, and refit it at
every cycle (FitStrategies.plan), so each trainer says so, naming the other and what differs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Pins = Mapping[str, Mapping[str, Any]]


def normalised(pins: Pins | None) -> dict[str, dict[str, Any]]:
    """The strategies with at least one pin, as they read back from JSON (a tuple is a list)."""
    kept = {name: dict(values) for name, values in (pins or {}).items() if values}
    return json.loads(json.dumps(kept))  # type: ignore[no-any-return]


def apart(ours: Pins, theirs: Pins) -> list[str]:
    """Each setting pinned differently, "strategy setting: X here, Y there", in name order."""
    ours, theirs = normalised(ours), normalised(theirs)
    said = []
    for name in sorted({*ours, *theirs}):
        mine, other = ours.get(name, {}), theirs.get(name, {})
        for setting in sorted({*mine, *other}):
            if mine.get(setting, _NONE) != other.get(setting, _NONE):
                said.append(
                    f"{name} {setting}: {_value(mine, setting)} here, {_value(other, setting)} "
                    "there"
                )
    return said


def said(pins: Pins | None) -> str:
    """A trainer's pins in a line ("item_cf regularization: 100.0; ..."), "none", or "not said"
    (a trainer of a release before 2026-12-01)."""
    if pins is None:
        return "not said"
    kept = normalised(pins)
    return (
        "; ".join(
            f"{name} {setting}: {_value(values, setting)}"
            for name, values in sorted(kept.items())
            for setting in sorted(values)
        )
        or "none"
    )


_NONE = object()


def _value(pins: Mapping[str, Any], setting: str) -> str:
    if setting not in pins:
        return "not pinned"
    return json.dumps(pins[setting], sort_keys=True, separators=(", ", ": "))
