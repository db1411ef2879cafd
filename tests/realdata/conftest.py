"""The real datasets of ../shared/data: skipped outside CI when absent, required under CI=true."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import IN_CI

DATA_DIR = Path(
    os.environ.get("RS_DATA_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "data")
)


def dataset_dir(folder: str) -> Path:
    path = DATA_DIR / folder
    if not path.is_dir():
        if IN_CI:
            pytest.fail(f"{path} is missing; CI must evaluate on the real data")
        pytest.skip(
            f"{path} is missing (set RS_DATA_DIR to the folder holding ml-100k/ and cnpc-canvas-network/)"
        )
    return path


@pytest.fixture(scope="session")
def movielens_dir() -> Path:
    return dataset_dir("ml-100k")


@pytest.fixture(scope="session")
def cnpc_dir() -> Path:
    return dataset_dir("cnpc-canvas-network")
