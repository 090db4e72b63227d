"""The hit and miss paths, as ratios against zarr's cache and a bare ``MemoryStore``.

All ways read the same keys from warm caches (or, for misses, from fresh ones) in interleaved
rounds; see :mod:`benchmarks.harness`.
"""

from __future__ import annotations

import logging
import random
import statistics
from collections.abc import Callable

from zarr.abc.store import RangeByteRequest, Store
from zarr.storage import MemoryStore

from benchmarks.harness import Row, Timed, duration, interleave, median_ratio, per_op, ratio_row
from benchmarks.stores import PROTO, keys_of, memory_source, our_cache, zarr_cache

SECTION = "hits and misses (time per op, ours / baseline; below 1: ours is faster)"


def reader(store: Store, keys: list[str], repeat: int, request: RangeByteRequest | None) -> Timed:
    """A timed batch: ``repeat`` passes of ``store.get`` over ``keys``."""

    async def batch() -> None:
        get = store.get
        for _ in range(repeat):
            for key in keys:
                await get(key, PROTO, request)

    return lambda: per_op(repeat * len(keys), batch)


async def warm(stores: list[Store], keys: list[str], request: RangeByteRequest | None) -> None:
    for store in stores:
        await reader(store, keys, 1, request)()


async def whole_value_hits(keys: int, value_bytes: int, rounds: int, repeat: int) -> list[Row]:
    names = keys_of(keys)
    source = memory_source(names, value_bytes)
    ways = {"ours": our_cache(source), "zarr": zarr_cache(source), "bare": source}
    ways["ours, cache_store=MemoryStore()"] = our_cache(source, cache_store=MemoryStore())
    await warm(list(ways.values()), names, None)
    times = await interleave(
        {way: reader(store, names, repeat, None) for way, store in ways.items()}, rounds
    )
    return [
        ratio_row(SECTION, "whole-value hit vs zarr's CacheStore", times, "ours", "zarr"),
        ratio_row(
            SECTION,
            "whole-value hit, cache_store=MemoryStore(), vs zarr's CacheStore",
            times,
            "ours, cache_store=MemoryStore()",
            "zarr",
        ),
        ratio_row(SECTION, "whole-value hit vs bare MemoryStore.get", times, "ours", "bare"),
    ]


async def range_hits(keys: int, value_bytes: int, rounds: int, repeat: int) -> list[Row]:
    names = keys_of(keys)
    source = memory_source(names, value_bytes)
    request = RangeByteRequest(100, min(4196, value_bytes))
    ways = {"ours": our_cache(source), "zarr": zarr_cache(source)}
    await warm(list(ways.values()), names, request)
    times = await interleave(
        {way: reader(store, names, repeat, request) for way, store in ways.items()}, rounds
    )
    return [
        ratio_row(SECTION, "repeated byte-range hit vs zarr's CacheStore", times, "ours", "zarr")
    ]


async def miss_overhead(keys: int, value_bytes: int, rounds: int) -> list[Row]:
    """Every read misses a fresh cache and is answered at once by a ``MemoryStore``."""
    names = keys_of(keys)
    source = memory_source(names, value_bytes)
    builders: dict[str, Callable[[], Store]] = {
        "ours": lambda: our_cache(source),
        "zarr": lambda: zarr_cache(source),
        "bare": lambda: source,
    }

    def fresh(build: Callable[[], Store]) -> Timed:
        async def timed() -> float:
            return await reader(build(), names, 1, None)()  # built before the clock starts

        return timed

    times = await interleave({way: fresh(build) for way, build in builders.items()}, rounds)
    return [
        ratio_row(
            SECTION, "miss (source answers at once) vs zarr's CacheStore", times, "ours", "zarr"
        ),
        ratio_row(
            SECTION, "miss (source answers at once) vs bare MemoryStore.get", times, "ours", "bare"
        ),
    ]


async def logging_cost(keys: int, value_bytes: int, rounds: int, repeat: int) -> list[Row]:
    """A hit with the ``zarr_cachestore`` logger at DEBUG over one at WARNING (about 1.0 if the
    hit path does not log)."""
    names = keys_of(keys)
    store = our_cache(memory_source(names, value_bytes))
    await warm([store], names, None)
    log = logging.getLogger("zarr_cachestore")
    level, handler = log.level, logging.NullHandler()
    log.addHandler(handler)

    def at(new_level: int) -> Timed:
        timed = reader(store, names, repeat, None)

        async def run() -> float:
            log.setLevel(new_level)
            return await timed()

        return run

    try:
        times = await interleave(
            {"debug": at(logging.DEBUG), "warning": at(logging.WARNING)}, rounds
        )
    finally:
        log.setLevel(level)
        log.removeHandler(handler)
    return [
        Row(
            "logging (a hit, logger at DEBUG / at WARNING; about 1.0 if hits do not log)",
            "hit, zarr_cachestore logger at DEBUG vs WARNING",
            median_ratio(times["debug"], times["warning"]),
            detail=f"{duration(times['debug'])} vs {duration(times['warning'])}",
        )
    ]


async def scaling(small: int, large: int, sample: int, rounds: int, repeat: int) -> list[Row]:
    """A hit in a cache of ``large`` entries over one of ``small``, next to the same quotient
    for a plain dict lookup with the same keys."""
    rng = random.Random(0)
    large_keys = keys_of(large)
    small_keys = large_keys[:small]
    samples = {
        "small": rng.sample(small_keys, min(sample, small)),
        "large": rng.sample(large_keys, min(sample, large)),
    }
    source = memory_source(large_keys, 16)
    caches = {"small": our_cache(source), "large": our_cache(source)}
    for size, keys in (("small", small_keys), ("large", large_keys)):
        for key in keys:  # a write through the cache books the entry as a miss would
            await caches[size].set(key, source._store_dict[key])
    dicts = {"small": dict.fromkeys(small_keys, 0), "large": dict.fromkeys(large_keys, 0)}

    def dict_reader(table: dict[str, int], keys: list[str]) -> Timed:
        passes = repeat * 20  # a dict lookup is short: more passes for a measurable batch

        async def batch() -> None:
            for _ in range(passes):
                for key in keys:
                    table[key]

        return lambda: per_op(passes * len(keys), batch)

    ways: dict[str, Timed] = {}
    for size in ("small", "large"):
        ways[f"ours {size}"] = reader(caches[size], samples[size], repeat, None)
        ways[f"dict {size}"] = dict_reader(dicts[size], samples[size])
    times = await interleave(ways, rounds)
    ours = median_ratio(times["ours large"], times["ours small"])
    plain = median_ratio(times["dict large"], times["dict small"])
    section = f"scaling (a hit at {large:,} entries / at {small:,})"
    return [
        Row(
            section,
            "ours",
            ours,
            detail=f"{duration(times['ours large'])} vs {duration(times['ours small'])}",
        ),
        Row(
            section,
            "plain dict lookup",
            plain,
            detail=f"{duration(times['dict large'])} vs {duration(times['dict small'])}",
        ),
        Row(
            section,
            "ours / dict (about 1.0: the cache grows as a dict does)",
            ours / plain,
            detail=(
                f"time a hit gains: ours {_gain(times['ours large'], times['ours small'])}, "
                f"dict {_gain(times['dict large'], times['dict small'])}"
            ),
        ),
    ]


def _gain(large: list[float], small: list[float]) -> str:
    """The median over rounds of ``large - small``, in ns."""
    return f"{statistics.median(a - b for a, b in zip(large, small, strict=True)) * 1e9:.0f} ns"
