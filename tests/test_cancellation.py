"""A cancellation at any await leaves nothing open and no old bytes behind.

The machine at the end starts reads and writes over a source and a cache store that yield to
the event loop at every step, cancels them at random points, and once everything has settled
checks that every key reads as the source holds it, that the books match the bytes held and
that nothing is left in flight.
"""

from __future__ import annotations

import asyncio

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import initialize, invariant, rule
from zarr.abc.store import ByteRequest, RangeByteRequest, Store
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import MemoryStore, WrapperStore

from helpers import (
    PROTO,
    REQUESTS,
    FakeClock,
    TasksMachine,
    assert_idle,
    buf,
    examples,
    expected_bytes,
    held_by,
    raw,
)
from zarr_cachestore import TTL, CacheStore
from zarr_cachestore.latency import LatencyStore
from zarr_cachestore.ledger import size_of

OLD, NEW = b"old bytes", b"new bytes, longer"


class Gated(WrapperStore[Store]):
    """A store whose next ``set``, ``get`` or ``delete`` (as armed) waits for ``gate``."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.hold: set[str] = set()

    async def _pass(self, operation: str) -> None:
        if operation in self.hold:
            self.hold.discard(operation)
            self.entered.set()
            await self.gate.wait()

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        await self._pass("get")
        return await self._store.get(key, prototype, byte_range)

    async def set(self, key: str, value: Buffer) -> None:
        await self._pass("set")
        await self._store.set(key, value)

    async def delete(self, key: str) -> None:
        await self._pass("delete")
        await self._store.delete(key)


async def test_a_read_cancelled_during_its_cache_store_write_never_lands_old_bytes() -> None:
    source = MemoryStore()
    await source.set("k", buf(OLD))
    tier = Gated(MemoryStore())
    cache = CacheStore(source, cache_store=tier)
    tier.hold.add("set")
    reader = asyncio.create_task(cache.get("k", PROTO))
    await tier.entered.wait()  # the old value is on its way into the cache store
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    await cache.set("k", buf(NEW))
    tier.gate.set()  # the old write lands now, after the new one
    await cache.settle()
    assert raw(await cache.get("k", PROTO)) == NEW
    assert raw(await cache.get("k", PROTO)) == NEW
    assert list((await held_by(tier)).values()) == [NEW]
    assert_idle(cache)


async def test_a_cancelled_leader_still_answers_and_fills_the_cache() -> None:
    source = LatencyStore(MemoryStore(), latency=0.02)
    await source.set("k", buf(NEW))
    cache = CacheStore(source)
    leader = asyncio.create_task(cache.get("k", PROTO))
    await asyncio.sleep(0.005)
    waiters = [asyncio.create_task(cache.get("k", PROTO)) for _ in range(50)]
    await asyncio.sleep(0.001)
    leader.cancel()
    assert [raw(value) for value in await asyncio.gather(*waiters)] == [NEW] * 50
    assert source.counts.requests == 1
    assert raw(await cache.get("k", PROTO)) == NEW
    assert source.counts.requests == 1
    assert_idle(cache)


async def test_a_hit_whose_entry_is_written_meanwhile_is_read_again() -> None:
    source = LatencyStore(MemoryStore())
    await source.set("k", buf(OLD))
    tier = Gated(MemoryStore())
    cache = CacheStore(source, cache_store=tier, strict=True)
    assert raw(await cache.get("k", PROTO)) == OLD
    tier.hold.add("get")
    reader = asyncio.create_task(cache.get("k", PROTO))
    await tier.entered.wait()  # the entry was checked; its bytes are being read
    await cache.set("k", buf(NEW))
    tier.gate.set()
    assert raw(await reader) == NEW
    assert cache.cache_stats()["policy_errors"] == 0
    assert_idle(cache)


async def test_reads_cancelled_during_an_eviction_delete_leave_nothing_open() -> None:
    source = LatencyStore(MemoryStore())
    for key in "abc":
        await source.set(key, buf(key.encode() * 10))
    tier = Gated(MemoryStore())
    cache = CacheStore(source, cache_store=tier, max_size=20)
    await cache.get("a", PROTO)
    await cache.get("b", PROTO)
    tier.hold.add("delete")
    reader = asyncio.create_task(cache.get("c", PROTO))  # evicts "a": its delete waits
    await tier.entered.wait()
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    tier.gate.set()
    await cache.settle()
    assert_idle(cache)
    assert raw(await cache.get("c", PROTO)) == b"c" * 10
    held = sorted(value or b"" for value in (await held_by(tier)).values())
    assert held == [b"b" * 10, b"c" * 10]


async def test_an_expired_value_is_deleted_while_a_range_answers() -> None:
    clock = FakeClock()
    source = LatencyStore(MemoryStore())
    await source.set("k", buf(NEW))
    inner = MemoryStore()
    cache = CacheStore(source, cache_store=LatencyStore(inner), expiry=TTL(10), clock=clock)
    await cache.get("k", PROTO, RangeByteRequest(0, 3))  # a range entry
    await cache.get("k", PROTO)  # and the whole value, in the cache store
    clock.now += 5
    await cache.get("k", PROTO, RangeByteRequest(0, 3))  # renews nothing: ranges keep 10 s
    clock.now += 6  # the whole value has expired, the range too
    await cache.get("k", PROTO, RangeByteRequest(0, 3))
    assert await held_by(inner) == {}, "the expired value was never deleted"
    assert raw(await cache.get("k", PROTO)) == NEW
    requests = source.counts.requests
    assert raw(await cache.get("k", PROTO)) == NEW
    assert source.counts.requests == requests, "the key is served from the cache store again"
    assert_idle(cache)


class Yielding(WrapperStore[Store]):
    """A store that yields to the event loop ``steps`` times before and after each call, so
    that a cancellation can land at every point of the cache's work around it."""

    def __init__(self, store: Store, steps: int = 3) -> None:
        super().__init__(store)
        self.steps = steps

    async def _yield(self) -> None:
        for _ in range(self.steps):
            await asyncio.sleep(0)

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        await self._yield()
        value = await self._store.get(key, prototype, byte_range)
        await self._yield()
        return value

    async def set(self, key: str, value: Buffer) -> None:
        await self._yield()
        await self._store.set(key, value)
        await self._yield()

    async def delete(self, key: str) -> None:
        await self._yield()
        await self._store.delete(key)
        await self._yield()


KEYS = st.sampled_from(["a", "b", "c/0"])
VALUES = st.binary(max_size=40)


class CancellationMachine(TasksMachine):
    """Reads and writes, cancelled at random points; afterwards the cache agrees with the
    source, its books with its bytes, and nothing is left in flight."""

    @initialize(tier=st.sampled_from(["memory", "memory-store", "async-store"]))
    def build(self, tier: str) -> None:
        self.source = MemoryStore()
        self.inner = MemoryStore()
        cache_store = {
            "memory": None,
            "memory-store": self.inner,
            "async-store": Yielding(self.inner),
        }[tier]
        self.cache = CacheStore(Yielding(self.source), cache_store=cache_store, max_size=100)

    @rule(key=KEYS, request=REQUESTS)
    def start_read(self, key: str, request: ByteRequest | None) -> None:
        self.tasks.append(self.loop.create_task(self.cache.get(key, PROTO, request)))

    @rule(key=KEYS, value=VALUES)
    def start_write(self, key: str, value: bytes) -> None:
        self.tasks.append(self.loop.create_task(self.cache.set(key, buf(value))))

    @rule(key=KEYS)
    def start_delete(self, key: str) -> None:
        self.tasks.append(self.loop.create_task(self.cache.delete(key)))

    @rule(steps=st.integers(0, 12))
    def run_a_little(self, steps: int) -> None:
        for _ in range(steps):
            self.run(asyncio.sleep(0))

    @rule(data=st.data())
    def cancel_one(self, data: st.DataObject) -> None:
        pending = [task for task in self.tasks if not task.done()]
        if pending:
            data.draw(st.sampled_from(pending)).cancel()

    @invariant()
    def once_settled_the_cache_agrees_with_the_source(self) -> None:
        if self.tasks:
            return
        assert_idle(self.cache)
        for key in ["a", "b", "c/0"]:
            truth = raw(self.run(self.source.get(key, PROTO)))
            for request in (None, RangeByteRequest(2, 9)):
                expected = None if truth is None else expected_bytes(truth, request)
                assert raw(self.run(self.cache.get(key, PROTO, request))) == expected, key
        engine = self.cache._engine
        assert engine.ledger.used <= 100
        assert engine.ledger.used == sum(map(size_of, engine.ledger.entries()))
        assert_idle(self.cache)


TestCancellationMachine = CancellationMachine.TestCase
TestCancellationMachine.settings = settings(
    max_examples=examples(60), stateful_step_count=40, deadline=None
)
