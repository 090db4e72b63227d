"""Replays with a prefetcher: hand-computed counts, gains on scans, waste on random reads."""

from __future__ import annotations

import random

import hypothesis.strategies as st
import pytest
from hypothesis import given

from zarr_cachestore import Access, ChunkGrid, Fetch, NoPrefetch, Sequential
from zarr_cachestore.simulate import simulate
from zarr_cachestore.simulate.prefetch import (
    PrefetchResult,
    format_prefetch_table,
    simulate_prefetch,
)

LINE = ChunkGrid("a", (100,), (10,))  # ten chunks in a row
GRID = ChunkGrid("t", (640, 40), (10, 10))  # 64 x 4 chunks
SIZE = 1000


def scan(n: int) -> list[tuple[str, int]]:
    return [(LINE.key_for((i,)), 1) for i in range(n)]


def sliding_window(rows: int = 4, columns: tuple[int, ...] = (1, 2)) -> list[tuple[str, int]]:
    """A window of ``rows`` x ``columns`` chunks sliding down ``GRID``, read in C order."""
    return [
        (GRID.key_for((i, j)), SIZE)
        for top in range(GRID.grid_shape[0] - rows + 1)
        for i in range(top, top + rows)
        for j in columns
    ]


def random_reads(n: int, seed: int = 0) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    shape = GRID.grid_shape
    return [
        (GRID.key_for((rng.randrange(shape[0]), rng.randrange(shape[1]))), SIZE) for _ in range(n)
    ]


def test_hand_computed_scan_in_a_cache_that_holds_everything() -> None:
    # Reads 0 1 2 3 4. After 2 the run is seen: 3 and 4 are fetched and hit; reads 3 and 4
    # fetch 5 and 6 (sized as the read that asked for them), which are never read.
    (result,) = simulate_prefetch(scan(5), Sequential(n=2), [10], grids=[LINE])
    assert result == PrefetchResult("lru", "Sequential", 10, 5, 2, 0, 4, 4, 2, 2)
    assert (result.hit_ratio, result.baseline_hit_ratio) == (2 / 5, 0.0)


def test_hand_computed_scan_in_a_cache_too_small_for_the_run() -> None:
    # capacity 2, LRU:  read 0, 1, 2 -> {1, 2}; fetch 3, 4 -> {3, 4}
    #   read 3: hit (a prefetch hit); fetch 5 evicts 4, unread     -> {3, 5}, wasted 1
    #   read 4: miss, evicts 3 -> {5, 4}; fetch 6 evicts 5, unread -> {4, 6}, wasted 2
    #   the end: 6 was never read                                  -> wasted 3
    (result,) = simulate_prefetch(scan(5), Sequential(n=2), [2], grids=[LINE])
    counts = (result.hits, result.prefetched, result.prefetch_hits, result.wasted_bytes)
    assert counts == (1, 4, 1, 3)


def test_without_prefetching_the_replay_is_the_simulators() -> None:
    records = sliding_window() + random_reads(500)
    for policy in ("lru", "fifo", "lfu"):
        for size in (SIZE * 5, SIZE * 40):
            (ours,) = simulate_prefetch(
                records, NoPrefetch(), [size], grids=[GRID], eviction=policy
            )
            (theirs,) = simulate(records, policy, [size])
            assert ours.requests - ours.baseline_hits == theirs.misses
            assert (ours.hits, ours.prefetched, ours.wasted_bytes) == (ours.baseline_hits, 0, 0)


def test_sequential_prefetching_pays_on_a_sliding_window() -> None:
    # 61 windows of 8 chunks. Without prefetching, the first window misses 8 and every later
    # one its 2 new chunks: 128 misses. With it, only the first 6 reads miss (the third row
    # shows the run) and every other chunk is fetched before it is read.
    (result,) = simulate_prefetch(sliding_window(), "sequential", [SIZE * 24], grids=[GRID])
    assert (result.requests, result.baseline_hits, result.hits) == (488, 488 - 128, 488 - 6)
    assert result.prefetched == result.prefetch_hits == 128 - 6
    assert result.wasted_bytes == 0


def test_sequential_prefetching_is_wasted_in_a_cache_too_small_to_keep_it() -> None:
    (result,) = simulate_prefetch(sliding_window(), "sequential", [SIZE * 10], grids=[GRID])
    assert result.hit_ratio <= result.baseline_hit_ratio
    assert result.wasted_bytes > 0.9 * result.prefetched_bytes


def test_prefetching_random_reads_wastes_what_the_report_shows() -> None:
    records = random_reads(2000)
    results = simulate_prefetch(records, "neighbors", [SIZE * 40], grids=[GRID])
    (result,) = results
    assert result.prefetched > 100
    assert result.wasted_bytes > 0.9 * result.prefetched_bytes
    assert result.wasted_bytes == (result.prefetched - result.prefetch_hits) * SIZE
    row = format_prefetch_table(results).splitlines()[2]
    assert f"{result.prefetched} ({result.prefetched_bytes / 1024:.1f} KiB)" in row
    assert row.endswith(f"{result.wasted_bytes / 1024:.1f} KiB")


def test_sequential_asks_for_nothing_on_random_reads() -> None:
    (result,) = simulate_prefetch(random_reads(2000), "sequential", [SIZE * 40], grids=[GRID])
    assert (result.prefetched, result.hits) == (0, result.baseline_hits)


def test_grids_are_found_for_v2_keys_and_nested_arrays() -> None:
    v2 = ChunkGrid("g/old", (50, 50), (10, 10), encoding="v2", separator="/")
    records = [(v2.key_for((i, 1)), 1) for i in range(3)]
    (result,) = simulate_prefetch(records, Sequential(n=2), [100], grids=[v2, GRID])
    assert result.prefetched == 2


class RangeFetcher(NoPrefetch):
    def on_access(self, access: Access) -> list[Fetch]:
        from zarr.abc.store import RangeByteRequest

        return [Fetch("other", RangeByteRequest(0, 1))]


def test_byte_range_fetches_are_refused() -> None:
    with pytest.raises(ValueError, match="replays whole values; RangeFetcher asked for"):
        simulate_prefetch(scan(2), RangeFetcher(), [10])


@given(
    reads=st.lists(st.integers(0, 9), max_size=60),
    capacity=st.integers(0, 12),
    prefetcher=st.sampled_from(["sequential", "neighbors"]),
)
def test_every_prefetched_byte_is_either_read_or_wasted(
    reads: list[int], capacity: int, prefetcher: str
) -> None:
    records = [(LINE.key_for((i,)), 1) for i in reads]
    (result,) = simulate_prefetch(records, prefetcher, [capacity], grids=[LINE])
    assert result.prefetched_bytes == result.prefetched
    assert result.prefetch_hits + result.wasted_bytes == result.prefetched
    assert result.prefetch_hits <= result.hits <= len(reads)
