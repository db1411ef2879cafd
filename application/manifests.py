"""What a published version's manifest says of its model, as an operator reads it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: training figures that count something: shown as integers (JSON numbers were saved as 3.0)
COUNTS = ("epochs_run", "members")


def training_figures(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The validation figures the version recorded (two_tower's), counts as integers. Early
    stopping ends each ensemble member on its own: `epochs_run` is the most any member ran (at
    most the configured epochs) and `member_epochs` each one's; older versions summed
    them into epochs_run."""
    figures = dict(manifest.get("metrics") or {})
    each = manifest.get("member_epochs")
    if each:
        figures["member_epochs"] = [int(epochs) for epochs in each]
        figures["epochs_run"] = max(figures["member_epochs"])
    for count in COUNTS:
        if isinstance(figures.get(count), float):
            figures[count] = int(figures[count])
    return figures
