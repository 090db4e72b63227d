"""Every policy against its reference model: the same victims for any sequence of operations.

A machine drives both like the store does: an insert first evicts until the entry fits in a
byte budget. Explicit evictions, hits, removals and peeks are mixed in.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from zarr_cachestore import RangeKey
from zarr_cachestore.testing import examples

from reference_models import (
    RefARC,
    RefClock,
    RefFrontier,
    RefGDSF,
    RefS3FIFO,
    RefSieve,
    RefWTinyLFU,
)
from zarr_cachestore_policies import (
    ARC,
    GDSF,
    S3FIFO,
    Clock,
    CountMinSketch,
    Frontier,
    Sieve,
    SizedS3FIFO,
    SizedWTinyLFU,
    WTinyLFU,
)

Pair = tuple[Any, Any]
INT_KEYS: st.SearchStrategy[Hashable] = st.integers(0, 40)


def machine(
    make: Callable[[], Pair],
    budget: int,
    max_size: int,
    keys: st.SearchStrategy[Hashable] = INT_KEYS,
) -> type[RuleBasedStateMachine]:
    class PolicyMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.policy, self.model = make()
            self.held: dict[Hashable, int] = {}

        def victim(self) -> None:
            key = self.policy.evict()
            assert key == self.model.evict()
            self.held.pop(key)

        @rule(key=keys, size=st.integers(0, max_size), announce=st.booleans())
        def insert(self, key: Hashable, size: int, announce: bool) -> None:
            if key in self.held:
                return
            if announce and hasattr(self.policy, "before_insert"):
                self.policy.before_insert(key, size)
                self.model.before_insert(key, size)
            while sum(self.held.values()) + size > budget:
                self.victim()
            self.policy.on_insert(key, size)
            self.model.on_insert(key, size)
            self.held[key] = size

        @precondition(lambda self: self.held)
        @rule(data=st.data())
        def hit(self, data: st.DataObject) -> None:
            key = data.draw(st.sampled_from(sorted(self.held, key=repr)))
            self.policy.on_hit(key)
            self.model.on_hit(key)

        @precondition(lambda self: self.held)
        @rule(data=st.data())
        def remove(self, data: st.DataObject) -> None:
            key = data.draw(st.sampled_from(sorted(self.held, key=repr)))
            self.policy.on_remove(key)
            self.model.on_remove(key)
            del self.held[key]

        @precondition(lambda self: self.held)
        @rule()
        def evict(self) -> None:
            self.victim()

        @rule()
        def peek(self) -> None:
            assert self.policy.peek() == self.model.peek()

        @invariant()
        def same_size(self) -> None:
            assert len(self.policy) == len(self.model) == len(self.held)

    return PolicyMachine


def sketches() -> tuple[CountMinSketch, CountMinSketch]:
    return CountMinSketch(16, sample_size=12), CountMinSketch(16, sample_size=12)


def wtinylfu(cls: type[WTinyLFU], capacity: int | None, share: float) -> Pair:
    policy = type("Shared", (cls,), {"window_share": share})(capacity)
    policy.sketch, sketch = sketches()
    sized = issubclass(cls, SizedWTinyLFU)
    return policy, RefWTinyLFU(capacity, sketch, share=share, sized=sized)


CASES: dict[str, tuple[Callable[[], Pair], int, int]] = {
    "sieve": (lambda: (Sieve(), RefSieve()), 12, 3),
    "clock": (lambda: (Clock(), RefClock()), 12, 3),
    "arc-unit": (lambda: (ARC(), RefARC()), 8, 1),
    "arc-learned": (lambda: (ARC(), RefARC()), 20, 5),
    "arc-fixed": (lambda: (ARC(20), RefARC(20)), 20, 5),
    "s3fifo-learned": (lambda: (S3FIFO(), RefS3FIFO()), 30, 5),
    "s3fifo-fixed": (lambda: (S3FIFO(30), RefS3FIFO(30)), 30, 5),
    "s3fifo-sized": (lambda: (SizedS3FIFO(), RefS3FIFO(sized=True)), 30, 8),
    "wtinylfu": (lambda: wtinylfu(WTinyLFU, None, 0.01), 30, 5),
    "wtinylfu-window": (lambda: wtinylfu(WTinyLFU, 30, 0.2), 30, 5),
    "wtinylfu-sized": (lambda: wtinylfu(SizedWTinyLFU, None, 0.1), 30, 8),
    "gdsf": (lambda: (GDSF(), RefGDSF()), 20, 5),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_reference(name: str) -> None:
    make, budget, max_size = CASES[name]
    test_case = machine(make, budget, max_size).TestCase
    test_case.settings = settings(max_examples=examples(120), stateful_step_count=60, deadline=None)
    test_case().runTest()


# Chunks of a 2-D and a 1-D array, metadata, byte ranges of chunks, and a key that is no string.
CHUNK_KEYS: list[Hashable] = [f"a/c/{i}/{j}" for i in range(5) for j in range(5)]
CHUNK_KEYS += [f"b/c/{i}" for i in range(0, 30, 3)]
CHUNK_KEYS += ["a/zarr.json", RangeKey("b/c/3", 0, 10), RangeKey("s/c/0/1", -4, None), 7]


@pytest.mark.parametrize(
    ("capacity", "reach", "scan"), [(None, 4, 8), (24, 4, 8), (None, 1, 3), (24, 0, 1)]
)
def test_frontier_matches_reference(capacity: int | None, reach: int, scan: int) -> None:
    def make() -> Pair:
        policy = Frontier(reach=reach, scan=scan, capacity=capacity)
        return policy, RefFrontier(capacity, reach=reach, scan=scan)

    keys = st.sampled_from(CHUNK_KEYS)
    test_case = machine(make, 24, 5, keys).TestCase
    test_case.settings = settings(max_examples=examples(40), stateful_step_count=60, deadline=None)
    test_case().runTest()
