"""Sharded arrays and byte ranges through ``CacheStore``.

A sharded array is read with byte ranges: the shard index (a suffix of the shard) and one range
per inner chunk. These tests count the read requests that reach the source, which are exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pytest
import zarr
from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)
from zarr.core.buffer import Buffer, cpu, default_buffer_prototype
from zarr.storage import LocalStore, MemoryStore

from zarr_cachestore import CacheStore
from zarr_cachestore.latency import LatencyStore

PROTOTYPE = default_buffer_prototype()
SHAPE = (64, 64)
INNER = (8, 8)
SHARD = (32, 32)  # 2 x 2 shards of 4 x 4 inner chunks
# Rows and columns 20..43 cross the middle of the array: 2 x 2 inner chunks in each of 4 shards.
WINDOW = (slice(20, 44), slice(20, 44))
OTHER_WINDOW = (slice(2, 14), slice(50, 60))

has_get_ranges = pytest.mark.skipif(
    not hasattr(Store, "get_ranges"), reason="Store.get_ranges exists from zarr 3.2 on"
)


# -- helpers ---------------------------------------------------------------------------------


def source_store(kind: str, tmp_path: Path) -> Store:
    if kind == "memory":
        return MemoryStore()
    return LocalStore(tmp_path / "source")


def expected_data(seed: int = 0) -> npt.NDArray[np.int32]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 1_000_000, size=SHAPE, dtype=np.int32)


def write_sharded(store: Store, data: npt.NDArray[np.int32]) -> None:
    array = zarr.create_array(store, shape=SHAPE, chunks=INNER, shards=SHARD, dtype="int32")
    array[...] = data


def open_through_cache(
    source: LatencyStore, mode: Literal["r", "r+", "a", "w", "w-"] = "r", **kwargs: Any
) -> tuple[CacheStore, zarr.Array[Any]]:
    """A ``CacheStore`` over ``source`` and the array opened through it."""
    cache = CacheStore(source, **kwargs)
    return cache, zarr.open_array(cache, mode=mode)


def requests_during(source: LatencyStore, action: Callable[[], object]) -> int:
    """How many read requests reached ``source`` while ``action`` ran."""
    source.reset_counts()
    action()
    return source.reset_counts().requests


async def put(store: Store, key: str, value: bytes) -> None:
    await store.set(key, cpu.Buffer.from_bytes(value))


async def get_bytes(store: Store, key: str, byte_range: ByteRequest | None = None) -> bytes | None:
    buffer: Buffer | None = await store.get(key, PROTOTYPE, byte_range)
    return None if buffer is None else buffer.to_bytes()


def sliced(value: bytes, byte_range: ByteRequest) -> bytes:
    """``byte_range`` of ``value``, for requests that stay inside it."""
    if isinstance(byte_range, RangeByteRequest):
        return value[byte_range.start : byte_range.end]
    if isinstance(byte_range, OffsetByteRequest):
        return value[byte_range.offset :]
    assert isinstance(byte_range, SuffixByteRequest)
    return value[len(value) - byte_range.suffix :]


@pytest.fixture
def value() -> bytes:
    """A value of 1000 bytes, every byte telling its offset modulo 251."""
    return bytes(i % 251 for i in range(1000))


@pytest.fixture
async def ranged(value: bytes) -> tuple[LatencyStore, CacheStore]:
    """A source holding ``value`` under ``"v"`` and a cache in front of it."""
    source = LatencyStore(MemoryStore())
    await put(source, "v", value)
    return source, CacheStore(source)


# -- a sharded array read twice ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "local"])
def test_second_partial_read_of_a_sharded_array_makes_no_source_requests(
    kind: str, tmp_path: Path
) -> None:
    data = expected_data()
    source = LatencyStore(source_store(kind, tmp_path))
    write_sharded(source, data)
    cache, array = open_through_cache(source)

    first = requests_during(
        source, lambda: np.testing.assert_array_equal(array[WINDOW], data[WINDOW])
    )
    second = requests_during(
        source, lambda: np.testing.assert_array_equal(array[WINDOW], data[WINDOW])
    )

    assert first > 0
    assert second == 0
    assert cache.cache_info()["range_entries"] > 0


def test_the_shard_index_and_chunk_ranges_are_cached_as_ranges_not_whole_shards() -> None:
    data = expected_data()
    source = LatencyStore(MemoryStore())
    write_sharded(source, data)
    cache, array = open_through_cache(source)

    source.reset_counts()
    array[WINDOW]
    fetched = source.reset_counts().bytes_read

    assert fetched < data.nbytes  # only a few inner chunks (and four indexes) were read
    info = cache.cache_info()
    assert info["whole_entries"] == 1  # zarr.json
    assert info["range_entries"] > 0


def test_a_different_window_after_the_first_reads_only_what_is_new() -> None:
    data = expected_data()
    source = LatencyStore(MemoryStore())
    write_sharded(source, data)
    _, array = open_through_cache(source)
    array[WINDOW]

    other = requests_during(source, lambda: array[OTHER_WINDOW])
    again = requests_during(source, lambda: (array[WINDOW], array[OTHER_WINDOW]))

    assert other > 0
    assert again == 0


# -- byte ranges of one value --------------------------------------------------------------


async def test_a_range_of_a_value_held_whole_is_sliced_from_it(
    ranged: tuple[LatencyStore, CacheStore], value: bytes
) -> None:
    source, cache = ranged
    assert await get_bytes(cache, "v") == value
    source.reset_counts()

    assert await get_bytes(cache, "v", RangeByteRequest(10, 50)) == value[10:50]
    assert await get_bytes(cache, "v", OffsetByteRequest(990)) == value[990:]
    assert await get_bytes(cache, "v", RangeByteRequest(995, 2000)) == value[995:]
    assert source.counts.requests == 0


async def test_a_range_inside_a_cached_larger_range_is_sliced_from_it(
    ranged: tuple[LatencyStore, CacheStore], value: bytes
) -> None:
    source, cache = ranged
    assert await get_bytes(cache, "v", RangeByteRequest(100, 400)) == value[100:400]
    source.reset_counts()

    assert await get_bytes(cache, "v", RangeByteRequest(150, 250)) == value[150:250]
    assert await get_bytes(cache, "v", RangeByteRequest(100, 400)) == value[100:400]
    assert await get_bytes(cache, "v", RangeByteRequest(399, 400)) == value[399:400]
    assert source.counts.requests == 0


async def test_a_range_reaching_outside_the_cached_range_goes_to_the_source(
    ranged: tuple[LatencyStore, CacheStore], value: bytes
) -> None:
    source, cache = ranged
    await get_bytes(cache, "v", RangeByteRequest(100, 400))
    source.reset_counts()

    assert await get_bytes(cache, "v", RangeByteRequest(350, 450)) == value[350:450]
    assert source.counts.requests == 1


async def test_a_suffix_after_a_full_read_is_sliced_from_the_whole_value(
    ranged: tuple[LatencyStore, CacheStore], value: bytes
) -> None:
    source, cache = ranged
    await get_bytes(cache, "v")
    source.reset_counts()

    assert await get_bytes(cache, "v", SuffixByteRequest(16)) == value[-16:]
    assert await get_bytes(cache, "v", SuffixByteRequest(1000)) == value
    assert source.counts.requests == 0


async def test_a_shorter_suffix_is_served_by_a_cached_longer_one(
    ranged: tuple[LatencyStore, CacheStore], value: bytes
) -> None:
    source, cache = ranged
    assert await get_bytes(cache, "v", SuffixByteRequest(64)) == value[-64:]
    source.reset_counts()

    assert await get_bytes(cache, "v", SuffixByteRequest(16)) == value[-16:]
    assert source.counts.requests == 0


@pytest.mark.parametrize("kind", ["memory", "local"])
async def test_an_offset_read_after_a_suffix_revealed_the_size_is_normalized(
    kind: str, tmp_path: Path
) -> None:
    short = bytes(range(40))
    source = LatencyStore(source_store(kind, tmp_path))
    await put(source, "short", short)
    cache = CacheStore(source)

    # A suffix of up to twice the value's size that comes back short tells the size: a source
    # that counts a too-long suffix from the end again (zarr 3.1's MemoryStore) returns all of
    # the value for such a suffix too, and only ever fewer than half the bytes asked for.
    assert await get_bytes(cache, "short", SuffixByteRequest(80)) == short
    source.reset_counts()

    assert await get_bytes(cache, "short", OffsetByteRequest(10)) == short[10:]
    assert await get_bytes(cache, "short", RangeByteRequest(30, 80)) == short[30:]
    assert await get_bytes(cache, "short", SuffixByteRequest(5)) == short[-5:]
    assert source.counts.requests == 0


async def test_a_missing_key_read_as_a_range_is_none(
    ranged: tuple[LatencyStore, CacheStore],
) -> None:
    _, cache = ranged
    assert await get_bytes(cache, "absent", RangeByteRequest(0, 10)) is None
    assert await get_bytes(cache, "absent", SuffixByteRequest(10)) is None


# -- writes invalidate ranges --------------------------------------------------------------


def test_a_write_through_the_cache_invalidates_cached_ranges() -> None:
    data = expected_data()
    source = LatencyStore(MemoryStore())
    write_sharded(source, data)
    _, array = open_through_cache(source, mode="r+")
    np.testing.assert_array_equal(array[WINDOW], data[WINDOW])
    np.testing.assert_array_equal(array[OTHER_WINDOW], data[OTHER_WINDOW])

    new = expected_data(seed=1)
    array[...] = new

    np.testing.assert_array_equal(array[WINDOW], new[WINDOW])
    np.testing.assert_array_equal(array[OTHER_WINDOW], new[OTHER_WINDOW])
    np.testing.assert_array_equal(array[...], new)


def test_a_partial_write_through_the_cache_invalidates_the_shards_it_touches() -> None:
    data = expected_data()
    source = LatencyStore(MemoryStore())
    write_sharded(source, data)
    _, array = open_through_cache(source, mode="r+")
    np.testing.assert_array_equal(array[WINDOW], data[WINDOW])

    array[24:28, 24:40] = -1
    data[24:28, 24:40] = -1

    np.testing.assert_array_equal(array[WINDOW], data[WINDOW])
    np.testing.assert_array_equal(array[...], data)


def test_deleting_through_the_cache_invalidates_cached_ranges() -> None:
    data = expected_data()
    source = LatencyStore(MemoryStore())
    write_sharded(source, data)
    cache, array = open_through_cache(source, mode="r+")
    array[WINDOW]

    asyncio.run(cache.delete_dir("c"))

    assert cache.cache_info()["range_entries"] == 0
    np.testing.assert_array_equal(array[WINDOW], np.zeros_like(data[WINDOW]))


def test_after_a_write_straight_to_the_source_clear_cache_makes_reads_fresh(
    tmp_path: Path,
) -> None:
    data = expected_data()
    source = LatencyStore(source_store("local", tmp_path))
    write_sharded(source, data)
    cache, array = open_through_cache(source)
    np.testing.assert_array_equal(array[WINDOW], data[WINDOW])

    new = expected_data(seed=2)
    zarr.open_array(LocalStore(tmp_path / "source"), mode="r+")[...] = new
    asyncio.run(cache.clear_cache())

    assert cache.cache_info()["current_size"] == 0
    np.testing.assert_array_equal(array[WINDOW], new[WINDOW])
    np.testing.assert_array_equal(array[OTHER_WINDOW], new[OTHER_WINDOW])


async def test_set_and_delete_drop_every_range_of_the_key(
    ranged: tuple[LatencyStore, CacheStore], value: bytes
) -> None:
    source, cache = ranged
    await get_bytes(cache, "v", RangeByteRequest(0, 100))
    await get_bytes(cache, "v", SuffixByteRequest(10))

    await cache.set("v", cpu.Buffer.from_bytes(b"fresh"))
    source.reset_counts()
    assert await get_bytes(cache, "v", RangeByteRequest(0, 3)) == b"fre"
    assert await get_bytes(cache, "v", SuffixByteRequest(10)) == b"fresh"
    assert source.counts.requests == 0  # served from the value just written

    await cache.delete("v")
    assert await get_bytes(cache, "v", RangeByteRequest(0, 3)) is None
    assert cache.cache_info()["current_size"] == 0


# -- concurrent misses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "byte_range",
    [RangeByteRequest(100, 300), OffsetByteRequest(900), SuffixByteRequest(50)],
    ids=["range", "offset", "suffix"],
)
async def test_concurrent_identical_range_misses_make_one_source_request(
    value: bytes, byte_range: ByteRequest
) -> None:
    n = 8
    source = LatencyStore(MemoryStore(), latency=0.05)
    await put(source, "v", value)
    cache = CacheStore(source)
    source.reset_counts()

    results = await asyncio.gather(*(get_bytes(cache, "v", byte_range) for _ in range(n)))

    assert results == [sliced(value, byte_range)] * n
    assert source.counts.requests == 1
    assert cache.cache_stats()["coalesced"] == n - 1


async def test_concurrent_different_ranges_are_not_coalesced(value: bytes) -> None:
    source = LatencyStore(MemoryStore(), latency=0.02)
    await put(source, "v", value)
    cache = CacheStore(source)
    source.reset_counts()

    ranges = [RangeByteRequest(i * 100, i * 100 + 50) for i in range(4)]
    results = await asyncio.gather(*(get_bytes(cache, "v", r) for r in ranges))

    assert results == [value[r.start : r.end] for r in ranges]
    assert source.counts.requests == 4
    assert cache.cache_stats()["coalesced"] == 0


# -- get_partial_values and get_ranges -----------------------------------------------------


async def test_get_partial_values_returns_each_range_and_caches_them(
    ranged: tuple[LatencyStore, CacheStore], value: bytes
) -> None:
    source, cache = ranged
    requests: list[tuple[str, ByteRequest | None]] = [
        ("v", RangeByteRequest(0, 10)),
        ("v", RangeByteRequest(500, 700)),
        ("v", OffsetByteRequest(990)),
        ("v", SuffixByteRequest(20)),
        ("absent", RangeByteRequest(0, 10)),
    ]
    expected = [value[0:10], value[500:700], value[990:], value[-20:], None]
    source.reset_counts()

    first = await cache.get_partial_values(PROTOTYPE, requests)
    misses = source.reset_counts().requests
    second = await cache.get_partial_values(PROTOTYPE, requests)

    assert [None if b is None else b.to_bytes() for b in first] == expected
    assert [None if b is None else b.to_bytes() for b in second] == expected
    assert misses == len(requests)
    assert source.counts.requests == 1  # only the missing key is asked again
    assert cache.cache_info()["range_entries"] == 4


async def collect_ranges(
    store: Store, key: str, byte_ranges: list[ByteRequest | None]
) -> dict[int, bytes | None]:
    found: dict[int, bytes | None] = {}
    async for group in store.get_ranges(key, byte_ranges, prototype=PROTOTYPE):  # type: ignore[attr-defined]
        for index, buffer in group:
            found[index] = None if buffer is None else buffer.to_bytes()
    return found


@has_get_ranges
async def test_get_ranges_equals_direct_slices_and_repeats_from_the_cache(
    ranged: tuple[LatencyStore, CacheStore], value: bytes
) -> None:
    source, cache = ranged
    byte_ranges: list[ByteRequest | None] = [
        RangeByteRequest(0, 10),
        RangeByteRequest(10, 40),  # adjacent: merged with the one before
        RangeByteRequest(300, 320),
        OffsetByteRequest(950),
        SuffixByteRequest(25),
        None,
    ]
    expected = {0: value[0:10], 1: value[10:40], 2: value[300:320], 3: value[950:]}
    expected |= {4: value[-25:], 5: value}
    source.reset_counts()

    first = await collect_ranges(cache, "v", byte_ranges)
    assert source.reset_counts().requests > 0
    second = await collect_ranges(cache, "v", byte_ranges)

    assert first == expected
    assert second == expected
    assert source.counts.requests == 0


@has_get_ranges
async def test_get_ranges_of_separate_ranges_repeats_from_the_cache(
    ranged: tuple[LatencyStore, CacheStore], value: bytes
) -> None:
    source, cache = ranged
    byte_ranges: list[ByteRequest | None] = [
        RangeByteRequest(i * 200, i * 200 + 8) for i in range(5)
    ]
    source.reset_counts()

    first = await collect_ranges(cache, "v", byte_ranges)
    assert 0 < source.reset_counts().requests <= len(byte_ranges)  # zarr may merge some
    second = await collect_ranges(cache, "v", byte_ranges)

    expected = {i: value[i * 200 : i * 200 + 8] for i in range(5)}
    assert first == expected
    assert second == expected
    assert source.counts.requests == 0


async def test_a_range_of_a_value_held_in_a_cache_store_reads_only_that_range_from_it() -> None:
    """A small range of a big value held on, say, a local disk is read from it as a range."""
    source = LatencyStore(MemoryStore())
    disk = LatencyStore(MemoryStore())  # stands for a LocalStore cache: any store but MemoryStore
    await source.set("shard", cpu.Buffer.from_bytes(bytes(range(256)) * 64))
    cache = CacheStore(source, cache_store=disk)
    await cache.get("shard", PROTOTYPE)
    disk.reset_counts()

    chunk = await cache.get("shard", PROTOTYPE, RangeByteRequest(1000, 1100))

    assert chunk is not None
    assert chunk.to_bytes() == (bytes(range(256)) * 64)[1000:1100]
    assert (disk.counts.requests, disk.counts.bytes_read) == (1, 100)
    assert source.reset_counts().requests == 1  # only the first, whole read


@has_get_ranges
async def test_get_ranges_of_a_remembered_absence_raises_as_zarr_does() -> None:
    source = LatencyStore(MemoryStore())
    cache = CacheStore(source, cache_missing=True)
    requests: list[ByteRequest | None] = [RangeByteRequest(0, 4), None]
    for store in (source, cache, cache):  # the source, a miss, then the remembered absence
        with pytest.raises(BaseExceptionGroup) as raised:
            await collect_ranges(store, "gone", requests)
        assert raised.group_contains(FileNotFoundError)
    assert cache.cache_stats()["hits"] >= 1
