"""Offline references for a trace: what a cache that knows the future could do.

Two are computed, each at the same cache sizes as a replay, as :class:`Result` rows:

* ``"belady"``: Belady's MIN under the replay's rules (every miss that fits is inserted): evict
  the held object whose next request is furthest away. It is a real schedule, so it is an
  *upper* bound on the fewest misses under those rules. For objects of one size it is the
  optimum under them; with variable sizes it is a heuristic and can miss more (evicting a small
  object needed last may not make room, and then a larger one goes too).
* ``"pfoo-l"``: a *lower* bound on misses, PFOO-L from Berger, Beckmann and Harchol-Balter,
  "Practical Bounds on Optimal Caching with Variable Object Sizes", SIGMETRICS 2018. Keeping an
  object from one request to its next costs ``size x interval`` byte-steps; a cache of ``C``
  bytes offers at most ``C x (n - 1)`` over a trace of ``n`` requests. Relaxing the capacity to
  hold on average only, the most hits are the cheapest intervals that fit in that total, so no
  policy, even one that may decline to insert, misses fewer. For the byte miss ratio the same
  relaxation is solved as a fractional knapsack (intervals by length, shortest first), a lower
  bound on missed bytes.

The optimum of the replay's rules lies between them: ``pfoo-l <= OPT <= belady``. A policy's
gap to ``pfoo-l`` may be partly the bound's slack; its gap to ``belady`` is a gap to a schedule
that exists.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

import numpy as np

from zarr_cachestore.simulate.readers import next_access
from zarr_cachestore.simulate.replay import CacheSize, Result, resolve_sizes
from zarr_cachestore.simulate.trace import Trace

__all__ = ["BOUNDS", "belady", "bounds", "pfoo_lower"]

#: The names of the references, as they appear in results.
BOUNDS = ("belady", "pfoo-l")


def _results(trace: Trace, label: str, outcomes: Iterable[tuple[int, int, int]]) -> list[Result]:
    working_set = trace.working_set().bytes
    return [
        Result(
            label,
            capacity,
            capacity / working_set if working_set else 0.0,
            len(trace),
            trace.total_bytes,
            misses,
            miss_bytes,
        )
        for capacity, misses, miss_bytes in outcomes
    ]


def _belady_misses(
    keys: list[int], sizes: list[int], following: list[int], capacity: int
) -> tuple[int, int]:
    never = len(keys)
    held: dict[int, int] = {}  # key -> size
    due: dict[int, int] = {}  # key -> index of its next request
    heap: list[tuple[int, int]] = []  # (-next request, key), stale items skipped
    used = misses = miss_bytes = 0
    for i, (key, size) in enumerate(zip(keys, sizes, strict=True)):
        nxt = following[i] if following[i] >= 0 else never
        if key in held:
            due[key] = nxt
            heapq.heappush(heap, (-nxt, key))
            continue
        misses += 1
        miss_bytes += size
        if size > capacity:
            continue
        used += size
        while used > capacity:
            when, victim = heapq.heappop(heap)
            if due.get(victim) == -when:
                used -= held.pop(victim)
                del due[victim]
        held[key], due[key] = size, nxt
        heapq.heappush(heap, (-nxt, key))
        if len(heap) > 2 * len(held) + 64:
            heap = [(-when, k) for k, when in due.items()]
            heapq.heapify(heap)
    return misses, miss_bytes


def belady(trace: Trace, cache_sizes: Iterable[CacheSize]) -> list[Result]:
    """Belady's MIN (furthest next request leaves) at each size; optimal for equal sizes only."""
    capacities = resolve_sizes(cache_sizes, trace.working_set().bytes)
    keys, sizes = trace.keys.tolist(), trace.sizes.tolist()
    following = next_access(trace.keys).tolist()
    outcomes = [(c, *_belady_misses(keys, sizes, following, c)) for c in capacities]
    return _results(trace, "belady", outcomes)


def pfoo_lower(trace: Trace, cache_sizes: Iterable[CacheSize]) -> list[Result]:
    """PFOO-L at each size: lower bounds on misses and on missed bytes (see the module).

    An object whose size changes is weighed at its smallest size, so the bounds hold for any
    rule about which size a held object keeps.
    """
    capacities = resolve_sizes(cache_sizes, trace.working_set().bytes)
    n = len(trace)
    following = next_access(trace.keys)
    start = np.flatnonzero(following >= 0)
    end = following[start]
    _, dense = np.unique(trace.keys, return_inverse=True)
    smallest = np.full(int(dense.max()) + 1 if n else 0, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest, dense, trace.sizes.astype(np.int64))
    weight = smallest[dense[start]]  # bytes held from a request to the next of its object
    cost = weight * (end - start)  # byte-steps of keeping it
    value = trace.sizes[end].astype(np.int64)  # bytes of the hit it buys
    by_cost = np.argsort(cost, kind="stable")
    by_density = np.argsort(-value / np.maximum(cost, 1), kind="stable")
    outcomes = []
    for capacity in capacities:
        budget = capacity * max(n - 1, 0)
        fits = weight <= capacity
        # Misses: as many intervals as fit, cheapest first.
        spent = np.cumsum(cost[by_cost][fits[by_cost]])
        hits = int(np.searchsorted(spent, budget, side="right"))
        # Missed bytes: a fractional knapsack of hit bytes, most bytes per byte-step first.
        order = by_density[fits[by_density]]
        spent = np.cumsum(cost[order])
        whole = int(np.searchsorted(spent, budget, side="right"))
        hit_bytes = int(value[order[:whole]].sum())
        if whole < order.size:
            left = budget - (int(spent[whole - 1]) if whole else 0)
            hit_bytes += left * int(value[order[whole]]) // int(cost[order[whole]])
        outcomes.append((capacity, n - hits, trace.total_bytes - hit_bytes))
    return _results(trace, "pfoo-l", outcomes)


def bounds(trace: Trace, cache_sizes: Iterable[CacheSize]) -> list[Result]:
    """Both references, Belady first, at each size."""
    sizes = list(cache_sizes)
    return belady(trace, sizes) + pfoo_lower(trace, sizes)
