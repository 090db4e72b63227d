"""CacheStore against the conformance kit's dict model of the source, with writes behind the
cache's back (see ``zarr_cachestore.testing.store``), over the built-in eviction policies, and
with every other way to write and read through the cache."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import rule
from zarr.abc.store import RangeByteRequest
from zarr.core.buffer import cpu
from zarr.storage import MemoryStore

from helpers import PROTO, assert_idle, examples
from zarr_cachestore import CacheStore
from zarr_cachestore.latency import LatencyStore
from zarr_cachestore.testing.store import KEYS, VALUES, store_machine

CacheStoreMachine = store_machine(["lru", "lfu", "fifo"])


class EveryWritePathMachine(CacheStoreMachine):  # type: ignore[valid-type, misc]
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


async def test_a_range_read_that_evicts_leaves_no_delete_queued() -> None:
    """A range entry that evicts a whole value from a cache store: the read returns once the
    value is deleted there, so the cache store never holds more than ``max_size``."""
    source = MemoryStore()
    await source.set("c/0", cpu.Buffer.from_bytes(b"x"))
    await source.set("c/1", cpu.Buffer.from_bytes(b"y" * 100))
    cache = CacheStore(source, cache_store=LatencyStore(MemoryStore()), max_size=100)
    await cache.get("c/1", PROTO)
    await cache.get("c/0", PROTO, RangeByteRequest(0, 1))
    assert cache.cache_stats()["evictions"] == 1
    assert_idle(cache)
