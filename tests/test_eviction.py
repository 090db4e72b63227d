"""Specification of the built-in eviction policies: LRU, LFU and FIFO.

The unit tests pin down the victim order of each policy on small hand-written scenarios. The
state machines then drive each policy with random sequences of inserts, hits, removals,
evictions, peeks and clears, and compare it step by step with a deliberately naive reference
model that is easy to check by eye.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from helpers import examples
from zarr_cachestore import FIFO, LFU, LRU, EvictionPolicy

Policy = LRU | LFU | FIFO

ALL_POLICIES: list[Callable[[], Policy]] = [LRU, LFU, FIFO]


def filled(factory: Callable[[], Policy], keys: str) -> Policy:
    """A fresh policy with each character of ``keys`` inserted, in order, as a 1-byte entry."""
    policy = factory()
    for key in keys:
        policy.on_insert(key, 1)
    return policy


def drain(policy: Policy) -> list[Hashable]:
    """Evict until empty and return the victims in eviction order."""
    return [policy.evict() for _ in range(len(policy))]


# -- behaviour shared by every policy ---------------------------------------------------------


@pytest.mark.parametrize("factory", ALL_POLICIES)
def test_policy_satisfies_the_eviction_protocol(factory: Callable[[], Policy]) -> None:
    assert isinstance(factory(), EvictionPolicy)


@pytest.mark.parametrize("factory", ALL_POLICIES)
def test_evict_on_an_empty_policy_raises_lookup_error(factory: Callable[[], Policy]) -> None:
    policy = factory()
    with pytest.raises(LookupError):
        policy.evict()


@pytest.mark.parametrize("factory", ALL_POLICIES)
def test_peek_on_an_empty_policy_returns_none(factory: Callable[[], Policy]) -> None:
    assert factory().peek() is None


@pytest.mark.parametrize("factory", ALL_POLICIES)
def test_evict_raises_lookup_error_once_every_entry_has_left(
    factory: Callable[[], Policy],
) -> None:
    policy = filled(factory, "ab")
    policy.evict()
    policy.evict()
    with pytest.raises(LookupError):
        policy.evict()
    assert policy.peek() is None


@pytest.mark.parametrize("factory", ALL_POLICIES)
def test_len_counts_tracked_entries(factory: Callable[[], Policy]) -> None:
    policy = factory()
    assert len(policy) == 0
    policy.on_insert("a", 10)
    policy.on_insert("b", 20)
    policy.on_insert("c", 30)
    assert len(policy) == 3
    policy.on_hit("b")
    assert len(policy) == 3
    policy.on_remove("a")
    assert len(policy) == 2
    policy.evict()
    assert len(policy) == 1


@pytest.mark.parametrize("factory", ALL_POLICIES)
def test_peek_names_the_next_victim_without_removing_it(factory: Callable[[], Policy]) -> None:
    policy = filled(factory, "abc")
    policy.on_hit("a")
    first = policy.peek()
    assert policy.peek() == first
    assert len(policy) == 3
    assert policy.evict() == first
    assert len(policy) == 2


@pytest.mark.parametrize("factory", ALL_POLICIES)
def test_peek_matches_evict_at_every_step(factory: Callable[[], Policy]) -> None:
    policy = filled(factory, "abcde")
    policy.on_hit("c")
    policy.on_hit("a")
    policy.on_hit("c")
    while len(policy):
        expected = policy.peek()
        assert policy.evict() == expected


@pytest.mark.parametrize("factory", ALL_POLICIES)
def test_clear_forgets_every_entry(factory: Callable[[], Policy]) -> None:
    policy = filled(factory, "abc")
    policy.on_hit("b")
    policy.clear()
    assert len(policy) == 0
    assert policy.peek() is None
    with pytest.raises(LookupError):
        policy.evict()


@pytest.mark.parametrize("factory", ALL_POLICIES)
def test_policy_is_usable_again_after_clear(factory: Callable[[], Policy]) -> None:
    policy = filled(factory, "abc")
    policy.clear()
    policy.on_insert("a", 1)
    policy.on_insert("z", 1)
    assert len(policy) == 2
    assert drain(policy) == ["a", "z"]


@pytest.mark.parametrize("factory", ALL_POLICIES)
def test_removed_entry_is_never_chosen_as_victim(factory: Callable[[], Policy]) -> None:
    policy = filled(factory, "abc")
    policy.on_remove("a")
    assert policy.peek() == "b"
    assert drain(policy) == ["b", "c"]


@pytest.mark.parametrize("factory", ALL_POLICIES)
def test_size_does_not_influence_the_victim(factory: Callable[[], Policy]) -> None:
    """The built-ins order by access history only; the byte size is bookkeeping for the store."""
    policy = factory()
    policy.on_insert("small", 1)
    policy.on_insert("huge", 10**9)
    assert drain(policy) == ["small", "huge"]


@pytest.mark.parametrize("factory", ALL_POLICIES)
def test_range_style_tuple_keys_are_tracked_like_strings(factory: Callable[[], Policy]) -> None:
    policy = factory()
    policy.on_insert(("chunk", 0, 10), 10)
    policy.on_insert("chunk", 100)
    assert drain(policy) == [("chunk", 0, 10), "chunk"]


# -- LRU --------------------------------------------------------------------------------------


def test_lru_without_hits_evicts_in_insertion_order() -> None:
    assert drain(filled(LRU, "abcd")) == ["a", "b", "c", "d"]


def test_lru_hit_makes_an_entry_the_most_recently_used() -> None:
    policy = filled(LRU, "abcd")
    policy.on_hit("a")
    policy.on_hit("c")
    assert drain(policy) == ["b", "d", "a", "c"]


def test_lru_repeated_hits_count_only_the_latest() -> None:
    policy = filled(LRU, "abc")
    policy.on_hit("a")
    policy.on_hit("a")
    policy.on_hit("a")
    policy.on_hit("b")
    assert drain(policy) == ["c", "a", "b"]


def test_lru_reinserted_entry_is_the_most_recently_used() -> None:
    policy = filled(LRU, "abc")
    policy.on_remove("a")
    policy.on_insert("a", 1)
    assert drain(policy) == ["b", "c", "a"]


# -- FIFO -------------------------------------------------------------------------------------


def test_fifo_evicts_in_insertion_order() -> None:
    assert drain(filled(FIFO, "abcd")) == ["a", "b", "c", "d"]


def test_fifo_hits_do_not_change_the_order() -> None:
    policy = filled(FIFO, "abcd")
    policy.on_hit("a")
    policy.on_hit("a")
    policy.on_hit("c")
    assert policy.peek() == "a"
    assert drain(policy) == ["a", "b", "c", "d"]


def test_fifo_reinserted_entry_goes_to_the_back_of_the_queue() -> None:
    policy = filled(FIFO, "abc")
    policy.on_remove("a")
    policy.on_insert("a", 1)
    assert drain(policy) == ["b", "c", "a"]


# -- LFU --------------------------------------------------------------------------------------


def test_lfu_evicts_the_least_frequently_used_entry_first() -> None:
    policy = filled(LFU, "abc")
    for key, hits in {"a": 3, "b": 1, "c": 2}.items():
        for _ in range(hits):
            policy.on_hit(key)
    assert drain(policy) == ["b", "c", "a"]


def test_lfu_without_hits_evicts_in_insertion_order() -> None:
    """Every entry starts at frequency 1, so ties fall back to recency."""
    assert drain(filled(LFU, "abcd")) == ["a", "b", "c", "d"]


def test_lfu_tie_goes_to_the_least_recently_used_entry_of_the_lowest_frequency() -> None:
    policy = filled(LFU, "abcd")
    # a, b and c all reach frequency 2; c is hit first, so it is the least recent of them.
    policy.on_hit("c")
    policy.on_hit("a")
    policy.on_hit("b")
    assert policy.peek() == "d"
    assert drain(policy) == ["d", "c", "a", "b"]


def test_lfu_new_entry_is_evicted_before_older_entries_with_more_hits() -> None:
    policy = filled(LFU, "ab")
    policy.on_hit("a")
    policy.on_hit("b")
    policy.on_insert("new", 1)
    assert policy.peek() == "new"
    assert drain(policy) == ["new", "a", "b"]


def test_lfu_frequency_restarts_at_one_after_remove_and_reinsert() -> None:
    policy = filled(LFU, "ab")
    for _ in range(5):
        policy.on_hit("a")
    policy.on_hit("b")
    policy.on_remove("a")
    policy.on_insert("a", 1)
    # a is back at frequency 1, below b at frequency 2.
    assert drain(policy) == ["a", "b"]


def test_lfu_frequency_restarts_at_one_after_eviction_and_reinsert() -> None:
    policy = filled(LFU, "ab")
    policy.on_hit("b")
    policy.on_hit("b")
    assert policy.evict() == "a"
    policy.on_insert("a", 1)
    policy.on_hit("a")
    # a is at frequency 2, b at frequency 3.
    assert drain(policy) == ["a", "b"]


def test_lfu_frequencies_with_gaps_are_ordered_correctly() -> None:
    """Buckets for frequencies 1, 3 and 6 exist while 2, 4 and 5 are empty."""
    policy = filled(LFU, "abc")
    for _ in range(5):
        policy.on_hit("a")
    policy.on_hit("c")
    policy.on_hit("c")
    assert drain(policy) == ["b", "c", "a"]


def test_lfu_removing_the_only_entry_of_the_lowest_frequency_moves_the_victim_up() -> None:
    policy = filled(LFU, "abc")
    policy.on_hit("b")
    policy.on_hit("c")
    policy.on_hit("c")
    policy.on_remove("a")
    assert policy.peek() == "b"
    policy.on_remove("b")
    assert policy.peek() == "c"


# -- reference models -------------------------------------------------------------------------


class RecencyModel:
    """Keys in a list, the next victim first. ``hit_moves_to_back`` selects LRU over FIFO."""

    def __init__(self, *, hit_moves_to_back: bool) -> None:
        self.hit_moves_to_back = hit_moves_to_back
        self.order: list[str] = []

    def keys(self) -> list[str]:
        return list(self.order)

    def insert(self, key: str) -> None:
        self.order.append(key)

    def hit(self, key: str) -> None:
        if self.hit_moves_to_back:
            self.order.remove(key)
            self.order.append(key)

    def remove(self, key: str) -> None:
        self.order.remove(key)

    def victim(self) -> str:
        return self.order[0]

    def clear(self) -> None:
        self.order.clear()


class FrequencyModel:
    """Each key with (hits + 1, tick of its last access); the victim has the smallest pair."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[int, int]] = {}
        self.tick = 0

    def keys(self) -> list[str]:
        return list(self.entries)

    def _next_tick(self) -> int:
        self.tick += 1
        return self.tick

    def insert(self, key: str) -> None:
        self.entries[key] = (1, self._next_tick())

    def hit(self, key: str) -> None:
        freq, _ = self.entries[key]
        self.entries[key] = (freq + 1, self._next_tick())

    def remove(self, key: str) -> None:
        del self.entries[key]

    def victim(self) -> str:
        return min(self.entries, key=lambda key: self.entries[key])

    def clear(self) -> None:
        self.entries.clear()


Model = RecencyModel | FrequencyModel

KEYS = "abcde"
SIZES = st.integers(min_value=0, max_value=1 << 20)


class PolicyMachine(RuleBasedStateMachine):
    """Drives a policy and its reference model with the same operations and compares them.

    Subclasses set ``make_policy`` and ``make_model``. The store's contract is respected: only
    keys not held are inserted, only held keys are hit or removed.
    """

    make_policy: Callable[[], Policy]
    make_model: Callable[[], Model]

    def __init__(self) -> None:
        super().__init__()
        self.policy = type(self).make_policy()
        self.model = type(self).make_model()

    def held(self) -> list[str]:
        return sorted(self.model.keys())

    def not_held(self) -> list[str]:
        return [key for key in KEYS if key not in self.held()]

    @precondition(lambda self: len(self.model.keys()) < len(KEYS))
    @rule(data=st.data(), size=SIZES)
    def insert(self, data: st.DataObject, size: int) -> None:
        key = data.draw(st.sampled_from(self.not_held()), label="key")
        self.policy.on_insert(key, size)
        self.model.insert(key)

    @precondition(lambda self: self.model.keys())
    @rule(data=st.data())
    def hit(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.held()), label="key")
        self.policy.on_hit(key)
        self.model.hit(key)

    @precondition(lambda self: self.model.keys())
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.held()), label="key")
        self.policy.on_remove(key)
        self.model.remove(key)

    @precondition(lambda self: self.model.keys())
    @rule()
    def evict(self) -> None:
        expected = self.model.victim()
        assert self.policy.evict() == expected
        self.model.remove(expected)

    @precondition(lambda self: not self.model.keys())
    @rule()
    def evict_when_empty(self) -> None:
        with pytest.raises(LookupError):
            self.policy.evict()

    @rule()
    def peek(self) -> None:
        expected = self.model.victim() if self.model.keys() else None
        before = len(self.policy)
        assert self.policy.peek() == expected
        assert len(self.policy) == before

    @rule()
    def clear(self) -> None:
        self.policy.clear()
        self.model.clear()

    @invariant()
    def len_matches_the_model(self) -> None:
        assert len(self.policy) == len(self.model.keys())


class LRUMachine(PolicyMachine):
    make_policy = LRU

    @staticmethod
    def make_model() -> Model:
        return RecencyModel(hit_moves_to_back=True)


class FIFOMachine(PolicyMachine):
    make_policy = FIFO

    @staticmethod
    def make_model() -> Model:
        return RecencyModel(hit_moves_to_back=False)


class LFUMachine(PolicyMachine):
    make_policy = LFU
    make_model = FrequencyModel


MACHINE_SETTINGS = settings(max_examples=examples(100), stateful_step_count=40, deadline=None)

TestLRUAgainstModel = LRUMachine.TestCase
TestLRUAgainstModel.settings = MACHINE_SETTINGS

TestFIFOAgainstModel = FIFOMachine.TestCase
TestFIFOAgainstModel.settings = MACHINE_SETTINGS

TestLFUAgainstModel = LFUMachine.TestCase
TestLFUAgainstModel.settings = MACHINE_SETTINGS
