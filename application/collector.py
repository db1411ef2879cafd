"""Python's cyclic garbage collector, paused while a trainer lists every event."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off for the block, then as it was, whatever happens. Listing millions of
    events makes millions of objects, and every few hundred thousand the collector walks all
    those still alive, the events listed so far included: a fifth to a third of the read
    (docs/benchmarks.md). Events hold no cycles, so nothing waits for it; only a trainer reads
    this way (web workers load models, never every event)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
