"""Frontier against LRU on the simulator's zarr workloads: what docs/advise.md reports.

Seeded, so the counts are exact; the assertions are the claims, not the numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from zarr_cachestore.simulate import Trace, simulate
from zarr_cachestore.simulate.workloads import panning, sliding_windows, zipf_chunks


def misses(make: Callable[..., Trace], policy: str, size: float, seeds: range) -> int:
    return sum(simulate(make(seed=seed), policy, [size])[0].misses for seed in seeds)


@pytest.mark.parametrize("make", [sliding_windows, panning], ids=["windows", "panning"])
def test_fewer_source_requests_than_lru_on_scans_at_a_third(make: Callable[..., Trace]) -> None:
    assert misses(make, "frontier", 0.3, range(5)) < misses(make, "lru", 0.3, range(5))


@pytest.mark.parametrize("size", [0.1, 0.3, 0.5])
@pytest.mark.parametrize("seed", range(3))
def test_no_worse_than_lru_on_zipf_popular_chunks(size: float, seed: int) -> None:
    seeds = range(seed, seed + 1)
    assert misses(zipf_chunks, "frontier", size, seeds) <= misses(zipf_chunks, "lru", size, seeds)
