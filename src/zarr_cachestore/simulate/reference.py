"""The same replay done by libCacheSim (the ``libcachesim`` package), for cross-checking.

Each request is handed to a libCacheSim cache object one at a time, so the counts are exact.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from zarr_cachestore.simulate.replay import CacheSize, Result, resolve_sizes
from zarr_cachestore.simulate.trace import Trace

__all__ = ["LIBCACHESIM_CLASSES", "libcachesim_cache", "libcachesim_simulate"]

#: Our policy names and the libCacheSim classes of the same algorithm (default parameters).
LIBCACHESIM_CLASSES: dict[str, str] = {
    "lru": "LRU",
    "fifo": "FIFO",
    "lfu": "LFU",
    "sieve": "Sieve",
    "clock": "Clock",
    "arc": "ARC",
    "s3fifo": "S3FIFO",
    "wtinylfu": "WTinyLFU",
    "gdsf": "GDSF",
}


def _module() -> Any:
    try:
        return importlib.import_module("libcachesim")
    except ImportError as exc:
        raise ImportError("comparing with libCacheSim needs `pip install libcachesim`") from exc


def libcachesim_cache(name: str, cache_size: int) -> Any:
    """A libCacheSim cache running the algorithm we call ``name``."""
    if name not in LIBCACHESIM_CLASSES:
        raise ValueError(f"no libCacheSim counterpart for {name!r}")
    return getattr(_module(), LIBCACHESIM_CLASSES[name])(cache_size)


def _replay(cache: Any, request: Any, trace: Trace) -> tuple[int, int]:
    get = cache.get
    hits = hit_bytes = 0
    for keys, sizes in trace.chunks():
        for key, size in zip(keys, sizes, strict=True):
            request.obj_id, request.obj_size = key, size
            if get(request):
                hits += 1
                hit_bytes += size
    return len(trace) - hits, trace.total_bytes - hit_bytes


def libcachesim_simulate(
    trace: Trace, names: Iterable[str], cache_sizes: Iterable[CacheSize]
) -> list[Result]:
    """Like :func:`~zarr_cachestore.simulate.simulate`, with libCacheSim's implementations."""
    lcs = _module()
    working_set = trace.working_set().bytes
    capacities = resolve_sizes(cache_sizes, working_set)
    results = []
    for name in names:
        for capacity in capacities:
            request = lcs.Request()
            misses, miss_bytes = _replay(libcachesim_cache(name, capacity), request, trace)
            fraction = capacity / working_set if working_set else 0.0
            results.append(
                Result(name, capacity, fraction, len(trace), trace.total_bytes, misses, miss_bytes)
            )
    return results
