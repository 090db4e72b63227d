"""Replay semantics: hand-computed miss counts, oversized objects, sizes, custom policies."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

import pytest

from zarr_cachestore import LRU
from zarr_cachestore.simulate import Trace, resolve_sizes, simulate, zipf

# A B C A D B E A at unit sizes in a 3-byte cache:
#   LRU : hit only on the 4th request (A)                 -> 7 misses
#   FIFO: hits on the 4th (A) and 6th (B) requests        -> 6 misses
TINY: list[tuple[Hashable, int]] = [(k, 1) for k in "ABCADBEA"]


def _misses(records: list[tuple[Hashable, int]], policy: object, size: int) -> int:
    (result,) = simulate(records, policy, [size])
    return result.misses


@pytest.mark.parametrize(("policy", "misses"), [("lru", 7), ("fifo", 6)])
def test_hand_computed_trace(policy: str, misses: int) -> None:
    (result,) = simulate(TINY, policy, [3])
    assert (result.requests, result.misses, result.miss_bytes) == (8, misses, misses)
    assert result.miss_ratio == misses / 8
    assert result.policy == policy


def test_hand_computed_trace_with_sizes() -> None:
    # capacity 10: A4 B4 C4 -> C evicts A (LRU) ; B hit ; A4 evicts C ; C4 evicts B
    records: list[tuple[Hashable, int]] = [("A", 4), ("B", 4), ("C", 4), ("B", 4), ("A", 4)]
    records.append(("C", 4))
    (result,) = simulate(records, "lru", [10])
    assert (result.misses, result.miss_bytes, result.bytes_requested) == (5, 20, 24)
    assert result.byte_miss_ratio == 20 / 24


class Recording(LRU):
    """LRU that logs every call, shared by all copies."""

    log: ClassVar[list[tuple[str, Hashable]]] = []

    def on_insert(self, key: Hashable, size: int) -> None:
        self.log.append(("insert", key))
        super().on_insert(key, size)

    def on_hit(self, key: Hashable) -> None:
        self.log.append(("hit", key))
        super().on_hit(key)

    def evict(self) -> Hashable:
        key = super().evict()
        self.log.append(("evict", key))
        return key


def test_oversized_objects_are_never_inserted_and_evict_nothing() -> None:
    Recording.log.clear()
    records: list[tuple[Hashable, int]] = [("A", 4), ("B", 4), ("X", 11), ("A", 4), ("X", 11)]
    records.append(("B", 4))
    (result,) = simulate(records, Recording, [10])
    assert result.misses == 4  # A, B, X, X
    # keys are interned in order of first use: A -> 0, B -> 1, X -> 2
    assert Recording.log == [("insert", 0), ("insert", 1), ("hit", 0), ("hit", 1)]


def test_zero_capacity_misses_everything() -> None:
    (result,) = simulate(TINY, "lru", [0])
    assert result.misses == 8


def test_a_held_object_keeps_its_first_size() -> None:
    # A is held at 4 bytes; the hit naming 8 bytes does not grow it, so B (6) fits beside it.
    records: list[tuple[Hashable, int]] = [("A", 4), ("A", 8), ("B", 6), ("A", 4)]
    (result,) = simulate(records, "lru", [10])
    assert (result.misses, result.miss_bytes, result.bytes_requested) == (2, 10, 22)


def test_fractions_of_the_working_set() -> None:
    trace = Trace.from_records([("a", 10), ("b", 30), ("a", 10)])
    assert resolve_sizes([0.5, 1.0, 7], trace.working_set().bytes) == [20, 40, 7]
    results = simulate(trace, "lru", [0.5, 1.0])
    assert [(r.cache_size, r.fraction) for r in results] == [(20, 0.5), (40, 1.0)]
    with pytest.raises(ValueError, match="invalid cache size"):
        resolve_sizes([-1], 10)


def test_every_policy_and_size_is_a_result() -> None:
    results = simulate(zipf(2000, 200, seed=1), ["lru", "lfu", "fifo"], [0.05, 0.2, 0.5])
    assert [(r.policy, round(r.fraction, 2)) for r in results] == [
        (p, f) for p in ("lru", "lfu", "fifo") for f in (0.05, 0.2, 0.5)
    ]
    for policy in ("lru", "lfu", "fifo"):
        ratios = [r.miss_ratio for r in results if r.policy == policy]
        assert ratios == sorted(ratios, reverse=True)


def test_default_is_every_available_policy() -> None:
    results = simulate(TINY, None, [3])
    assert {"lru", "lfu", "fifo"} <= {r.policy for r in results}


class MRU:
    """A user's policy: evict the most recently used entry."""

    def __init__(self) -> None:
        self.order: dict[Hashable, None] = {}

    def on_insert(self, key: Hashable, size: int) -> None:
        self.order[key] = None

    def on_hit(self, key: Hashable) -> None:
        self.order.pop(key)
        self.order[key] = None

    def on_remove(self, key: Hashable) -> None:
        del self.order[key]

    def evict(self) -> Hashable:
        if not self.order:
            raise LookupError("empty")
        key = next(reversed(self.order))
        del self.order[key]
        return key

    def peek(self) -> Hashable | None:
        return next(reversed(self.order), None)

    def clear(self) -> None:
        self.order.clear()

    def __len__(self) -> int:
        return len(self.order)


def test_user_classes_and_instances() -> None:
    # A B C A D B E A with MRU, 3 slots: A hit; D evicts A; B hit; E evicts B; A miss -> 6
    assert _misses(TINY, MRU, 3) == 6
    instance = MRU()
    results = simulate(TINY, [instance, LRU()], [3, 3])
    assert [r.misses for r in results] == [6, 6, 7, 7]  # fresh copies for every run
    assert len(instance) == 0
    assert results[0].policy == "MRU"


class Broken(MRU):
    def evict(self) -> Hashable:
        return "nobody"


def test_a_policy_evicting_unknown_keys_is_reported() -> None:
    with pytest.raises(RuntimeError, match="lost track"):
        simulate(TINY, Broken, [2])


def test_progress_counts_every_request() -> None:
    seen: list[int] = []
    trace = zipf(1000, 100, seed=2)
    simulate(trace, ["lru", "fifo"], [0.1, 0.3], progress=seen.append, chunk=128)
    assert sum(seen) == 4 * len(trace)
    assert max(seen) == 128


def test_chunking_does_not_change_results() -> None:
    trace = zipf(3000, 300, seed=5, size_dist="lognormal")
    one = simulate(trace, ["lru", "lfu"], [0.1], chunk=1 << 20)
    many = simulate(trace, ["lru", "lfu"], [0.1], chunk=7)
    assert one == many
