"""The contract of an eviction policy, as one call for a third party's test suite.

>>> from zarr_cachestore import LRU
>>> from zarr_cachestore.testing import check_eviction_policy
>>> check_eviction_policy(LRU)

A state machine drives the policy the way the store may, and keeps the model a reader checks
by eye: the keys the policy tracks, with their sizes. What is checked is what
:class:`~zarr_cachestore.EvictionPolicy` promises, never a victim order:

- ``on_insert`` only of untracked keys (sizes from 0 to the budget), ``on_hit`` and
  ``on_remove`` only of tracked ones, and none of them raises;
- ``evict()`` returns a tracked key (which the model then forgets), and raises ``LookupError``
  once nothing is tracked; draining the policy returns every tracked key exactly once;
- ``peek()`` is ``None`` or a tracked key, removes nothing, is ``None`` when nothing is
  tracked, and when it names a key the ``evict()`` right after it returns that key;
- ``clear()`` forgets every key, and ``len()`` is always the number tracked;
- the optional hooks are called as the store calls them: ``set_capacity(capacity)`` before
  anything else, ``before_insert(key, size)`` before each insert and the evictions that make
  room for it. Inserts keep the tracked bytes within ``capacity``, as the store does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from zarr_cachestore.protocols import CapacityAware, InsertAware
from zarr_cachestore.testing._kit import ENTRY_KEYS, Spec, fresh, run

__all__ = ["check_eviction_policy"]

KEYS = st.sampled_from(ENTRY_KEYS)


def check_eviction_policy(
    factory: Spec, *, capacity: int | None = 100, examples: int = 100, steps: int = 50
) -> None:
    """Assert that the eviction policies ``factory`` makes (a factory, class or name) keep the
    contract above, over ``examples`` sequences of up to ``steps`` calls, in a budget of
    ``capacity`` bytes (``None``: unbounded, and ``set_capacity`` is never called)."""
    if capacity is not None and capacity < 1:
        raise ValueError(f"capacity must be a positive number of bytes or None, got {capacity}")
    run(_machine(fresh("eviction", factory), capacity), examples, steps)


def _machine(maker: Callable[[], Any], budget: int | None) -> type[RuleBasedStateMachine]:
    largest = 64 if budget is None else budget
    sizes = st.one_of(st.just(0), st.integers(1, max(1, largest // 4)), st.integers(0, largest))

    class EvictionContract(_EvictionContract):
        make = staticmethod(maker)
        capacity = budget

        @rule(key=KEYS, size=sizes)
        def insert(self, key: Hashable, size: int) -> None:
            self.insert_key(key, size)

    return EvictionContract


def _keys(tracked: dict[Hashable, int]) -> str:
    return "{" + ", ".join(repr(key) for key in sorted(tracked, key=repr)) + "}"


class _EvictionContract(RuleBasedStateMachine):
    make: Callable[[], Any]
    capacity: int | None

    def __init__(self) -> None:
        super().__init__()
        self.policy = self.make()
        self.tracked: dict[Hashable, int] = {}  # the model: key -> size
        if self.capacity is not None and isinstance(self.policy, CapacityAware):
            self.policy.set_capacity(self.capacity)

    # -- what the store does ----------------------------------------------------------------

    def insert_key(self, key: Hashable, size: int) -> None:
        """Insert ``key`` as the store does: a held key is removed first, then ``before_insert``,
        then evictions until ``size`` more bytes fit, then ``on_insert``."""
        if key in self.tracked:
            self._remove(key)
        if self._room_needed(size):
            self._peek()  # as the store asks, to weigh admission
        if isinstance(self.policy, InsertAware):
            self.policy.before_insert(key, size)
        while self._room_needed(size):
            assert self.tracked, f"inserting {key!r} ({size} B) needs room, but nothing is held"
            self.evict()
        self.policy.on_insert(key, size)
        self.tracked[key] = size

    def _room_needed(self, size: int) -> bool:
        return self.capacity is not None and sum(self.tracked.values()) + size > self.capacity

    @precondition(lambda self: self.tracked)
    @rule(data=st.data())
    def hit(self, data: st.DataObject) -> None:
        self.policy.on_hit(self._tracked_key(data))

    @precondition(lambda self: self.tracked)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        self._remove(self._tracked_key(data))

    def _tracked_key(self, data: st.DataObject) -> Hashable:
        return data.draw(st.sampled_from(sorted(self.tracked, key=repr)), label="tracked key")

    def _remove(self, key: Hashable) -> None:
        self.policy.on_remove(key)
        del self.tracked[key]

    @precondition(lambda self: self.tracked)
    @rule()
    def peek_and_evict(self) -> None:
        named = self._peek()
        victim = self.evict()
        assert named is None or victim == named, (
            f"peek() named {named!r}, but the evict() right after it returned {victim!r}"
        )

    def evict(self) -> Hashable:
        victim: Hashable = self.policy.evict()
        assert victim in self.tracked, (
            f"evict() returned {victim!r}, which is not tracked; tracked: {_keys(self.tracked)}"
        )
        del self.tracked[victim]
        return victim

    @rule()
    def drain(self) -> None:
        """Evict until empty: every tracked key comes back exactly once, then LookupError."""
        while self.tracked:
            self.evict()
        self.nothing_left_to_evict()

    @rule()
    def clear(self) -> None:
        self.policy.clear()
        self.tracked.clear()

    # -- questions --------------------------------------------------------------------------

    @rule()
    def peek(self) -> None:
        first, second = self._peek(), self._peek()
        assert first is None or second is None or first == second, (
            f"peek() named {first!r}, then {second!r} with nothing done between"
        )

    def _peek(self) -> Hashable | None:
        """``peek()``, checked: ``None`` or a tracked key, and nothing removed."""
        before = len(self.policy)
        named: Hashable | None = self.policy.peek()
        assert named is None or named in self.tracked, (
            f"peek() named {named!r}, which is not tracked; tracked: {_keys(self.tracked)}"
        )
        assert len(self.policy) == before, (
            f"peek() changed len() from {before} to {len(self.policy)}"
        )
        return named

    @precondition(lambda self: not self.tracked)
    @rule()
    def nothing_left_to_evict(self) -> None:
        named = self.policy.peek()
        assert named is None, f"peek() named {named!r}, but no key is tracked"
        try:
            victim = self.policy.evict()
        except LookupError:
            return
        raise AssertionError(f"evict() returned {victim!r} with no key tracked; raise LookupError")

    @invariant()
    def length_is_the_number_tracked(self) -> None:
        assert len(self.policy) == len(self.tracked), (
            f"len() is {len(self.policy)}, but {len(self.tracked)} keys are tracked: "
            f"{_keys(self.tracked)}"
        )
