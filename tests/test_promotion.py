"""Whole-value promotion: enough ranges of a value fetch and keep all of it."""

from __future__ import annotations

import pytest
from zarr.abc.store import RangeByteRequest
from zarr.core.buffer import cpu
from zarr.storage import MemoryStore

from helpers import PROTO
from zarr_cachestore import CacheStore, WholeValuePromotion
from zarr_cachestore.latency import LatencyStore

VALUE = bytes(range(100))


async def cache_over_100_bytes(
    promotion: WholeValuePromotion | None, *, cache_set_data: bool = True
) -> CacheStore:
    source = LatencyStore(MemoryStore())
    await source.set("shard", cpu.Buffer.from_bytes(VALUE))
    return CacheStore(source, max_size=1000, promotion=promotion, cache_set_data=cache_set_data)


async def read(cache: CacheStore, start: int, stop: int) -> bytes:
    buffer = await cache.get("shard", PROTO, RangeByteRequest(start, stop))
    assert buffer is not None
    return buffer.to_bytes()


def counts(cache: CacheStore) -> int:
    source = cache._store
    assert isinstance(source, LatencyStore)
    return source.reset_counts().requests


async def test_below_the_threshold_only_ranges_are_kept() -> None:
    cache = await cache_over_100_bytes(WholeValuePromotion(0.5))
    assert await read(cache, 0, 20) == VALUE[0:20]
    assert await read(cache, 30, 50) == VALUE[30:50]
    assert counts(cache) == 3  # two ranges and one size request
    assert cache.cache_info()["whole_entries"] == 0
    assert cache.cache_info()["range_entries"] == 2


async def test_reaching_the_threshold_fetches_the_whole_value_and_drops_its_ranges() -> None:
    cache = await cache_over_100_bytes(WholeValuePromotion(0.5))
    for start in (0, 20, 40):
        assert await read(cache, start, start + 20) == VALUE[start : start + 20]
    assert counts(cache) == 2 + 1 + 1 + 1  # three ranges, one size, one whole read
    info = cache.cache_info()
    assert (info["whole_entries"], info["range_entries"], info["current_size"]) == (1, 0, 100)
    assert await read(cache, 70, 95) == VALUE[70:95]
    assert counts(cache) == 0


async def test_without_promotion_ranges_never_become_a_whole_value() -> None:
    cache = await cache_over_100_bytes(None)
    for start in range(0, 100, 20):
        await read(cache, start, start + 20)
    assert counts(cache) == 5
    assert cache.cache_info()["whole_entries"] == 0


async def test_a_write_resets_what_was_counted_towards_promotion() -> None:
    cache = await cache_over_100_bytes(WholeValuePromotion(0.5), cache_set_data=False)
    await read(cache, 0, 40)
    await cache.set("shard", cpu.Buffer.from_bytes(VALUE))
    await read(cache, 0, 20)  # 20 bytes since the write: below half of 100
    assert cache.cache_info()["whole_entries"] == 0
    await read(cache, 20, 50)
    assert cache.cache_info()["whole_entries"] == 1


@pytest.mark.parametrize("threshold", [-0.1, 1.5, "half", True])
def test_a_threshold_outside_zero_to_one_is_refused(threshold: object) -> None:
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        WholeValuePromotion(threshold)  # type: ignore[arg-type]


def test_promotion_must_be_a_promotion_strategy() -> None:
    with pytest.raises(TypeError, match=r"promotion must be None or WholeValuePromotion"):
        CacheStore(MemoryStore(), promotion=0.5)  # type: ignore[arg-type]


async def test_a_value_the_cache_could_not_keep_is_never_promoted() -> None:
    source = LatencyStore(MemoryStore())
    await source.set("shard", cpu.Buffer.from_bytes(VALUE))
    cache = CacheStore(source, max_size=60, promotion=WholeValuePromotion(0.25))
    for start in range(0, 100, 10):
        assert await read(cache, start, start + 10) == VALUE[start : start + 10]
    moved = source.reset_counts()
    assert moved.bytes_read == 100, "the 100-byte value was fetched whole, and not kept"
