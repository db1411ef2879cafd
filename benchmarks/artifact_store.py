"""Publishing and loading a model version in a folder (RS_MODELS_STORE=folder) against the
database (RS_MODELS_STORE=database), alternated in one process: a publish, a web worker's load
of the whole version, the trainer's verify of a version it has checked before, and a web
worker's check for new versions (the current version of each of 7 names, every
RS_REFRESH_SECONDS).

    .venv/bin/python -m benchmarks.artifact_store [--megabytes 60] [--runs 5]
        [--url postgresql+psycopg://postgres@127.0.0.1:5432/recsys_bench]

The version holds three files of random bytes of a third of --megabytes each (weights and
embeddings barely compress) and two small ones (ids, a manifest's worth of JSON), about what a
two_tower version of 100,000 learners and 10,000 courses weighs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from adapters.fs_artifacts import FilesystemArtifactStore
from adapters.sqlalchemy.artifacts import DatabaseArtifactStore
from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.reset import delete_everything
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.ports import ArtifactStore

NAMES = ("popularity", "content", "item_cf", "sequence", "two_tower", "tuning", "bandit")


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def rounds(store: ArtifactStore, files: dict[str, bytes]) -> dict[str, float]:
    version = store.publish("two_tower", files, {"trained_at": "2026-12-01T00:00:00"})
    publish = timed(lambda: store.publish("two_tower", files, {}))
    version = store.current_version("two_tower") or version
    load = timed(lambda: store.load("two_tower", version))
    store.verify("two_tower", version)
    verify = timed(lambda: store.verify("two_tower", version))
    check = timed(lambda: [store.current_version(name) for name in NAMES])
    return {"publish": publish, "load": load, "verify again": verify, "check": check}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/recsys_bench"
    )
    args = parser.parse_args()
    upgrade(args.url)
    engine = build_engine(args.url, timeout=30)
    with SqlAlchemyUnitOfWork(engine) as uow:
        delete_everything(uow.connection)
        uow.commit()
    third = args.megabytes * (1 << 20) // 3
    files = {
        "weights.pt": os.urandom(third),
        "item_embeddings.npy": os.urandom(third),
        "user_embeddings.npy": os.urandom(third),
        "ids.json": b'["course_%05d"]' * 10_000,
        "settings.json": b'{"members": 3}',
    }
    with tempfile.TemporaryDirectory() as folder:
        stores: dict[str, ArtifactStore] = {
            "folder": FilesystemArtifactStore(folder),
            "database": DatabaseArtifactStore(engine),
        }
        seen: dict[str, list[dict[str, float]]] = {kind: [] for kind in stores}
        for _ in range(args.runs):
            for kind, store in stores.items():
                seen[kind].append(rounds(store, files))
    print(f"{args.megabytes} MB a version, median of {args.runs}, {engine.dialect.name}")
    print(f"{'':14} {'folder ms':>10} {'database ms':>12} {'ratio':>7}")
    for step in seen["folder"][0]:
        folder_ms, database_ms = (
            statistics.median(r[step] for r in seen[kind]) * 1000 for kind in stores
        )
        print(f"{step:14} {folder_ms:10.1f} {database_ms:12.1f} {database_ms / folder_ms:6.1f}x")
    engine.dispose()


if __name__ == "__main__":
    main()
