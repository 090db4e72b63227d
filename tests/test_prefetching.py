"""Prefetching: chunks are read ahead of the reader, in the background, through the same miss
path; it never changes an answer, never breaks the budget and never leaves old bytes after a
write."""

from __future__ import annotations

import asyncio
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
import zarr
from hypothesis import settings
from hypothesis.stateful import initialize, invariant, rule
from zarr.storage import MemoryStore

from helpers import PROTO, TasksMachine, assert_idle, buf, examples, raw
from zarr_cachestore import CacheStore, Sequential
from zarr_cachestore.latency import LatencyStore

CHUNKS = 32


def chunked_array(store: MemoryStore) -> zarr.Array[Any]:
    array = zarr.create_array(store, name="t", shape=(CHUNKS * 4,), chunks=(4,), dtype="i4")
    array[:] = np.arange(CHUNKS * 4)
    return array


async def scan(cache: CacheStore) -> list[bytes | None]:
    """Read the array's chunks in order, one at a time, as a time-series reader does."""
    assert await cache.get("t/zarr.json", PROTO) is not None  # zarr reads metadata first
    answers = []
    for i in range(CHUNKS):
        answers.append(raw(await cache.get(f"t/c/{i}", PROTO)))
        await asyncio.sleep(0.004)  # the reader's own work between chunks
    return answers


async def test_a_sequential_scan_is_read_ahead_of_the_reader() -> None:
    memory = MemoryStore()
    chunked_array(memory)
    source = LatencyStore(memory, latency=0.002)
    cache = CacheStore(source, prefetch="sequential")
    answers = await scan(cache)
    await cache.settle()
    assert answers == [raw(await memory.get(f"t/c/{i}", PROTO)) for i in range(CHUNKS)]
    stats = cache.cache_stats()
    assert stats["prefetched"] >= CHUNKS // 2
    assert stats["prefetch_hits"] >= CHUNKS // 2
    assert stats["hits"] >= CHUNKS // 2
    assert source.counts.requests <= CHUNKS + 2 + 4  # each chunk read once, plus what ran ahead
    assert_idle(cache)


async def test_without_prefetch_every_chunk_is_a_miss() -> None:
    memory = MemoryStore()
    chunked_array(memory)
    cache = CacheStore(LatencyStore(memory), prefetch="none")
    await scan(cache)
    assert cache.cache_stats()["hits"] == 0
    assert cache.prefetch is None


async def test_prefetches_keep_the_budget_and_count_what_they_wasted() -> None:
    memory = MemoryStore()
    chunked_array(memory)
    source = LatencyStore(memory, latency=0.001)
    chunk = len(raw(await memory.get("t/c/0", PROTO)) or b"")
    cache = CacheStore(source, prefetch=Sequential(n=8), max_size=3 * chunk)
    await scan(cache)
    await cache.settle()
    info, stats = cache.cache_info(), cache.cache_stats()
    assert info["current_size"] <= info["max_size"]
    assert stats["prefetch_wasted_bytes"] > 0  # eight ahead do not fit in three chunks
    assert stats["prefetch_wasted_bytes"] % chunk == 0


async def test_a_write_during_a_prefetch_leaves_no_old_bytes() -> None:
    memory = MemoryStore()
    chunked_array(memory)
    source = LatencyStore(memory, latency=0.02)
    cache = CacheStore(source, prefetch=Sequential(n=2))
    await cache.get("t/zarr.json", PROTO)
    for i in range(3):
        await cache.get(f"t/c/{i}", PROTO)  # a run: chunks 3 and 4 are being prefetched
    await asyncio.sleep(0.005)
    await cache.set("t/c/3", buf(b"new!" * 4))
    await cache.clear_cache()  # and 4's prefetch is in flight through a clear
    await cache.settle()
    assert raw(await cache.get("t/c/3", PROTO)) == b"new!" * 4
    assert raw(await cache.get("t/c/4", PROTO)) == raw(await memory.get("t/c/4", PROTO))
    assert_idle(cache)


async def test_closing_the_store_stops_the_prefetches() -> None:
    memory = MemoryStore()
    chunked_array(memory)
    source = LatencyStore(memory)
    cache = CacheStore(source, prefetch=Sequential(n=4))
    await cache.get("t/zarr.json", PROTO)
    for i in range(4):
        await cache.get(f"t/c/{i}", PROTO)
    await cache.settle()  # chunks 4 to 7 were read ahead
    source.latency = 0.5
    assert raw(await cache.get("t/c/4", PROTO)) is not None  # a hit: 8 is now read ahead, slowly
    assert cache._engine.readahead is not None
    running = list(cache._engine.readahead.running)
    assert running
    cache.close()
    await asyncio.sleep(0.05)
    assert all(task.cancelled() for task in running)


def test_a_prefetch_policy_object_belongs_to_one_cache() -> None:
    policy = Sequential()
    CacheStore(MemoryStore(), prefetch=policy)
    with pytest.raises(ValueError, match="already used by another CacheStore"):
        CacheStore(MemoryStore(), prefetch=policy)


class PrefetchMachine(TasksMachine):
    """Reads, writes and clears while prefetches run over a slow source: once settled, every
    chunk reads as the source holds it, and the budget held throughout."""

    @initialize(prefetch=st.sampled_from(["sequential", "neighbors"]), budget=st.integers(80, 400))
    def build(self, prefetch: str, budget: int) -> None:
        self.memory = MemoryStore()
        chunked_array(self.memory)
        self.source = LatencyStore(self.memory, latency=0.0005)
        self.cache = CacheStore(self.source, prefetch=prefetch, max_size=budget)
        self.run(self.cache.get("t/zarr.json", PROTO))

    @rule(i=st.integers(0, CHUNKS - 1))
    def read(self, i: int) -> None:
        self.tasks.append(self.loop.create_task(self.cache.get(f"t/c/{i}", PROTO)))

    @rule(i=st.integers(0, CHUNKS - 1), value=st.binary(min_size=1, max_size=24))
    def write(self, i: int, value: bytes) -> None:
        self.tasks.append(self.loop.create_task(self.cache.set(f"t/c/{i}", buf(value))))

    @rule()
    def clear(self) -> None:
        self.tasks.append(self.loop.create_task(self.cache.clear_cache()))

    @rule(seconds=st.sampled_from([0.0, 0.001, 0.003]))
    def wait(self, seconds: float) -> None:
        self.run(asyncio.sleep(seconds))

    @invariant()
    def the_budget_holds(self) -> None:
        info = self.cache.cache_info()
        assert info["current_size"] <= info["max_size"]

    @invariant()
    def once_settled_every_chunk_reads_as_the_source_holds_it(self) -> None:
        if self.tasks:
            return
        for i in range(0, CHUNKS, 5):
            truth = raw(self.run(self.memory.get(f"t/c/{i}", PROTO)))
            assert raw(self.run(self.cache.get(f"t/c/{i}", PROTO))) == truth
        self.run(self.cache.settle())
        assert_idle(self.cache)


TestPrefetchMachine = PrefetchMachine.TestCase
TestPrefetchMachine.settings = settings(
    max_examples=examples(25), stateful_step_count=30, deadline=None
)
