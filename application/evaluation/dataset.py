"""A dataset to evaluate on: a catalog, interactions and, for some datasets, their own test split."""

from __future__ import annotations

from dataclasses import dataclass

from domain.model import Course, Interaction


@dataclass(frozen=True)
class Dataset:
    name: str
    courses: list[Course]
    #: every interaction, or the training part when the dataset ships its own split
    interactions: list[Interaction]
    fixed_test: list[Interaction] | None = None


class DatasetError(Exception):
    """A dataset directory is missing files or holds rows that cannot be read."""
