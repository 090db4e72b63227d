"""What the tests share: buffers from bytes and back, what a cache holds, and (from the
conformance kit) the bytes a read should return and whether a cache is idle."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

from hypothesis.stateful import RuleBasedStateMachine, rule
from zarr.core.buffer import Buffer, default_buffer_prototype

from zarr_cachestore import CacheStore
from zarr_cachestore.attach import release
from zarr_cachestore.ledger import Entry
from zarr_cachestore.testing import examples
from zarr_cachestore.testing.store import (
    REQUESTS,
    FakeClock,
    assert_idle,
    expected_bytes,
    held_by,
)
from zarr_cachestore.tiers import MemoryTier

__all__ = [
    "PROTO",
    "REQUESTS",
    "FakeClock",
    "TasksMachine",
    "assert_idle",
    "buf",
    "copied_elsewhere",
    "examples",
    "expected_bytes",
    "held_by",
    "memory_bytes_held",
    "raw",
    "whole_entries",
]

PROTO = default_buffer_prototype()


def buf(data: bytes) -> Buffer:
    return PROTO.buffer.from_bytes(data)


def raw(value: Buffer | None) -> bytes | None:
    return None if value is None else value.to_bytes()


def copied_elsewhere(cache: CacheStore) -> CacheStore:
    """``cache`` pickled and unpickled as in another process, where no copy of it lives yet."""
    data = pickle.dumps(cache)
    release(cache._config.identity)
    copy = pickle.loads(data)
    assert isinstance(copy, CacheStore)
    return copy


def memory_bytes_held(cache: CacheStore) -> int:
    """The bytes really held by the dict tier, the range cache and the ledger (values that
    are their own records) of ``cache``."""
    engine = cache._engine
    assert isinstance(engine.tier, MemoryTier)
    whole = sum(len(value) for value in engine.tier._values.values())
    inline = sum(len(r) for r in engine.ledger.entries() if not isinstance(r, Entry))
    return whole + inline + sum(len(value) for value in engine.range_cache._data.values())


def whole_entries(cache: CacheStore) -> dict[str, Entry]:
    """The ledger's entries of whole values held in a tier (not ranges, not remembered
    absences, not values that are their own records), by key."""
    return {
        key: entry
        for key, entry in cache._engine.ledger.items()
        if isinstance(key, str) and isinstance(entry, Entry) and not entry.absent
    }


class TasksMachine(RuleBasedStateMachine):
    """A state machine whose rules start reads and writes as tasks on an event loop of its
    own, for ``settle`` to finish with the cache's background work (``self.cache``)."""

    cache: CacheStore

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tasks: list[asyncio.Task[Any]] = []

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.settle()
        self.loop.close()

    @rule()
    def settle(self) -> None:
        async def everything() -> None:
            await asyncio.gather(*self.tasks, return_exceptions=True)
            if hasattr(self, "cache"):
                await self.cache.settle()

        self.run(everything())
        self.tasks.clear()
