"""Failures of the source and of the cache store, and remembered absences (cache_missing)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import MemoryStore, WrapperStore

from helpers import (
    PROTO,
    FakeClock,
    assert_idle,
    buf,
    expected_bytes,
    held_by,
    raw,
    whole_entries,
)
from zarr_cachestore import CacheStore
from zarr_cachestore.latency import LatencyStore
from zarr_cachestore.ledger import size_of

BYTE_RANGES: list[Any] = [
    pytest.param(None, id="whole"),
    pytest.param(RangeByteRequest(1, 6), id="range"),
    pytest.param(OffsetByteRequest(4), id="offset"),
    pytest.param(SuffixByteRequest(3), id="suffix"),
]


class FailingSource(WrapperStore[Store]):
    """A source whose reads raise while ``broken`` is set; reads are counted."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.broken = False
        self.requests = 0

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        self.requests += 1
        if self.broken:
            raise ConnectionError(f"source unreachable while reading {key!r}")
        return await self._store.get(key, prototype, byte_range)


class FlakyCacheStore(WrapperStore[Store]):
    """A cache store whose get, set or delete can be made to fail.

    A failing ``set`` first leaves a truncated value behind, as an interrupted upload would.
    """

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.fail_get = False
        self.fail_set = False
        self.fail_delete = False

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        if self.fail_get:
            raise OSError(f"cache store cannot read {key!r}")
        return await self._store.get(key, prototype, byte_range)

    async def set(self, key: str, value: Buffer) -> None:
        if self.fail_set:
            await self._store.set(key, value[: len(value) // 2])
            raise OSError(f"cache store write of {key!r} was interrupted")
        await self._store.set(key, value)

    async def delete(self, key: str) -> None:
        if self.fail_delete:
            raise OSError(f"cache store cannot delete {key!r}")
        await self._store.delete(key)


# -- the source fails ----------------------------------------------------------------------


@pytest.mark.parametrize("tier", ["memory", "store"])
@pytest.mark.parametrize("byte_range", BYTE_RANGES)
async def test_a_source_error_propagates_and_nothing_is_cached(
    byte_range: ByteRequest | None, tier: str
) -> None:
    source = FailingSource(MemoryStore())
    await source.set("k", buf(b"0123456789"))
    await source.set("held", buf(b"already cached"))
    cache = CacheStore(source, cache_store=LatencyStore(MemoryStore()) if tier == "store" else None)
    assert raw(await cache.get("held", PROTO)) == b"already cached"
    before = cache.cache_info()

    source.broken = True
    with pytest.raises(ConnectionError, match="source unreachable"):
        await cache.get("k", PROTO, byte_range)
    with pytest.raises(ConnectionError, match="source unreachable"):
        await cache.get("k", PROTO, byte_range)
    assert source.requests == 3  # the failure was not remembered either
    after = cache.cache_info()
    assert after["current_size"] == before["current_size"]
    assert after["tracked_keys"] == before["tracked_keys"]
    assert raw(await cache.get("held", PROTO)) == b"already cached"  # still a hit
    assert source.requests == 3

    source.broken = False
    assert raw(await cache.get("k", PROTO, byte_range)) == expected_bytes(b"0123456789", byte_range)
    assert raw(await cache.get("k", PROTO, byte_range)) == expected_bytes(b"0123456789", byte_range)
    assert source.requests == 4


# -- the cache store fails -----------------------------------------------------------------

VALUES = {f"k{i}": bytes([97 + i]) * (10 + 3 * i) for i in range(5)}  # 10..22 bytes
BUDGET = 40  # room for two or three values: reads evict


class Rig:
    """A source, a flaky cache store and a CacheStore between them, and what they should hold."""

    def __init__(self, **options: Any) -> None:
        self.source = LatencyStore(MemoryStore())
        self.inner = MemoryStore()
        self.tier = FlakyCacheStore(self.inner)
        self.cache = CacheStore(self.source, cache_store=self.tier, max_size=BUDGET, **options)
        self.truth: dict[str, bytes | None] = {}

    async def seed(self) -> None:
        for key, value in VALUES.items():
            await self.source.set(key, buf(value))
            self.truth[key] = value

    def errors(self) -> int:
        return int(self.cache.cache_stats()["cache_errors"])

    async def read_all(self) -> None:
        """Every read answers what the source holds."""
        for key, value in self.truth.items():
            assert raw(await self.cache.get(key, PROTO)) == value, key
            if value is not None:
                assert raw(await self.cache.get(key, PROTO, RangeByteRequest(1, 4))) == value[1:4]

    async def check_ledger(self, *, orphans_allowed: bool = False) -> None:
        """current_size counts exactly the entries whose true bytes are in the cache store."""
        ledger = self.cache._engine.ledger
        held = await held_by(self.inner)
        counted = sum(map(size_of, ledger.entries()))
        whole = whole_entries(self.cache)
        for key, entry in whole.items():
            assert entry.ready, f"{key}: a cache-store write was left unfinished"
            assert held.get(entry.name) == self.truth[key], (
                f"{key}: the cache store has other bytes"
            )
            assert entry.size == len(self.truth[key] or b"")
        info = self.cache.cache_info()
        assert info["current_size"] == counted
        assert info["current_size"] <= BUDGET
        assert_idle(self.cache, queued_deletes=orphans_allowed)
        if not orphans_allowed:
            names = {entry.name for entry in whole.values()}
            assert set(held) == names, "the cache store holds bytes the ledger does not count"


FAILURES = ["get", "set", "delete"]


@pytest.mark.parametrize("failure", FAILURES)
async def test_reads_are_served_from_the_source_while_the_cache_store_fails(failure: str) -> None:
    rig = Rig()
    await rig.seed()
    await rig.read_all()  # fills the cache store, with evictions
    await rig.check_ledger()

    setattr(rig.tier, f"fail_{failure}", True)
    errors = rig.errors()
    for _ in range(2):
        await rig.read_all()
        await rig.check_ledger(orphans_allowed=failure == "delete")
    assert rig.errors() > errors, f"failed cache-store {failure}s were not counted"

    setattr(rig.tier, f"fail_{failure}", False)
    await rig.read_all()
    await rig.read_all()
    await rig.check_ledger(orphans_allowed=failure == "delete")


async def test_each_failed_cache_store_read_is_counted_once() -> None:
    rig = Rig()
    await rig.seed()
    assert raw(await rig.cache.get("k0", PROTO)) == VALUES["k0"]
    requests = rig.source.counts.requests
    rig.tier.fail_get = True
    assert raw(await rig.cache.get("k0", PROTO)) == VALUES["k0"]
    assert rig.errors() == 1
    assert rig.source.counts.requests == requests + 1
    await rig.check_ledger()


async def test_each_failed_cache_store_write_is_counted_once() -> None:
    rig = Rig()
    await rig.seed()
    rig.tier.fail_set = True
    assert raw(await rig.cache.get("k0", PROTO)) == VALUES["k0"]
    assert rig.errors() == 1
    assert rig.cache.cache_info()["current_size"] == 0
    assert await held_by(rig.inner) == {}, "the interrupted write was left in the cache store"
    await rig.check_ledger()


async def test_each_failed_cache_store_delete_is_counted_once() -> None:
    rig = Rig()
    await rig.seed()
    assert raw(await rig.cache.get("k0", PROTO)) == VALUES["k0"]
    rig.tier.fail_delete = True
    await rig.cache.delete("k0")
    rig.truth["k0"] = None
    assert rig.errors() == 1
    assert rig.cache.cache_info()["current_size"] == 0
    assert raw(await rig.cache.get("k0", PROTO)) is None
    await rig.check_ledger(orphans_allowed=True)


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("cache_set_data", [True, False], ids=["cache-set-data", "no-set-data"])
async def test_no_stale_value_is_served_after_a_cache_store_failure(
    failure: str, cache_set_data: bool
) -> None:
    rig = Rig(cache_set_data=cache_set_data)
    await rig.seed()
    await rig.read_all()
    await rig.read_all()

    setattr(rig.tier, f"fail_{failure}", True)
    for version in range(3):
        for key in VALUES:
            value = f"{key} v{version}".encode() * (1 + version)
            await rig.cache.set(key, buf(value))
            rig.truth[key] = value
            assert raw(await rig.cache.get(key, PROTO)) == value
        await rig.cache.delete("k1")
        rig.truth["k1"] = None
        await rig.read_all()
        await rig.check_ledger(orphans_allowed=failure == "delete")

    setattr(rig.tier, f"fail_{failure}", False)
    await rig.read_all()
    await rig.read_all()
    await rig.check_ledger(orphans_allowed=failure == "delete")
    await rig.cache.set("k1", buf(b"back again"))
    rig.truth["k1"] = b"back again"
    await rig.read_all()
    await rig.check_ledger(orphans_allowed=failure == "delete")


# -- remembered absences ------------------------------------------------------------------


@pytest.mark.parametrize("tier", ["memory", "store"])
async def test_an_absent_key_is_remembered(tier: str) -> None:
    source = LatencyStore(MemoryStore())
    cache = CacheStore(
        source,
        cache_store=LatencyStore(MemoryStore()) if tier == "store" else None,
        cache_missing=True,
    )
    assert await cache.get("gone", PROTO) is None
    assert source.counts.requests == 1
    assert await cache.get("gone", PROTO) is None
    assert await cache.get("gone", PROTO, RangeByteRequest(0, 4)) is None
    assert not await cache.exists("gone")
    assert source.counts.requests == 1
    assert cache.cache_stats()["hits"] >= 2


@pytest.mark.parametrize("tier", ["memory", "store"])
@pytest.mark.parametrize("cache_set_data", [True, False], ids=["cache-set-data", "no-set-data"])
@pytest.mark.parametrize("how", ["set", "set_if_not_exists"])
async def test_a_write_through_the_cache_ends_a_remembered_absence(
    how: str, cache_set_data: bool, tier: str
) -> None:
    source = LatencyStore(MemoryStore())
    cache = CacheStore(
        source,
        cache_store=LatencyStore(MemoryStore()) if tier == "store" else None,
        cache_missing=True,
        cache_set_data=cache_set_data,
    )
    assert await cache.get("k", PROTO) is None
    assert await cache.get("k", PROTO) is None
    await getattr(cache, how)("k", buf(b"now here"))
    assert raw(await cache.get("k", PROTO)) == b"now here"
    assert raw(await cache.get("k", PROTO, SuffixByteRequest(4))) == b"here"
    assert await cache.exists("k")
    await cache.delete("k")
    assert await cache.get("k", PROTO) is None
    assert not await cache.exists("k")


@pytest.mark.parametrize("tier", ["memory", "store"])
async def test_a_remembered_absence_expires(tier: str) -> None:
    clock = FakeClock(1000.0)
    source = LatencyStore(MemoryStore())
    cache = CacheStore(
        source,
        cache_store=LatencyStore(MemoryStore()) if tier == "store" else None,
        cache_missing=True,
        max_age_seconds=10,
        clock=clock,
    )
    assert await cache.get("k", PROTO) is None
    assert source.counts.requests == 1
    await source.set("k", buf(b"arrived behind the cache's back"))

    clock.now += 9.5
    assert await cache.get("k", PROTO) is None  # still remembered
    assert source.counts.requests == 1

    clock.now += 0.5  # ten seconds after it was remembered
    assert raw(await cache.get("k", PROTO)) == b"arrived behind the cache's back"
    assert source.counts.requests == 2
    assert cache.cache_stats()["expirations"] == 1


async def test_an_absence_seen_before_a_write_is_not_remembered_after_it() -> None:
    class HeldSource(WrapperStore[Store]):
        def __init__(self, store: Store) -> None:
            super().__init__(store)
            self.gate = asyncio.Event()
            self.entered = asyncio.Event()

        async def get(
            self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
        ) -> Buffer | None:
            value = await self._store.get(key, prototype, byte_range)
            self.entered.set()
            await self.gate.wait()
            return value

    source = HeldSource(MemoryStore())
    cache = CacheStore(source, cache_missing=True, cache_set_data=False)
    early = asyncio.create_task(cache.get("k", PROTO))
    await source.entered.wait()
    await cache.set("k", buf(b"written"))
    source.gate.set()
    await early
    assert raw(await cache.get("k", PROTO)) == b"written"
    assert raw(await cache.get("k", PROTO)) == b"written"


async def test_expiry_counts_from_when_the_source_read_began() -> None:
    clock = FakeClock(1000.0)

    class SlowSource(WrapperStore[Store]):
        async def get(
            self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
        ) -> Buffer | None:
            value = await self._store.get(key, prototype, byte_range)
            clock.now += 8  # the read takes eight seconds
            return value

    source = SlowSource(MemoryStore())
    await source.set("k", buf(b"read at t=0"))
    cache = CacheStore(source, max_age_seconds=10, clock=clock)
    assert raw(await cache.get("k", PROTO)) == b"read at t=0"
    await source._store.set("k", buf(b"written behind the cache at t=8"))
    clock.now += 2.5  # t=10.5: past ten seconds from the read's start
    assert raw(await cache.get("k", PROTO)) == b"written behind the cache at t=8"
