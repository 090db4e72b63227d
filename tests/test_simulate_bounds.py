"""Belady and PFOO-L against the true optimum, found by exhaustive search on tiny traces.

The search tries every choice of what to keep after every request: with ``bypass`` a missed
object may also be left out (any policy at all); without it every miss that fits is inserted,
as in the replay. The tests show which reference is a bound and which is not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from itertools import combinations

from hypothesis import given
from hypothesis import strategies as st

from zarr_cachestore.simulate import Trace, simulate
from zarr_cachestore.simulate.bounds import belady, bounds, pfoo_lower

Records = list[tuple[int, int]]


def optimum(records: Records, capacity: int, *, bypass: bool, cost: Callable[[int], int]) -> int:
    """The least total ``cost(size)`` of the misses, over every schedule (exhaustive)."""
    size_of = dict(records)

    def subsets(held: frozenset[int]) -> list[frozenset[int]]:
        items = sorted(held)
        return [frozenset(c) for r in range(len(items) + 1) for c in combinations(items, r)]

    @functools.cache
    def best(i: int, held: frozenset[int]) -> int:
        if i == len(records):
            return 0
        key, size = records[i]
        if key in held:
            return best(i + 1, held)
        choices = [s for s in subsets(held) if sum(size_of[k] for k in s) + size <= capacity]
        states = [s | {key} for s in choices]
        if bypass or size > capacity:
            states.append(held)
        return cost(size) + min(best(i + 1, s) for s in states)

    return best(0, frozenset())


def misses(records: Records, capacity: int, *, bypass: bool) -> int:
    return optimum(records, capacity, bypass=bypass, cost=lambda size: 1)


def missed_bytes(records: Records, capacity: int) -> int:
    return optimum(records, capacity, bypass=True, cost=lambda size: size)


def one(results: list) -> tuple[int, int]:  # type: ignore[type-arg]
    (result,) = results
    return result.misses, result.miss_bytes


@st.composite
def tiny_traces(draw: st.DrawFn, max_size: int = 4) -> tuple[Records, int]:
    n_objects = draw(st.integers(1, 5))
    sizes = draw(st.lists(st.integers(1, max_size), min_size=n_objects, max_size=n_objects))
    keys = draw(st.lists(st.integers(0, n_objects - 1), min_size=1, max_size=10))
    return [(k, sizes[k]) for k in keys], draw(st.integers(1, 3 * max_size))


@given(tiny_traces())
def test_pfoo_l_never_exceeds_the_optimum(case: tuple[Records, int]) -> None:
    records, capacity = case
    bound, bound_bytes = one(pfoo_lower(Trace.from_records(records), [capacity]))
    assert bound <= misses(records, capacity, bypass=True)
    assert bound_bytes <= missed_bytes(records, capacity)


@given(tiny_traces())
def test_belady_is_a_schedule_so_never_beats_the_optimum(case: tuple[Records, int]) -> None:
    records, capacity = case
    trace = Trace.from_records(records)
    found, _ = one(belady(trace, [capacity]))
    assert found >= misses(records, capacity, bypass=False)


@given(tiny_traces(max_size=1))
def test_belady_is_optimal_for_equal_sizes(case: tuple[Records, int]) -> None:
    records, capacity = case
    found, _ = one(belady(Trace.from_records(records), [capacity]))
    assert found == misses(records, capacity, bypass=False)


def test_declining_to_insert_can_beat_belady() -> None:
    # One slot, A B A: the replay must insert B over A; a cache that may decline keeps A.
    records = [(0, 1), (1, 1), (0, 1)]
    assert one(belady(Trace.from_records(records), [1]))[0] == 3
    assert misses(records, 1, bypass=True) == 2


def test_belady_is_not_optimal_for_variable_sizes() -> None:
    # Cache 3: C(2) A(1) B(2) C A. For B, Belady evicts A (needed last) and then, still short
    # of room, C: 5 misses. Evicting C alone makes room, and A hits at the end: 4 misses.
    records = [(2, 2), (0, 1), (1, 2), (2, 2), (0, 1)]
    assert one(belady(Trace.from_records(records), [3]))[0] == 5
    assert misses(records, 3, bypass=False) == 4


def test_pfoo_l_can_be_below_the_optimum() -> None:
    # Two objects of 2 bytes alternate in a 3-byte cache: on average a little over one fits,
    # but at any moment only one does.
    records = [(k % 2, 2) for k in range(8)]
    bound, _ = one(pfoo_lower(Trace.from_records(records), [3]))
    assert bound < misses(records, 3, bypass=True)


def test_bounds_bracket_policies_on_a_zipf_trace() -> None:
    from zarr_cachestore.simulate import zipf

    trace = zipf(4000, 400, 0.9, seed=3, size=100, size_dist="lognormal")
    refs = {(r.policy, r.cache_size): r for r in bounds(trace, [0.05, 0.2])}
    for r in simulate(trace, ["lru", "fifo", "lfu"], [0.05, 0.2]):
        assert refs["pfoo-l", r.cache_size].misses <= r.misses
        assert refs["pfoo-l", r.cache_size].miss_bytes <= r.miss_bytes
        assert refs["pfoo-l", r.cache_size].misses <= refs["belady", r.cache_size].misses
