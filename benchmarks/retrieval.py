"""Single-query latency and recall@10 of FAISS index settings on two-tower-shaped course vectors.

    nice -n 10 .venv/bin/python -m benchmarks.retrieval [--sizes 100000 1000000] [--queries 300]

Vectors are shaped like the shipped two_tower artifact's: configs/two_tower.yaml has three members
of 128 dimensions, each member's unit vector concatenated and scaled by 1/sqrt(3), so 384
dimensions of unit length. They are clustered like trained embeddings: a 32-dimensional latent
taste (20 categories -> subjects of about 30 courses -> courses, Gaussian offsets at each level)
goes through each member's own random two-layer map (tanh), plus a little noise, then normalised.
Queries are learner vectors made the same way from the mean of 1-5 courses' latents. Recall@10 is
against exact inner-product search; latency is one query at a time on one thread, through the
service's FaissIndex for the settings it chooses, through raw FAISS for the sweep.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import faiss
import numpy as np

from adapters.faiss_index import FaissIndex
from domain.model import CourseId

K = 10
LATENT, MEMBERS, MEMBER_DIM = 32, 3, 128


def _members(latent: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)  # the same maps for courses and learners
    parts = []
    for _ in range(MEMBERS):
        first = rng.normal(size=(LATENT, 256)).astype(np.float32) / LATENT**0.5
        second = rng.normal(size=(256, MEMBER_DIM)).astype(np.float32) / 16
        part = np.tanh(latent @ first) @ second
        part += np.random.default_rng(len(parts)).normal(0, 0.02, part.shape).astype(np.float32)
        parts.append(part / np.linalg.norm(part, axis=1, keepdims=True))
    return np.hstack(parts) / MEMBERS**0.5


def course_latents(n: int, rng: np.random.Generator) -> np.ndarray:
    categories = rng.normal(0, 1.0, (20, LATENT))
    subjects = categories[rng.integers(0, 20, max(1, n // 30))]
    subjects += rng.normal(0, 0.5, subjects.shape)
    return (subjects[rng.integers(0, len(subjects), n)] + rng.normal(0, 0.25, (n, LATENT))).astype(
        np.float32
    )


def vectors(latent: np.ndarray, chunk: int = 100_000) -> np.ndarray:
    return np.vstack([_members(latent[i : i + chunk], 1) for i in range(0, len(latent), chunk)])


def learner_latents(courses: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    picks = [courses[rng.integers(0, len(courses), rng.integers(1, 6))].mean(0) for _ in range(n)]
    return np.asarray(picks, dtype=np.float32)


def exact_top(matrix: np.ndarray, queries: np.ndarray) -> np.ndarray:
    index = faiss.IndexFlatIP(matrix.shape[1])
    index.add(matrix)
    return index.search(queries, K)[1]


def timed(search, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:  # type: ignore[no-untyped-def]
    """Results, then p50/p99 of wall-clock and of CPU milliseconds per query: on a shared machine
    the wall clock's tail is mostly waiting for a core (other processes' time slices)."""
    found, wall, cpu = [], [], []
    for query in queries:
        started, spent = time.perf_counter(), time.thread_time()
        found.append(search(query))
        wall.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - spent)
    stats = [float(np.percentile(np.asarray(t) * 1e3, p)) for t in (wall, cpu) for p in (50, 99)]
    return np.asarray(found), stats


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def sweep(matrix: np.ndarray, queries: np.ndarray, truth: np.ndarray, specs: list[str]) -> None:
    """Raw FAISS: one build per factory string (HNSW may add ":efC=N"), then fixed search-time
    knobs and the last one at several values ("IVF4096_HNSW32,Flat@quantizer_efSearch=128@nprobe=64,128")."""
    for spec in specs:
        built, *knobs = spec.split("@")
        factory, _, construction = built.partition(":efC=")
        name, values = knobs[-1].split("=")
        faiss.omp_set_num_threads(2)
        started = time.perf_counter()
        index = faiss.index_factory(matrix.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
        if construction:
            faiss.downcast_index(index).hnsw.efConstruction = int(construction)
        if not index.is_trained:
            sample = matrix[np.random.default_rng(0).permutation(len(matrix))[: 64 * 1024]]
            index.train(sample)
        index.add(matrix)
        build = time.perf_counter() - started
        memory = len(faiss.serialize_index(index)) / 2**20
        faiss.omp_set_num_threads(1)
        params = faiss.ParameterSpace()
        for fixed in knobs[:-1]:  # e.g. quantizer_efSearch=128 before the swept nprobe
            params.set_index_parameter(index, fixed.split("=")[0], int(fixed.split("=")[1]))
        for value in values.split(","):
            params.set_index_parameter(index, name, int(value))
            found, times = timed(_raw_search(index), queries)
            label = " ".join([built, *knobs[:-1], f"{name}={value}"])
            row(len(matrix), label, build, memory, recall(found, truth), times)


def _numpy_search(matrix: np.ndarray):  # type: ignore[no-untyped-def]
    return lambda query: np.argpartition(-(matrix @ query), K)[:K]


def _raw_search(index: faiss.Index):  # type: ignore[no-untyped-def]
    return lambda query: index.search(query.reshape(1, -1), K)[1][0]


def row(n: int, label: str, build: float, mb: float, rec: float, times: list[float]) -> None:
    ms = "  ".join(f"{t:>7.3f}" for t in times)
    print(f"{n:>9,}  {label:<34} {build:>8.1f}  {mb:>8.0f}  {rec:>9.3f}  {ms}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--sweep",
        nargs="*",
        default=[
            "HNSW32@efSearch=128,512",
            "HNSW32:efC=200@efSearch=64,128,256",
            "IVF1024,Flat@nprobe=8,16,32",
            "IVF4096,Flat@nprobe=16,32,64",
        ],
        help="FAISS factory strings, each with @knob=v1,v2,... (empty: only the service's index)",
    )
    parser.add_argument("--service", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(
        f"faiss {faiss.__version__}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        "build on 2 threads, search on 1"
    )
    print(
        f"{'courses':>9}  {'index':<34} {'build s':>8}  {'MB':>8}  {'recall@10':>9}  {'p50 ms':>7}  "
        f"{'p99 ms':>7}  {'cpu p50':>7}  {'cpu p99':>7}"
    )
    for n in args.sizes:
        latent = course_latents(n, rng)
        matrix = vectors(latent)
        queries = vectors(learner_latents(latent, args.queries, rng))
        truth = exact_top(matrix, queries)
        faiss.omp_set_num_threads(1)
        _, times = timed(_numpy_search(matrix), queries[:50])
        row(n, "numpy exact (50 queries)", 0.0, matrix.nbytes / 2**20, 1.0, times)

        if args.service:
            service_row(matrix, queries, truth)
        sweep(matrix, queries, truth, args.sweep)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(
        f"peak RSS {peak:,.0f} MB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


def service_row(matrix: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> None:
    """The index the service builds for this many courses, searched through its adapter."""
    service = FaissIndex()
    faiss.omp_set_num_threads(2)
    started = time.perf_counter()
    service.build([CourseId(str(i)) for i in range(len(matrix))], matrix)
    build = time.perf_counter() - started
    faiss.omp_set_num_threads(1)
    found, times = timed(lambda q: [int(c) for c, _ in service.search(q, K)], queries)
    mb = len(service.to_bytes()) / 2**20
    row(len(matrix), f"service: {service.kind}", build, mb, recall(found, truth), times)


if __name__ == "__main__":
    main()
