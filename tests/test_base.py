"""PriorityPolicy: the base class researchers subclass."""

from __future__ import annotations

from collections.abc import Hashable

import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from helpers import examples
from zarr_cachestore import LRU, CacheStore
from zarr_cachestore.base import EntryInfo, PriorityPolicy

KEYS = st.sampled_from("abcdefg")


class HitsPerByte(PriorityPolicy):
    """Keeps the entries read most per byte held."""

    def priority(self, key: Hashable, info: EntryInfo) -> float:
        return (info.hits + 1) / info.size


def test_by_default_it_evicts_the_least_recently_used() -> None:
    policy = PriorityPolicy()
    for key in "abc":
        policy.on_insert(key, 1)
    policy.on_hit("a")
    assert [policy.evict() for _ in range(3)] == ["b", "c", "a"]
    with pytest.raises(LookupError):
        policy.evict()


def test_a_subclass_sets_the_order_with_one_method() -> None:
    policy = HitsPerByte()
    policy.on_insert("big", 100)
    policy.on_insert("small", 10)
    policy.on_insert("hot", 100)
    for _ in range(20):
        policy.on_hit("hot")
    assert policy.peek() == "big"
    assert [policy.evict() for _ in range(3)] == ["big", "small", "hot"]


def test_removed_and_reprioritized_entries_never_come_back_as_victims() -> None:
    policy = PriorityPolicy()
    for key in "abcd":
        policy.on_insert(key, 1)
    policy.on_remove("a")
    policy.on_hit("b")
    policy.on_hit("b")
    assert [policy.evict() for _ in range(3)] == ["c", "d", "b"]
    assert len(policy) == 0


def test_a_subclass_works_in_a_cache_store() -> None:
    from zarr.storage import MemoryStore

    store = CacheStore(MemoryStore(), max_size=100, eviction=HitsPerByte)
    assert isinstance(store.eviction, HitsPerByte)


class SameAsLRU(RuleBasedStateMachine):
    """With the default priority, victims are exactly the built-in LRU's."""

    def __init__(self) -> None:
        super().__init__()
        self.policy = PriorityPolicy()
        self.model = LRU()
        self.held: set[str] = set()

    @precondition(lambda self: len(self.held) < 7)
    @rule(key=KEYS)
    def insert(self, key: str) -> None:
        if key not in self.held:
            self.held.add(key)
            self.policy.on_insert(key, 1)
            self.model.on_insert(key, 1)

    @rule(key=KEYS)
    def hit(self, key: str) -> None:
        if key in self.held:
            self.policy.on_hit(key)
            self.model.on_hit(key)

    @rule(key=KEYS)
    def remove(self, key: str) -> None:
        if key in self.held:
            self.held.discard(key)
            self.policy.on_remove(key)
            self.model.on_remove(key)

    @precondition(lambda self: self.held)
    @rule()
    def evict(self) -> None:
        victim = self.policy.evict()
        assert victim == self.model.evict()
        self.held.discard(victim)

    @invariant()
    def same_size_and_next_victim(self) -> None:
        assert len(self.policy) == len(self.model) == len(self.held)
        assert self.policy.peek() == self.model.peek()


TestSameAsLRU = SameAsLRU.TestCase
TestSameAsLRU.settings = settings(max_examples=examples(100), stateful_step_count=60, deadline=None)
