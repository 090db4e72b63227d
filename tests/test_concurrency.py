"""Concurrency guarantees of CacheStore: version guard, single flight, cancellation,
threads with their own event loops, shared views, pickling and opening."""

from __future__ import annotations

import asyncio
import functools
import random
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest
import zarr
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
    assert_idle,
    buf,
    copied_elsewhere,
    expected_bytes,
    held_by,
    memory_bytes_held,
    raw,
    whole_entries,
)
from zarr_cachestore import LFU, CacheStore
from zarr_cachestore.latency import LatencyStore


async def settle(condition: Callable[[], bool], rounds: int = 500) -> None:
    """Let the other tasks of this loop run until ``condition`` holds."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the expected state was never reached")


class GatedSource(WrapperStore[Store]):
    """A source whose reads fetch the value, then wait at a gate before answering.

    A read held at the gate has already taken its bytes: releasing it after a write delivers
    the value from before the write, as a slow network read would.
    """

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.requests = 0
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.error: Exception | None = None

    def hold(self) -> asyncio.Event:
        """Hold every following read at a new gate; set the returned event to release them."""
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        return self.gate

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        self.requests += 1
        value = await self._store.get(key, prototype, byte_range)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return value


class GatedCacheStore(WrapperStore[Store]):
    """A cache store whose writes can be held at a gate."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def set(self, key: str, value: Buffer) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        await self._store.set(key, value)


# -- version guard ------------------------------------------------------------------------

OLD = b"old value, twenty-six b."
NEW = b"the new value, longer than the old one"

BYTE_RANGES: list[Any] = [
    pytest.param(None, id="whole"),
    pytest.param(RangeByteRequest(2, 9), id="range"),
    pytest.param(OffsetByteRequest(3), id="offset"),
    pytest.param(SuffixByteRequest(5), id="suffix"),
]

Mutation = Callable[[CacheStore, str], Awaitable[None]]


async def _set_new(cache: CacheStore, key: str) -> None:
    await cache.set(key, buf(NEW))


async def _delete(cache: CacheStore, key: str) -> None:
    await cache.delete(key)


async def _delete_dir(cache: CacheStore, key: str) -> None:
    await cache.delete_dir(key.split("/")[0])


async def _clear(cache: CacheStore, key: str) -> None:
    await cache.clear()


MUTATIONS: list[Any] = [
    pytest.param(_set_new, True, NEW, id="set"),
    pytest.param(_set_new, False, NEW, id="set-no-cache-set-data"),
    pytest.param(_delete, True, None, id="delete"),
    pytest.param(_delete_dir, True, None, id="delete_dir"),
    pytest.param(_clear, True, None, id="clear"),
]


async def a_read_held_at_the_source(
    key: str, cache_set_data: bool, byte_range: ByteRequest | None
) -> tuple[GatedSource, CacheStore, asyncio.Event, asyncio.Task[Buffer | None]]:
    """A cache over a source holding ``OLD`` under ``key``, and a read of it that has taken the
    old bytes and waits at the source's gate."""
    source = GatedSource(MemoryStore())
    await source.set(key, buf(OLD))
    cache = CacheStore(source, cache_set_data=cache_set_data)
    gate = source.hold()
    early = asyncio.create_task(cache.get(key, PROTO, byte_range))
    await source.entered.wait()
    return source, cache, gate, early


@pytest.mark.parametrize("byte_range", BYTE_RANGES)
@pytest.mark.parametrize(("mutate", "cache_set_data", "after"), MUTATIONS)
async def test_miss_begun_before_a_write_is_not_inserted_after_it(
    mutate: Mutation, cache_set_data: bool, after: bytes | None, byte_range: ByteRequest | None
) -> None:
    key = "grp/k"
    _, cache, gate, early = await a_read_held_at_the_source(key, cache_set_data, byte_range)
    await mutate(cache, key)
    gate.set()
    # The early read overlapped the write, so either value is a correct answer for it...
    assert raw(await early) in {
        expected_bytes(OLD, byte_range),
        None if after is None else expected_bytes(after, byte_range),
    }
    # ...but it must not have put the old bytes in the cache.
    expected = None if after is None else expected_bytes(after, byte_range)
    assert raw(await cache.get(key, PROTO, byte_range)) == expected
    assert raw(await cache.get(key, PROTO, byte_range)) == expected
    assert raw(await cache.get(key, PROTO)) == after


@pytest.mark.parametrize("byte_range", BYTE_RANGES)
@pytest.mark.parametrize(("mutate", "cache_set_data", "after"), MUTATIONS)
async def test_read_begun_after_a_write_sees_it_while_an_older_read_is_in_flight(
    mutate: Mutation, cache_set_data: bool, after: bytes | None, byte_range: ByteRequest | None
) -> None:
    """A read that starts once a write has returned must not join a read from before it."""
    key = "grp/k"
    source, cache, gate, early = await a_read_held_at_the_source(key, cache_set_data, byte_range)
    await mutate(cache, key)
    late = asyncio.create_task(cache.get(key, PROTO, byte_range))
    await settle(
        lambda: source.requests >= 2 or late.done() or bool(cache.cache_stats()["coalesced"])
    )
    gate.set()
    await early
    assert raw(await late) == (None if after is None else expected_bytes(after, byte_range))


# -- single flight ------------------------------------------------------------------------

N_READERS = 8


@pytest.mark.parametrize("byte_range", BYTE_RANGES)
async def test_concurrent_misses_make_one_source_request(byte_range: ByteRequest | None) -> None:
    source = GatedSource(MemoryStore())
    await source.set("k", buf(NEW))
    cache = CacheStore(source)

    gate = source.hold()
    tasks = [asyncio.create_task(cache.get("k", PROTO, byte_range)) for _ in range(N_READERS)]
    await source.entered.wait()
    await settle(lambda: cache.cache_stats()["coalesced"] == N_READERS - 1)
    gate.set()
    results = await asyncio.gather(*tasks)

    assert [raw(result) for result in results] == [expected_bytes(NEW, byte_range)] * N_READERS
    assert source.requests == 1
    stats = cache.cache_stats()
    assert stats["coalesced"] == N_READERS - 1
    assert stats["misses"] == N_READERS
    # The one answer was cached: the next read is a hit.
    assert raw(await cache.get("k", PROTO, byte_range)) == expected_bytes(NEW, byte_range)
    assert source.requests == 1


@pytest.mark.parametrize("byte_range", BYTE_RANGES)
async def test_a_failed_source_request_reaches_every_waiter_and_caches_nothing(
    byte_range: ByteRequest | None,
) -> None:
    source = GatedSource(MemoryStore())
    await source.set("k", buf(NEW))
    await source.set("other", buf(OLD))
    cache = CacheStore(source)
    await cache.get("other", PROTO)  # something already cached, which must stay as it is
    before = cache.cache_info()
    requests = source.requests

    gate = source.hold()
    source.error = ConnectionError("the source is down")
    tasks = [asyncio.create_task(cache.get("k", PROTO, byte_range)) for _ in range(N_READERS)]
    await source.entered.wait()
    await settle(lambda: cache.cache_stats()["coalesced"] == N_READERS - 1)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(result, ConnectionError) for result in results), results
    assert source.requests == requests + 1
    after = cache.cache_info()
    assert after["current_size"] == before["current_size"]
    assert after["tracked_keys"] == before["tracked_keys"]

    source.error = None
    source.gate = None
    assert raw(await cache.get("k", PROTO, byte_range)) == expected_bytes(NEW, byte_range)
    assert source.requests == requests + 2  # the failure was not remembered
    assert raw(await cache.get("other", PROTO)) == OLD
    assert source.requests == requests + 2


# -- cancellation -------------------------------------------------------------------------


@pytest.mark.parametrize("byte_range", BYTE_RANGES)
async def test_waiters_get_an_answer_when_the_leader_is_cancelled(
    byte_range: ByteRequest | None,
) -> None:
    source = GatedSource(MemoryStore())
    await source.set("k", buf(NEW))
    cache = CacheStore(source)

    gate = source.hold()
    leader = asyncio.create_task(cache.get("k", PROTO, byte_range))
    await source.entered.wait()
    waiters = [asyncio.create_task(cache.get("k", PROTO, byte_range)) for _ in range(3)]
    await settle(lambda: cache.cache_stats()["coalesced"] == 3)
    leader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leader
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*waiters), timeout=5)
    assert [raw(result) for result in results] == [expected_bytes(NEW, byte_range)] * 3
    # The cache still works afterwards.
    assert raw(await cache.get("k", PROTO, byte_range)) == expected_bytes(NEW, byte_range)
    info = cache.cache_info()
    assert info["current_size"] <= len(NEW)
    assert info["current_size"] == memory_bytes_held(cache)


async def test_cancelling_one_waiter_does_not_disturb_the_leader_or_other_waiters() -> None:
    source = GatedSource(MemoryStore())
    await source.set("k", buf(NEW))
    cache = CacheStore(source)

    gate = source.hold()
    leader = asyncio.create_task(cache.get("k", PROTO))
    await source.entered.wait()
    quitter = asyncio.create_task(cache.get("k", PROTO))
    stayer = asyncio.create_task(cache.get("k", PROTO))
    await settle(lambda: cache.cache_stats()["coalesced"] == 2)
    quitter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await quitter
    gate.set()
    assert raw(await leader) == NEW
    assert raw(await stayer) == NEW
    assert source.requests == 1
    assert raw(await cache.get("k", PROTO)) == NEW
    assert source.requests == 1


async def test_a_read_cancelled_while_writing_the_cache_store_leaves_the_key_cacheable() -> None:
    source = LatencyStore(MemoryStore())
    await source.set("k", buf(NEW))
    tier = GatedCacheStore(MemoryStore())
    cache = CacheStore(source, cache_store=tier)

    tier.gate = asyncio.Event()
    reader = asyncio.create_task(cache.get("k", PROTO))
    await tier.entered.wait()  # the value came from the source; its cache-store write waits
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    tier.gate.set()
    tier.gate = None
    await cache.settle()  # the write outlived its cancelled reader

    # The ledger counts only what the cache store really holds...
    info = cache.cache_info()
    held = await held_by(tier)
    assert info["current_size"] == sum(len(value or b"") for value in held.values())
    # ...and the key can still be cached and then served from the cache.
    assert raw(await cache.get("k", PROTO)) == NEW
    requests = source.counts.requests
    assert raw(await cache.get("k", PROTO)) == NEW
    assert raw(await cache.get("k", PROTO)) == NEW
    assert source.counts.requests == requests, "the key is never served from the cache again"


# -- threads, each with its own event loop -----------------------------------------------

KEYS = [f"c/{i}" for i in range(6)]
VERSIONS = 40
READS = 150
LATENCY = 0.0002  # seconds per source read: lets the threads interleave


def version_value(key: str, version: int) -> bytes:
    """The one value ``key`` has at ``version``: it names both, and its length varies."""
    return f"{key}|{version}|".encode() + bytes([65 + version % 26]) * (7 * version % 45)


def parse_version(key: str, data: bytes) -> int | None:
    """The version of ``data`` if it is exactly a value of ``key``, else ``None`` (torn)."""
    parts = data.split(b"|")
    if len(parts) != 3 or parts[0] != key.encode() or not parts[1].isdigit():
        return None
    version = int(parts[1])
    return version if data == version_value(key, version) else None


class History:
    """Versions written per key: begun (a write may be in flight) and completed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.begun = dict.fromkeys(KEYS, 0)
        self.completed = dict.fromkeys(KEYS, 0)
        self.violations: list[str] = []

    def check(self, key: str, floor: int, data: bytes | None, byte_range: Any) -> None:
        """``data`` was read between a moment when ``floor`` was complete and now."""
        with self.lock:
            ceiling = self.begun[key]
        if data is None:
            self.violations.append(f"{key}: read nothing")
            return
        if byte_range is None:
            version = parse_version(key, data)
            candidates = [] if version is None else [version]
        else:
            candidates = [
                v
                for v in range(VERSIONS + 1)
                if expected_bytes(version_value(key, v), byte_range) == data
            ]
        if not candidates:
            self.violations.append(f"{key}: torn or unknown value {data!r}")
        elif not any(floor <= v <= ceiling for v in candidates):
            self.violations.append(
                f"{key}: read version(s) {candidates}, but version {floor} was complete "
                f"before the read began and at most {ceiling} had begun when it ended"
            )


async def _writer(cache: CacheStore, keys: list[str], history: History) -> None:
    for version in range(1, VERSIONS + 1):
        for key in keys:
            with history.lock:
                history.begun[key] = version
            await cache.set(key, buf(version_value(key, version)))
            with history.lock:
                history.completed[key] = version


async def _reader(cache: CacheStore, seed: int, history: History) -> None:
    rng = random.Random(seed)
    ranges: list[ByteRequest | None] = [
        None,
        None,
        RangeByteRequest(0, 4),
        OffsetByteRequest(2),
        SuffixByteRequest(6),
    ]
    for _ in range(READS):
        key = rng.choice(KEYS)
        byte_range = rng.choice(ranges)
        with history.lock:
            floor = history.completed[key]
        history.check(key, floor, raw(await cache.get(key, PROTO, byte_range)), byte_range)
        if rng.random() < 0.05:
            await asyncio.sleep(0)


def _run_in_threads(jobs: list[Callable[[], Awaitable[None]]]) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], Awaitable[None]]) -> None:
        async def main() -> None:
            await job()

        try:
            start.wait(timeout=10)
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]


@pytest.mark.parametrize("cache_set_data", [True, False], ids=["cache-set-data", "no-set-data"])
@pytest.mark.parametrize("tier", ["memory", "store"])
@pytest.mark.parametrize("eviction", ["lru", "lfu"])
def test_threads_with_their_own_loops_share_one_cache(
    tier: str, eviction: str, cache_set_data: bool
) -> None:
    source = LatencyStore(MemoryStore(), latency=LATENCY)
    cache_store = MemoryStore() if tier == "store" else None
    max_size = 160
    cache = CacheStore(
        source,
        cache_store=cache_store,
        max_size=max_size,
        eviction=eviction,
        cache_set_data=cache_set_data,
    )
    history = History()

    async def fill() -> None:
        for key in KEYS:
            await source.set(key, buf(version_value(key, 0)))

    asyncio.run(fill())
    jobs: list[Callable[[], Awaitable[None]]] = [
        lambda: _writer(cache, KEYS[:3], history),
        lambda: _writer(cache, KEYS[3:], history),
    ]
    jobs += [functools.partial(_reader, cache, seed, history) for seed in range(4)]
    _run_in_threads(jobs)

    assert history.violations == []
    info = cache.cache_info()
    assert info["current_size"] <= max_size
    if tier == "memory":
        assert info["current_size"] == memory_bytes_held(cache)
    else:
        assert cache_store is not None
        asyncio.run(cache.settle())  # deletes queued by the last writes of each thread
        tracked = whole_entries(cache)
        in_store = asyncio.run(held_by(cache_store))
        names = sorted(entry.name for entry in tracked.values())
        assert sorted(in_store) == names, "the cache store holds untracked values"
        for entry in tracked.values():
            assert entry.ready
            assert in_store[entry.name] is not None
            assert entry.size == len(in_store[entry.name] or b"")
        ranges = sum(len(value) for value in cache.range_cache._data.values())
        assert info["current_size"] == sum(len(v or b"") for v in in_store.values()) + ranges
        assert_idle(cache)

    async def final() -> None:
        for key in KEYS:
            assert raw(await cache.get(key, PROTO)) == version_value(key, VERSIONS)
            assert raw(await cache.get(key, PROTO)) == version_value(key, VERSIONS)

    asyncio.run(final())
    assert_idle(cache)


ROUNDS = 5


def written(index: int, round_: int) -> int:
    return 1000 * (index + 1) + round_


@pytest.mark.parametrize("tier", ["memory", "store"])
def test_zarr_sync_api_from_several_threads(tier: str) -> None:
    source = LatencyStore(MemoryStore())
    cache = CacheStore(
        source, cache_store=LatencyStore(MemoryStore()) if tier == "store" else None, max_size=2_000
    )
    n_threads, chunk = 6, 10
    array = zarr.create_array(
        store=cache, shape=(n_threads * chunk * 2,), chunks=(chunk,), dtype="i4"
    )
    array[:] = np.arange(array.shape[0])
    errors: list[BaseException] = []
    start = threading.Barrier(n_threads)

    def chunk_is_valid(c: int, part: np.ndarray[Any, Any]) -> bool:
        """Chunk ``c`` is original, or holds one whole write of the thread that owns it."""
        original = np.arange(c * chunk, (c + 1) * chunk)
        versions = [np.full(chunk, written(c, r)) for r in range(ROUNDS)]
        return any(np.array_equal(part, v) for v in [original, *versions])

    def work(index: int) -> None:
        try:
            start.wait(timeout=10)
            mine: zarr.Array[Any] = zarr.open_array(store=cache)
            lo, hi = index * chunk, (index + 1) * chunk
            for round_ in range(ROUNDS):
                whole = np.asarray(mine[:])
                for c in range(n_threads * 2):
                    assert chunk_is_valid(c, whole[c * chunk : (c + 1) * chunk]), (c, whole)
                mine[lo:hi] = np.full(chunk, written(index, round_))
                assert np.array_equal(mine[lo:hi], np.full(chunk, written(index, round_)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    if errors:
        raise errors[0]

    expected = np.arange(array.shape[0])
    for index in range(n_threads):
        expected[index * chunk : (index + 1) * chunk] = written(index, ROUNDS - 1)
    assert np.array_equal(zarr.open_array(store=cache)[:], expected)
    assert np.array_equal(zarr.open_array(store=source)[:], expected)
    info = cache.cache_info()
    assert info["current_size"] <= 2_000
    if tier == "memory":
        assert info["current_size"] == memory_bytes_held(cache)


# -- views, pickling, opening -------------------------------------------------------------


async def test_read_only_view_shares_the_cache() -> None:
    source = LatencyStore(MemoryStore())
    await source.set("k", buf(NEW))
    cache = CacheStore(source)
    view = cache.with_read_only(True)
    assert view.read_only
    assert not cache.read_only

    assert raw(await cache.get("k", PROTO)) == NEW
    requests = source.counts.requests
    hits = cache.cache_stats()["hits"]
    assert raw(await view.get("k", PROTO)) == NEW
    assert source.counts.requests == requests
    assert cache.cache_stats()["hits"] == hits + 1
    assert view.cache_info() == cache.cache_info()

    # A write through the writable store is seen through the read-only view.
    await cache.set("k", buf(OLD))
    assert raw(await view.get("k", PROTO)) == OLD
    with pytest.raises(ValueError, match="read-only"):
        await view.set("k", buf(NEW))
    assert raw(await cache.get("k", PROTO)) == OLD


@pytest.mark.parametrize(
    ("make_eviction", "name"),
    [(lambda: "lfu", "LFU"), (lambda: LFU, "LFU"), (LFU, "LFU"), (lambda: "fifo", "FIFO")],
    ids=["name", "class", "instance", "fifo"],
)
@pytest.mark.parametrize("tier", ["memory", "store"])
async def test_pickle_round_trip_keeps_configuration_and_starts_empty(
    make_eviction: Callable[[], Any], name: str, tier: str
) -> None:
    eviction = make_eviction()
    source = MemoryStore()
    await source.set("k", buf(NEW))
    cache = CacheStore(
        source,
        cache_store=LatencyStore(MemoryStore()) if tier == "store" else None,
        max_size=1234,
        eviction=eviction,
        cache_set_data=False,
    )
    assert raw(await cache.get("k", PROTO)) == NEW
    assert cache.cache_info()["tracked_keys"] == 1

    copy = copied_elsewhere(cache)
    assert isinstance(copy, CacheStore)
    assert copy.max_size == 1234
    assert copy.cache_set_data is False
    info = copy.cache_info()
    assert info["eviction"] == name
    assert type(copy.eviction) is type(cache.eviction)
    assert info["tracked_keys"] == 0
    assert info["current_size"] == 0
    assert copy.cache_stats()["hits"] == copy.cache_stats()["misses"] == 0
    # The original is untouched, and the copy works on its own.
    assert cache.cache_info()["tracked_keys"] == 1
    assert raw(await copy.get("k", PROTO)) == NEW
    assert raw(await copy.get("k", PROTO)) == NEW
    assert copy.cache_stats()["hits"] == 1
    assert copy.cache_info()["tracked_keys"] == 1


async def test_context_manager() -> None:
    source = LatencyStore(MemoryStore())
    await source.set("k", buf(NEW))
    cache = CacheStore(source, max_size=100)
    with cache as entered:
        assert isinstance(entered, CacheStore)
        assert entered.max_size == 100
        assert raw(await entered.get("k", PROTO)) == NEW
        assert raw(await entered.get("k", PROTO)) == NEW
        await entered.set("j", buf(OLD))
        assert raw(await entered.get("j", PROTO)) == OLD
    assert source.counts.requests == 1
    # What was cached inside the block is the same cache as outside it.
    assert cache.cache_info()["tracked_keys"] == 2


async def test_open_classmethod() -> None:
    cache = await CacheStore.open(MemoryStore)
    assert isinstance(cache, CacheStore)
    assert isinstance(cache._store, MemoryStore)
    await cache.set("k", buf(NEW))
    assert raw(await cache.get("k", PROTO)) == NEW
    assert cache.cache_info()["tracked_keys"] == 1
    assert await cache.exists("k")

    seeded = await CacheStore.open(MemoryStore, store_dict={"k": buf(OLD)})
    assert raw(await seeded.get("k", PROTO)) == OLD
    assert raw(await seeded.get("k", PROTO)) == OLD
    assert seeded.cache_stats()["hits"] == 1


async def test_a_pickled_copy_of_a_tinylfu_starts_without_counts() -> None:
    pytest.importorskip("zarr_cachestore_policies")
    from zarr_cachestore_policies import TinyLFU

    admission = TinyLFU()
    cache = CacheStore(MemoryStore(), admission=admission, max_size=100)
    for _ in range(5):
        await cache.get("k", PROTO)
    assert admission.sketch.estimate("k") > 0
    copy = copied_elsewhere(cache)
    assert copy.admission.sketch.estimate("k") == 0
    assert admission.sketch.estimate("k") > 0
