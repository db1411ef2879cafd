"""What a published version's manifest says of its model, as an operator reads it."""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
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


def version_name(now: datetime, kept: list[str]) -> str:
    """A version name: the time, but after every kept version's. Names order versions (pruning,
    rollback, a worker's fallbacks), and a publisher whose clock is behind another host's, or
    stepped back, would otherwise name its version older than the one it replaces, which the
    prune then removes at once while workers may still be loading it."""
    stamp = now
    for name in kept:  # newest first
        try:
            latest = datetime.strptime(name[:21], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
        except ValueError:
            continue  # not a name a publish gave
        stamp = max(now, latest + timedelta(microseconds=1))
        break
    return f"{stamp:%Y%m%dT%H%M%S}{stamp.microsecond:06d}Z-{uuid.uuid4().hex[:6]}"


def pruned(
    versions: list[str],
    manifest_of: Callable[[str], Mapping[str, Any] | None],
    current: str,
    replaced: str | None,
    keep: int,
) -> list[str]:
    """The versions (newest first) a publish of `current` removes: it keeps the newest version of
    each of the newest `keep` models (a reindex or a rollback's copy holds a model kept already,
    and pushes no other out; a damaged version, whose manifest_of is None, holds none: a whole
    older copy of its model is kept, and it is removed once older than every version kept), and
    whatever their model the version answering now, the one it replaced (a web worker that has
    just read `current` may be loading it) and the version it restores (workers fall back to
    it)."""
    restores = (manifest_of(current) or {}).get("restores")
    kept = {current, replaced, restores} - {None}
    models: list[Any] = []
    damaged = set()
    for version in versions:
        manifest = manifest_of(version)
        if manifest is None:  # no rollback can restore it: it stands for no model
            damaged.add(version)
            continue
        model = model_of(manifest)
        if model[0] is None:  # a model of its own
            model = (version, None)
        if model not in models:
            models.append(model)
            if len(models) <= keep:
                kept.add(version)
    oldest_kept = min(kept)
    # a damaged version newer than one kept is left (a read that failed once, on a network
    # disk say, is no proof), and goes once older than all of them
    return [
        old for old in versions if old not in kept and not (old in damaged and old > oldest_kept)
    ]


def described(
    manifest: Mapping[str, Any], name: str, version: str, now: datetime, files: Mapping[str, bytes]
) -> dict[str, Any]:
    """What a store keeps as a version's manifest: the publisher's, its name and version, when it
    was published, and each file's size and SHA-256 (checked at every load)."""
    return {
        **manifest,
        "name": name,
        "version": version,
        "created_at": now.isoformat(),
        "files": {
            filename: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for filename, data in files.items()
        },
    }
