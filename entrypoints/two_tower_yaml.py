"""The two-tower YAML's settings, typed: a bad value stops a command when it starts, not the
trainer at its next training (without torch: light commands read it too)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Positive = Field(None, ge=1)
#: at least 1 (a layer of no units, or of -1, fails only when the trainer builds the model)
Units = Annotated[int, Field(ge=1)]


class TwoTowerYaml(BaseModel):
    """Every key of adapters.two_tower's TowerConfig and TrainConfig (a test keeps them in step)."""

    # strict: YAML's `true` is no epoch count (pydantic would read it as 1); floats are still
    # taken where a float is expected, from an integer too
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    embedding_dim: int = Field(None, ge=1, le=4096)
    user_feature_dim: int = Field(None, ge=1, le=4096)
    item_feature_dim: int = Field(None, ge=1, le=4096)
    hidden_dims: list[Units] = Field(None, min_length=1)
    buckets: int = Positive
    user_buckets: int = Positive
    temperature: float = Field(None, gt=0)
    dropout: float = Field(None, ge=0, lt=1)
    recency_decay: float = Field(None, gt=0, le=1)
    members: int = Positive
    epochs: int = Positive
    batch_size: int = Positive
    learning_rate: float = Field(None, gt=0)
    weight_decay: float = Field(None, ge=0)
    input_dropout: float = Field(None, ge=0, lt=1)
    min_interactions_per_user: int = Positive
    validation_users: float = Field(None, gt=0, lt=1)
    objective: Literal["all", "next"] = Field(None)
    patience: int = Positive
    min_patience: int = Field(None, ge=0)
    seed: int = Field(None)
    threads: int = Field(None, ge=0)
    sampled_softmax_above: int = Positive
    negatives: int = Positive
    event_types: list[Literal["view", "click", "enroll", "complete"]] = Field(None, min_length=1)


#: what a setting's name looks like, and so is named when unknown (a misspelling)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


def checked(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with their values typed, or ValueError: "key=value: what is allowed", and
    "key: unknown setting" for a key it does not know, whose value is not shown (the file may be
    another one, a deployment's values with their secrets)."""
    try:
        model = TwoTowerYaml.model_validate(settings)
    except ValidationError as error:
        problems, odd = [], 0
        for item in error.errors():
            key = str(item["loc"][0]) if item["loc"] else ""
            if item["type"] != "extra_forbidden":
                problems.append(f"{key}={settings.get(key)!r}: {item['msg']}")
            elif NAME.fullmatch(key):
                problems.append(f"{key}: unknown setting")
            else:  # a whole line of a file that is no YAML of settings (a password hash...)
                odd += 1
        if odd:
            keys = "1 key that names" if odd == 1 else f"{odd} keys that name"
            problems.append(f"{keys} no setting (is this the two-tower YAML?)")
        raise ValueError("; ".join(problems)) from None
    return model.model_dump(include=set(settings))
