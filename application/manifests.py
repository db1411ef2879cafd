"""What a published version's manifest says of its model, as an operator reads it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from application.ports import LatestErasure

#: training figures that count something: integers (older versions saved them as 3.0)
COUNTS = ("epochs_run", "members")


def fitted_with(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the version's model was fitted with. Not the manifest's "settings": those
    are what the trainer asked for (none when it used the defaults), which it compares to decide
    what is stale. "model" is what the fit used (item_cf's λ chosen by its own search included);
    two_tower records its objective and ensemble size with its training and tower."""
    if "model" in manifest:
        recorded = manifest["model"]
    elif isinstance(manifest.get("tower"), Mapping):
        training = manifest.get("training")
        recorded = {
            "objective": training.get("objective", "all")
            if isinstance(training, Mapping)
            else "all",
            "members": manifest["tower"].get("members", 1),
        }
    else:
        recorded = manifest.get("settings")
    if not isinstance(recorded, Mapping):  # none, or a manifest (no checksum) edited by hand
        return {}
    return {key: value for key, value in recorded.items() if value is not None}


def model_of(manifest: Mapping[str, Any]) -> tuple[Any, Any]:
    """What tells the model a version holds: when its data was read, and its settings. The
    trainer fits a strategy twice from one read when a tuning changes its settings (two models,
    one trained_at); a reindex or a rollback's copy keeps both."""
    return manifest.get("trained_at") or manifest.get("created_at"), manifest.get("settings")


def training_figures(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The validation figures the version recorded (two_tower's), counts as integers. Early
    stopping ends each ensemble member on its own: `epochs_run` is the most any member ran (at
    most the configured epochs) and `member_epochs` each one's; older versions summed
    them into epochs_run. The manifest is no checksummed file: a figure a person rewrote into
    something else is left out, and the rest shown."""
    metrics = manifest.get("metrics")
    figures = dict(metrics) if isinstance(metrics, Mapping) else {}
    each = manifest.get("member_epochs")
    if each and isinstance(each, list) and all(_number(epochs) for epochs in each):
        figures["member_epochs"] = [int(epochs) for epochs in each]
        figures["epochs_run"] = max(figures["member_epochs"])
    for count in COUNTS:
        if count in figures and not _number(figures[count]):
            del figures[count]  # text, or 1e400: JSON's infinity, which no int() takes
        elif isinstance(figures.get(count), float):
            figures[count] = int(figures[count])
    return figures


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fitted_before(erasure: LatestErasure | None, trained_at: str | None, mark: Any) -> bool:
    """Whether a model fitted on data read at `trained_at`, with the erasure mark `mark` (its
    manifest's "erasure_mark"), predates `erasure`, and so still holds that learner. Told by the
    marks, which follow the erasures' commit order whatever each host's clock says; a mark above
    the newest was read before the erasures were emptied (a reset), and predates them all.
    Versions published before marks were recorded are told by time, as they were."""
    if erasure is None:
        return False
    if isinstance(mark, int):
        return mark < erasure.mark or mark > erasure.newest
    return trained_at is None or datetime.fromisoformat(trained_at) < erasure.at
