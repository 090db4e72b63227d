"""CacheStore against a dict model of the source, with writes behind the cache's back.

The model is the source's truth plus, per key, the values that out-of-band writes replaced,
each with the time until which the cache may still serve it: a value replaced at time ``t`` may
have been cached just before, so it may be served until ``t + ttl``. A write through the cache
forgets them at once: from then on only the new value is allowed.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, Store, SuffixByteRequest
from zarr.core.buffer import cpu, default_buffer_prototype
from zarr.storage import MemoryStore

from helpers import assert_idle, examples, expected_bytes, held_by
from zarr_cachestore import CacheStore, RangeKey
from zarr_cachestore.simulated import LatencyStore
from zarr_cachestore.tiers import MemoryTier

KEYS = st.sampled_from(["a", "c/0", "c/1"])
VALUES = st.integers(0, 120).flatmap(lambda n: st.binary(min_size=n, max_size=n))
MAX_SIZE = 250
TTL = 10.0


# The memory tier; a MemoryStore's dict, used directly; any other store.
CACHE_STORES: dict[str, Callable[[], Store | None]] = {
    "memory": lambda: None,
    "memory-store": MemoryStore,
    "async-store": lambda: LatencyStore(MemoryStore()),
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


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
        self.source = LatencyStore(MemoryStore())  # object-store suffix semantics
        self.truth: dict[str, bytes] = {}
        self.replaced: dict[str, list[tuple[bytes | None, float]]] = {}  # value, served until
        self.reads = 0
        self.last_read: tuple[str, Any] | None = None

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.loop.close()

    @initialize(
        tier=st.sampled_from(["memory", "memory-store", "async-store"]),
        eviction=st.sampled_from(["lru", "lfu", "fifo"]),
        ttl=st.booleans(),
        cache_set_data=st.booleans(),
        max_size=st.sampled_from([MAX_SIZE, 20 * MAX_SIZE]),
    )
    def build(
        self, tier: str, eviction: str, ttl: bool, cache_set_data: bool, max_size: int
    ) -> None:
        self.ttl = TTL if ttl else math.inf
        self.max_size = max_size
        self.cache = CacheStore(
            self.source,
            cache_store=CACHE_STORES[tier](),
            max_size=max_size,
            eviction=eviction,
            max_age_seconds=TTL if ttl else "infinity",
            clock=self.clock,
            cache_set_data=cache_set_data,
        )

    # -- writes ---------------------------------------------------------------------------

    @rule(key=KEYS, value=VALUES)
    def write_through_cache(self, key: str, value: bytes) -> None:
        self.run(self.cache.set(key, cpu.Buffer.from_bytes(value)))
        self.written_through(key, value)

    def written_through(self, key: str, value: bytes | None) -> None:
        if value is None:
            self.truth.pop(key, None)
        else:
            self.truth[key] = value
        self.replaced.pop(key, None)

    def written_behind(self, key: str, value: bytes | None) -> None:
        old = self.truth.pop(key, None)
        self.replaced.setdefault(key, []).append((old, self.clock.now + self.ttl))
        if value is not None:
            self.truth[key] = value

    def allowed(self, key: str) -> set[bytes | None]:
        live = {value for value, until in self.replaced.get(key, []) if self.clock.now < until}
        return {self.truth.get(key), *live}

    @rule(key=KEYS, value=VALUES)
    def write_behind_the_cache(self, key: str, value: bytes) -> None:
        self.run(self.source.set(key, cpu.Buffer.from_bytes(value)))
        self.written_behind(key, value)

    @rule(key=KEYS)
    def delete_behind_the_cache(self, key: str) -> None:
        self.run(self.source.delete(key))
        self.written_behind(key, None)

    @rule(seconds=st.sampled_from([0.5, 3.0, TTL]))
    def tick(self, seconds: float) -> None:
        self.clock.now += seconds

    @rule(key=KEYS, request=REQUESTS)
    def read(self, key: str, request: Any) -> None:
        got = self.run(self.cache.get(key, default_buffer_prototype(), request))
        self.reads += 1
        self.last_read = (key, request)
        self.check(key, request, got)

    def check(self, key: str, request: Any, got: Any) -> None:
        answer = None if got is None else got.to_bytes()
        expected = {None if v is None else expected_bytes(v, request) for v in self.allowed(key)}
        assert answer in expected, f"read {key!r} {request} -> {answer!r}, allowed {expected}"

    @rule(key=KEYS)
    def read_whole(self, key: str) -> None:
        self.read(key, None)

    @rule()
    def read_again(self) -> None:
        if self.last_read is not None:
            self.read(*self.last_read)

    @invariant()
    def budget_is_kept(self) -> None:
        assert self.cache.cache_info()["current_size"] <= self.max_size

    @invariant()
    def ledger_matches_the_bytes_held(self) -> None:
        engine = self.cache._engine
        held: dict[Any, int] = {}
        if isinstance(engine.tier, MemoryTier):
            held = {name: len(value) for name, value in engine.tier._values.items()}
        else:
            held = {
                name: len(value or b"")
                for name, value in self.run(held_by(engine.tier.store)).items()
            }
        for range_key, value in engine.range_cache._data.items():
            assert isinstance(range_key, RangeKey)
            held[range_key] = len(value)
        entries = {key: engine.ledger.get(key) for key in engine.ledger}
        ledger = {
            (entry.name if isinstance(key, str) else key): entry.size
            for key, entry in entries.items()
            if entry is not None and not entry.absent
        }
        assert held == ledger
        assert sum(entry.size for entry in engine.ledger.entries()) == engine.ledger.used
        assert len(engine.eviction) == len(engine.ledger)

    @invariant()
    def nothing_is_left_in_flight(self) -> None:
        assert_idle(self.cache)

    @invariant()
    def every_read_is_a_hit_or_a_miss(self) -> None:
        stats = self.cache.cache_stats()
        assert stats["hits"] + stats["misses"] == self.reads


class EveryWritePathMachine(CacheStoreMachine):
    """The same model, with every other way to write and read through the cache."""

    @rule(key=KEYS, value=VALUES)
    def write_through_cache_sync(self, key: str, value: bytes) -> None:
        self.cache.set_sync(key, cpu.Buffer.from_bytes(value))
        self.written_through(key, value)

    @rule(key=KEYS, value=VALUES)
    def set_if_not_exists_through_cache(self, key: str, value: bytes) -> None:
        self.run(self.cache.set_if_not_exists(key, cpu.Buffer.from_bytes(value)))
        self.written_through(key, self.truth.get(key, value))

    @rule(items=st.dictionaries(KEYS, VALUES, max_size=3))
    def set_many_through_cache(self, items: dict[str, bytes]) -> None:
        self.run(self.cache._set_many([(k, cpu.Buffer.from_bytes(v)) for k, v in items.items()]))
        for key, value in items.items():
            self.written_through(key, value)

    @rule()
    def clear_through_cache(self) -> None:
        self.run(self.cache.clear())
        for key in list(self.truth) + list(self.replaced):
            self.written_through(key, None)

    @rule(key=KEYS)
    def delete_through_cache(self, key: str) -> None:
        self.run(self.cache.delete(key))
        self.written_through(key, None)

    @rule(prefix=st.sampled_from(["c", "c/", ""]))
    def delete_dir_through_cache(self, prefix: str) -> None:
        self.run(self.cache.delete_dir(prefix))
        for key in [k for k in [*self.truth, *self.replaced] if k.startswith(prefix)]:
            self.written_through(key, None)

    @rule()
    def clear_cache(self) -> None:
        self.run(self.cache.clear_cache())
        self.replaced.clear()

    # -- reads ----------------------------------------------------------------------------

    @rule(key=KEYS)
    def read_sync(self, key: str) -> None:
        got = self.cache.get_sync(key)
        self.reads += 1
        self.check(key, None, got)

    @rule(key=KEYS)
    def exists_agrees_with_an_allowed_value(self, key: str) -> None:
        exists = self.run(self.cache.exists(key))
        assert exists in {value is not None for value in self.allowed(key)}


TestCacheStoreMachine = CacheStoreMachine.TestCase
TestCacheStoreMachine.settings = settings(
    max_examples=examples(300), stateful_step_count=50, deadline=None
)
TestEveryWritePathMachine = EveryWritePathMachine.TestCase
TestEveryWritePathMachine.settings = settings(
    max_examples=examples(500), stateful_step_count=60, deadline=None
)
