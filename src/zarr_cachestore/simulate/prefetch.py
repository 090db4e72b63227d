"""Replaying traces of store keys through a prefetcher: what prefetching gains and wastes.

The model, one request at a time: the request is a hit if its key is held (``on_hit``), else
it is inserted as :mod:`~zarr_cachestore.simulate.replay` inserts misses (evicting until it
fits; never if larger than the cache). Then the prefetcher is told of the access, with the grid
of the key's array if one is given, and each key it answers that is not held is inserted the
same way, right away, in the order answered. A prefetched key takes the size of its first
request in the trace, or the size of the request that triggered it if the trace never requests
it. A *prefetch hit* is the first hit on a prefetched key while it is still held; its bytes are
*wasted* if it is evicted before that hit or still unread at the end of the trace. Fetches of
byte ranges are not modelled (the trace names whole values) and are refused.

Every replay runs twice from fresh strategies, without and with prefetching, so the two hit
ratios are measured side by side.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import attrs

from zarr_cachestore.grid import ChunkGrid, metadata_keys
from zarr_cachestore.prefetch import Access, NoPrefetch, PrefetchPolicy
from zarr_cachestore.protocols import EvictionPolicy
from zarr_cachestore.registry import resolve
from zarr_cachestore.simulate.replay import CacheSize, _fresh, label_of, resolve_sizes
from zarr_cachestore.simulate.report import format_bytes

__all__ = ["PrefetchResult", "format_prefetch_table", "simulate_prefetch"]


@attrs.frozen
class PrefetchResult:
    """One eviction policy with one prefetcher at one cache size, against no prefetching."""

    policy: str
    prefetcher: str
    cache_size: int
    requests: int
    hits: int
    baseline_hits: int  # the same replay without prefetching
    prefetched: int  # keys inserted by prefetching
    prefetched_bytes: int
    prefetch_hits: int
    wasted_bytes: int  # prefetched, then evicted or never read

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else 0.0

    @property
    def baseline_hit_ratio(self) -> float:
        return self.baseline_hits / self.requests if self.requests else 0.0


@attrs.define
class _Cache:
    """The held keys of one replay, their sizes, and the prefetched keys not yet read."""

    policy: EvictionPolicy
    capacity: int
    held: dict[Hashable, int] = attrs.Factory(dict)
    unread: dict[Hashable, int] = attrs.Factory(dict)
    used: int = 0
    wasted_bytes: int = 0

    def insert(self, key: str, size: int) -> bool:
        """Insert ``key`` (not held), evicting until it fits; ``False`` if it never fits."""
        if size > self.capacity:
            return False
        before_insert = getattr(self.policy, "before_insert", None)
        if before_insert is not None:
            before_insert(key, size)
        self.used += size
        while self.used > self.capacity:
            victim = self.policy.evict()
            self.used -= self.held.pop(victim)
            self.wasted_bytes += self.unread.pop(victim, 0)
        self.held[key] = size
        self.policy.on_insert(key, size)
        return True


def _grid_of(key: str, grids: dict[str, ChunkGrid]) -> ChunkGrid | None:
    for metadata in metadata_keys(key):
        grid = grids.get(metadata.rpartition("/")[0])
        if grid is not None:
            return grid
    return None


@attrs.define
class _Counts:
    hits: int = 0
    prefetched: int = 0
    prefetched_bytes: int = 0
    prefetch_hits: int = 0
    wasted_bytes: int = 0


def _replay(
    records: Sequence[tuple[str, int]],
    first_sizes: dict[str, int],
    grids: dict[str, ChunkGrid],
    cache: _Cache,
    prefetcher: PrefetchPolicy,
) -> _Counts:
    counts = _Counts()
    for key, size in records:
        if key in cache.held:
            counts.hits += 1
            cache.policy.on_hit(key)
            counts.prefetch_hits += cache.unread.pop(key, None) is not None
        else:
            cache.insert(key, size)
        for fetch in prefetcher.on_access(Access.of(key, _grid_of(key, grids))):
            if fetch.byte_range is not None:
                raise ValueError(
                    f"the simulator replays whole values; {type(prefetcher).__name__} asked "
                    f"for {fetch.byte_range} of {fetch.key!r}"
                )
            fetch_size = first_sizes.get(fetch.key, size)
            if fetch.key not in cache.held and cache.insert(fetch.key, fetch_size):
                counts.prefetched += 1
                counts.prefetched_bytes += fetch_size
                cache.unread[fetch.key] = fetch_size
    counts.wasted_bytes = cache.wasted_bytes + sum(cache.unread.values())
    return counts


def _fresh_prefetcher(spec: Any) -> PrefetchPolicy:
    """A new prefetcher for ``spec``; instances are deep-copied."""
    policy: PrefetchPolicy = resolve(
        "prefetch", spec if isinstance(spec, str | type) else copy.deepcopy(spec)
    )
    return policy


def simulate_prefetch(
    records: Iterable[tuple[str, int]],
    prefetcher: Any,
    cache_sizes: Iterable[CacheSize],
    *,
    grids: Iterable[ChunkGrid] = (),
    eviction: Any = "lru",
) -> list[PrefetchResult]:
    """Replay ``(store key, size)`` records with and without ``prefetcher``, at each size.

    ``prefetcher`` and ``eviction`` are names, classes or instances (instances are copied for
    each replay); ``grids`` are the chunk grids of the arrays the keys belong to; cache sizes
    are bytes (``int``) or fractions of the working set (``float``).
    """
    records = list(records)
    first_sizes: dict[str, int] = {}
    for key, size in records:
        first_sizes.setdefault(key, size)
    by_path = {grid.path: grid for grid in grids}
    results = []
    for capacity in resolve_sizes(cache_sizes, sum(first_sizes.values())):
        without, with_ = (
            _replay(records, first_sizes, by_path, _Cache(_fresh(eviction, capacity), capacity), p)
            for p in (NoPrefetch(), _fresh_prefetcher(prefetcher))
        )
        results.append(
            PrefetchResult(
                label_of(eviction),
                label_of(prefetcher),
                capacity,
                len(records),
                baseline_hits=without.hits,
                **attrs.asdict(with_),
            )
        )
    return results


def format_prefetch_table(results: Sequence[PrefetchResult]) -> str:
    """One row per result: hit ratios without and with prefetching, and what it cost."""
    header = ["policy", "prefetch", "cache size", "hit ratio", "with prefetch", "prefetched"]
    header += ["prefetch hits", "wasted"]
    rows = [header] + [
        [
            r.policy,
            r.prefetcher,
            format_bytes(r.cache_size),
            f"{r.baseline_hit_ratio:.4f}",
            f"{r.hit_ratio:.4f}",
            f"{r.prefetched} ({format_bytes(r.prefetched_bytes)})",
            str(r.prefetch_hits),
            format_bytes(r.wasted_bytes),
        ]
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    align = "<<" + ">" * (len(header) - 2)
    lines = [
        "  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths, strict=True)) for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
