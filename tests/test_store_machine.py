"""CacheStore against a dict model of the source, with writes behind the cache's back.

The model keeps, per key, the values a read may legitimately return: after a write through
the cache only the new value; after an out-of-band write to the source, the old values too,
but only until the write is older than the time-to-live (then only the source's value).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import cpu, default_buffer_prototype
from zarr.storage import MemoryStore

from zarr_cachestore import CacheStore, RangeKey
from zarr_cachestore.tiers import MemoryTier

KEYS = st.sampled_from(["a", "b", "c/0", "c/1", "d"])
VALUES = st.integers(0, 120).flatmap(lambda n: st.binary(min_size=n, max_size=n))
MAX_SIZE = 250
TTL = 10.0


class SourceStore(MemoryStore):
    """A MemoryStore that returns the whole value for a suffix longer than it, as zarr 3.2+,
    LocalStore and HTTP do (zarr 3.1's MemoryStore returns too few bytes)."""

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        if isinstance(byte_range, SuffixByteRequest):
            value = await super().get(key, prototype)
            return None if value is None else value[max(0, len(value) - byte_range.suffix) :]
        return await super().get(key, prototype, byte_range)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def slice_like_zarr(value: bytes, request: Any) -> bytes:
    if request is None:
        return value
    if isinstance(request, RangeByteRequest):
        return value[request.start : request.end]
    if isinstance(request, OffsetByteRequest):
        return value[request.offset :]
    return value[max(0, len(value) - request.suffix) :]


REQUESTS = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 130), st.integers(0, 130)).map(
        lambda t: RangeByteRequest(min(t), max(t))
    ),
    st.integers(0, 130).map(OffsetByteRequest),
    st.integers(0, 130).map(SuffixByteRequest),
)


class CacheStoreMachine(RuleBasedStateMachine):
    """Every answer is one the model allows; the ledger always matches the bytes held."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.source = SourceStore()
        self.truth: dict[str, bytes] = {}
        self.allowed: dict[str, set[bytes | None]] = {}
        self.visible_by: dict[str, float] = {}  # out-of-band writes must show by this time
        self.reads = 0
        self.last_read: tuple[str, Any] | None = None

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.loop.close()

    @initialize(
        tier=st.sampled_from(["memory", "store"]),
        eviction=st.sampled_from(["lru", "lfu", "fifo"]),
        ttl=st.booleans(),
        cache_set_data=st.booleans(),
    )
    def build(self, tier: str, eviction: str, ttl: bool, cache_set_data: bool) -> None:
        self.ttl = TTL if ttl else math.inf
        self.cache = CacheStore(
            self.source,
            cache_store=MemoryStore() if tier == "store" else None,
            max_size=MAX_SIZE,
            eviction=eviction,
            max_age_seconds=TTL if ttl else "infinity",
            clock=self.clock,
            cache_set_data=cache_set_data,
        )

    # -- writes ---------------------------------------------------------------------------

    @rule(key=KEYS, value=VALUES)
    def write_through_cache(self, key: str, value: bytes) -> None:
        self.run(self.cache.set(key, cpu.Buffer.from_bytes(value)))
        self.truth[key] = value
        self.allowed[key] = {value}
        self.visible_by.pop(key, None)

    @rule(key=KEYS)
    def delete_through_cache(self, key: str) -> None:
        self.run(self.cache.delete(key))
        self.truth.pop(key, None)
        self.allowed[key] = {None}
        self.visible_by.pop(key, None)

    @rule(prefix=st.sampled_from(["c", "c/", ""]))
    def delete_dir_through_cache(self, prefix: str) -> None:
        self.run(self.cache.delete_dir(prefix))
        for key in [k for k in self.allowed if k.startswith(prefix)] + [
            k for k in self.truth if k.startswith(prefix)
        ]:
            self.truth.pop(key, None)
            self.allowed[key] = {None}
            self.visible_by.pop(key, None)

    @rule(key=KEYS, value=VALUES)
    def write_behind_the_cache(self, key: str, value: bytes) -> None:
        self.run(self.source.set(key, cpu.Buffer.from_bytes(value)))
        self.allowed.setdefault(key, {self.truth.get(key)}).add(value)
        self.truth[key] = value
        self.visible_by.setdefault(key, self.clock.now + self.ttl)

    @rule(seconds=st.sampled_from([0.5, 3.0, TTL]))
    def tick(self, seconds: float) -> None:
        self.clock.now += seconds

    @rule()
    def clear_cache(self) -> None:
        self.run(self.cache.clear_cache())
        self.allowed = {key: {self.truth.get(key)} for key in self.allowed}
        self.visible_by.clear()

    # -- reads ----------------------------------------------------------------------------

    @rule(key=KEYS, request=REQUESTS)
    def read(self, key: str, request: Any) -> None:
        got = self.run(self.cache.get(key, default_buffer_prototype(), request))
        self.reads += 1
        self.last_read = (key, request)
        answer = None if got is None else got.to_bytes()
        if self.clock.now >= self.visible_by.get(key, math.inf):
            self.allowed[key] = {self.truth.get(key)}
            del self.visible_by[key]
        allowed = self.allowed.get(key, {self.truth.get(key)})
        expected = {None if v is None else slice_like_zarr(v, request) for v in allowed}
        assert answer in expected, f"read {key!r} {request} -> {answer!r}, allowed {expected}"

    @rule(key=KEYS)
    def read_whole(self, key: str) -> None:
        self.read(key, None)

    @rule()
    def read_again(self) -> None:
        if self.last_read is not None:
            self.read(*self.last_read)

    @precondition(lambda self: not self.visible_by)
    @rule(key=KEYS)
    def exists_agrees_with_the_source(self, key: str) -> None:
        assert self.run(self.cache.exists(key)) == (key in self.truth)

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def budget_is_kept(self) -> None:
        assert self.cache.cache_info()["current_size"] <= MAX_SIZE

    @invariant()
    def ledger_matches_the_bytes_held(self) -> None:
        state = self.cache._state
        held: dict[Any, int] = {}
        if isinstance(state.tier, MemoryTier):
            for key in state.tier._values:
                held[key] = len(state.tier._values[key])
        else:
            for key in self.run(_list(state.tier.store)):
                value = self.run(state.tier.store.get(key, default_buffer_prototype()))
                held[key] = len(value)
        for range_key, value in state.range_cache._data.items():
            assert isinstance(range_key, RangeKey)
            held[range_key] = len(value)
        ledger = {key: state.ledger.get(key).size for key in state.ledger}
        ledger = {k: v for k, v in ledger.items() if not state.ledger.get(k).absent}
        assert held == ledger
        assert sum(held.values()) == state.ledger.used
        assert len(state.eviction) == len(state.ledger)

    @invariant()
    def every_read_is_a_hit_or_a_miss(self) -> None:
        stats = self.cache.cache_stats()
        assert stats["hits"] + stats["misses"] == self.reads


async def _list(store: MemoryStore) -> list[str]:
    return [key async for key in store.list()]


TestCacheStoreMachine = CacheStoreMachine.TestCase
TestCacheStoreMachine.settings = settings(max_examples=120, stateful_step_count=40, deadline=None)
