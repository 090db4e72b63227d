"""The conformance kit passes every shipped policy and rejects broken ones.

Every eviction, expiry and admission policy that ships (built-ins, the ``policies/``
distribution found through ``available``, the tutorial's HitsPerByte) keeps its contract alone
and inside a CacheStore, at a depth that keeps this file quick; the ``slow`` run digs deeper.
Policies broken in one way each must be rejected, with a message that names the broken promise.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import sys
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import Phase, settings

from zarr_cachestore import LRU, TTI, TTL, AdmitAll, EntryInfo, MaxSize, NoExpiry, available
from zarr_cachestore.testing import (
    check_admission_policy,
    check_cache_store,
    check_eviction_policy,
    check_expiry_policy,
)
from zarr_cachestore.testing.store import store_machine

TUTORIAL = Path(__file__).parents[1] / "docs" / "tutorial_policy" / "src" / "hits_per_byte"


def load_tutorial() -> ModuleType:
    """The tutorial's package, ``hits_per_byte``, loaded from its source."""
    spec = importlib.util.spec_from_file_location("hits_per_byte", TUTORIAL / "__init__.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TUTORIAL_MODULE = load_tutorial()
HitsPerByte = TUTORIAL_MODULE.HitsPerByte
EVICTION: dict[str, Any] = {
    **{name: name for name in available("eviction")},
    "tutorial": HitsPerByte,
}
EXPIRY: dict[str, tuple[Callable[[], Any], float]] = {  # factory, staleness bound
    "none": (NoExpiry, math.inf),
    "ttl": (lambda: TTL(10), 10.0),
    "tti": (lambda: TTI(4), math.inf),
}
ADMISSION = sorted(available("admission"))
CI: dict[str, Any] = {"examples": 50, "steps": 40}
STORE_CI: dict[str, Any] = {"examples": 30, "steps": 40}
DEEP: dict[str, Any] = {"examples": 300, "steps": 80}


def test_every_shipped_policy_is_checked() -> None:
    assert {"lru", "lfu", "fifo", "sieve", "s3fifo", "arc", "clock", "wtinylfu", "gdsf"} <= set(
        EVICTION
    )
    assert {"s3fifo-sized", "wtinylfu-sized"} <= set(EVICTION)
    assert {"max-size", "all", "tinylfu"} <= set(ADMISSION)
    assert set(EXPIRY) == set(available("expiry"))


# -- every shipped policy keeps its contract -------------------------------------------------


@pytest.mark.parametrize("name", sorted(EVICTION))
@pytest.mark.parametrize("capacity", [100, None])
def test_eviction_policy(name: str, capacity: int | None) -> None:
    check_eviction_policy(EVICTION[name], capacity=capacity, **CI)


@pytest.mark.parametrize("name", sorted(EXPIRY))
def test_expiry_policy(name: str) -> None:
    check_expiry_policy(EXPIRY[name][0], **CI)


@pytest.mark.parametrize("name", ADMISSION)
def test_admission_policy(name: str) -> None:
    check_admission_policy(name, **CI)


@pytest.mark.parametrize("name", sorted(EVICTION))
def test_cache_store_with_eviction(name: str) -> None:
    check_cache_store(eviction=EVICTION[name], **STORE_CI)


@pytest.mark.parametrize("name", sorted(EXPIRY))
def test_cache_store_with_expiry(name: str) -> None:
    factory, staleness = EXPIRY[name]
    check_cache_store(expiry=factory, staleness=staleness, **STORE_CI)


@pytest.mark.parametrize("name", ADMISSION)
def test_cache_store_with_admission(name: str) -> None:
    check_cache_store(eviction="wtinylfu", admission=name, **STORE_CI)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EVICTION))
def test_deep(name: str) -> None:
    check_eviction_policy(EVICTION[name], capacity=40, **DEEP)
    check_cache_store(eviction=EVICTION[name], **DEEP)


@pytest.mark.slow
def test_deep_expiry_and_admission() -> None:
    for factory, staleness in EXPIRY.values():
        check_expiry_policy(factory, **DEEP)
        check_cache_store(expiry=factory, staleness=staleness, **DEEP)
    for name in ADMISSION:
        check_admission_policy(name, **DEEP)
        check_cache_store(eviction="lfu", admission=name, **DEEP)


# -- broken policies are rejected --------------------------------------------------------------


@pytest.fixture
def unshrunk() -> Iterator[None]:
    """Failures reported as found: shrinking them is for a policy's author, and slow."""
    quick = settings(settings.default, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    settings.register_profile("unshrunk", quick)
    settings.load_profile("unshrunk")
    yield
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


class DividesBySize(HitsPerByte):  # type: ignore[misc, valid-type]
    """The tutorial's policy as first written: an empty entry divides by zero."""

    def priority(self, key: Hashable, info: EntryInfo) -> float:
        return (info.hits + 1) / info.size + info.last_access * 1e-12


class ForgetsRemovals(LRU):
    def on_remove(self, key: Hashable) -> None:
        pass


class EvictsNoneWhenEmpty(LRU):
    def evict(self) -> Hashable:
        return super().evict() if len(self) else None


class PeekRemoves(LRU):
    def peek(self) -> Hashable | None:
        return self.evict() if len(self) else None


class PeeksTheNewest(LRU):
    def peek(self) -> Hashable | None:
        return next(reversed(self._order), None)


class KeepsVictims(LRU):
    """Names its victim but goes on tracking it."""

    def evict(self) -> Hashable:
        victim = self.peek()
        if victim is None:
            raise LookupError("empty")
        return victim


class ClearKeepsEntries(LRU):
    def clear(self) -> None:
        pass


class HookOrderChecked(LRU):
    """Raises unless the store's promises about the optional hooks are kept."""

    def __init__(self) -> None:
        super().__init__()
        self.capacity: int | None = None
        self.announced: tuple[Hashable, int] | None = None

    def set_capacity(self, capacity: int) -> None:
        assert self.capacity is None, "set_capacity twice"
        assert not len(self), "set_capacity after on_insert"
        self.capacity = capacity

    def before_insert(self, key: Hashable, size: int) -> None:
        self.announced = (key, size)

    def on_insert(self, key: Hashable, size: int) -> None:
        assert self.capacity == 100, f"on_insert before set_capacity(100): {self.capacity}"
        assert self.announced == (key, size), f"on_insert of {key!r} not announced"
        assert size <= self.capacity, f"an entry of {size} bytes is larger than the budget"
        self.announced = None
        super().on_insert(key, size)


BROKEN_EVICTION = {
    "divides by size": (DividesBySize, ZeroDivisionError, "division by zero"),
    "forgets removals": (ForgetsRemovals, AssertionError, r"len\(\) is|not tracked"),
    "evicts None when empty": (EvictsNoneWhenEmpty, AssertionError, "raise LookupError"),
    "peek removes": (PeekRemoves, AssertionError, r"peek\(\) changed len\(\) from"),
    "peek disagrees with evict": (PeeksTheNewest, AssertionError, r"the evict\(\) right after"),
    "keeps its victims": (KeepsVictims, AssertionError, r"len\(\) is|no key is tracked"),
    "clear keeps entries": (ClearKeepsEntries, AssertionError, r"len\(\) is"),
}


@pytest.mark.usefixtures("unshrunk")
@pytest.mark.parametrize("name", sorted(BROKEN_EVICTION))
def test_a_broken_eviction_policy_is_rejected(name: str) -> None:
    policy, error, message = BROKEN_EVICTION[name]
    with pytest.raises(error, match=message):
        check_eviction_policy(policy, **CI)


def test_the_hooks_are_called_as_the_store_calls_them() -> None:
    check_eviction_policy(HookOrderChecked, capacity=100, **CI)


class NaNDeadline(TTL):
    def on_write(self, key: Hashable, now: float) -> float:
        return math.nan


class ExpiredOnArrival(TTL):
    def on_write(self, key: Hashable, now: float) -> float:
        return now - self.seconds


class ReadReturnsNothing(TTL):
    def on_read(self, key: Hashable, now: float, deadline: float) -> float:
        return None  # type: ignore[return-value]


class OnlyStoreKeys(TTL):
    def on_write(self, key: Hashable, now: float) -> float:
        return now + (1 if key.startswith("a") else self.seconds)  # type: ignore[attr-defined]


BROKEN_EXPIRY = {
    "NaN deadline": (NaNDeadline, AssertionError, "returned NaN"),
    "expired on arrival": (ExpiredOnArrival, AssertionError, "before now"),
    "on_read returns None": (ReadReturnsNothing, AssertionError, "not a deadline"),
    "fails on range keys": (OnlyStoreKeys, AttributeError, "startswith"),
}


@pytest.mark.usefixtures("unshrunk")
@pytest.mark.parametrize("name", sorted(BROKEN_EXPIRY))
def test_a_broken_expiry_policy_is_rejected(name: str) -> None:
    policy, error, message = BROKEN_EXPIRY[name]
    with pytest.raises(error, match=message):
        check_expiry_policy(lambda: policy(5), **CI)


class AdmitsByCount(AdmitAll):
    def admit(
        self, key: Hashable, size: int, *, capacity: int | None, victim: Hashable | None
    ) -> bool:
        return len(str(key)) % 2  # type: ignore[return-value]


class ShareOfCapacity(AdmitAll):
    def admit(
        self, key: Hashable, size: int, *, capacity: int | None, victim: Hashable | None
    ) -> bool:
        return size / capacity < 0.5  # type: ignore[operator]


class EmptyIsAnError(MaxSize):
    def admit(
        self, key: Hashable, size: int, *, capacity: int | None, victim: Hashable | None
    ) -> bool:
        if not size:
            raise ValueError("empty entry")
        return super().admit(key, size, capacity=capacity, victim=victim)


BROKEN_ADMISSION = {
    "answers an int": (AdmitsByCount, AssertionError, "not a bool"),
    "no capacity": (ShareOfCapacity, TypeError, "NoneType"),
    "empty entries": (EmptyIsAnError, ValueError, "empty entry"),
}


@pytest.mark.usefixtures("unshrunk")
@pytest.mark.parametrize("name", sorted(BROKEN_ADMISSION))
def test_a_broken_admission_policy_is_rejected(name: str) -> None:
    policy, error, message = BROKEN_ADMISSION[name]
    with pytest.raises(error, match=message):
        check_admission_policy(policy, **CI)


@pytest.mark.usefixtures("unshrunk")
def test_a_cache_store_reports_a_policy_that_raises() -> None:
    with pytest.raises(AssertionError, match="strategies raised"):
        check_cache_store(eviction=DividesBySize, **CI)


@pytest.mark.usefixtures("unshrunk")
def test_a_cache_store_catches_a_policy_that_keeps_its_victims() -> None:
    with pytest.raises(AssertionError, match=r"the eviction policy tracks|strategies raised"):
        check_cache_store(eviction=KeepsVictims, **CI)


def test_the_cache_survives_a_policy_that_raises() -> None:
    """With its errors allowed, every other check passes, and the errors were counted."""

    class Survives(store_machine([DividesBySize])):  # type: ignore[misc]
        policy_errors_allowed = True
        counted = 0

        def teardown(self) -> None:
            type(self).counted += self.cache.cache_stats()["policy_errors"]
            super().teardown()

    Survives.TestCase.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
    Survives.TestCase().runTest()
    assert Survives.counted > 0


def test_a_policy_object_is_refused_with_the_fix() -> None:
    with pytest.raises(TypeError, match="pass a factory, a class or a name"):
        check_eviction_policy(LRU())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="capacity must be a positive number"):
        check_eviction_policy(LRU, capacity=0)


# -- the tutorial's section runs as written ----------------------------------------------------

SECTION = (
    (TUTORIAL.parents[2] / "tutorial-policy.md").read_text().split("## 5. The conformance kit")
)
CODE = re.search(r"```python\n(.*?)```", SECTION[1], re.DOTALL)
REPORT = re.search(r"```text\n(.*?)```", SECTION[1], re.DOTALL)


def test_the_tutorial_section_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CODE is not None
    monkeypatch.setitem(sys.modules, "hits_per_byte", TUTORIAL_MODULE)
    namespace: dict[str, Any] = {"__name__": "test_hits_per_byte"}
    exec(CODE.group(1), namespace)
    tests = [test for name, test in namespace.items() if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        test()


def test_the_tutorial_shows_what_the_kit_reports() -> None:
    assert REPORT is not None
    shown = REPORT.group(1).strip().splitlines()
    with pytest.raises(ZeroDivisionError) as raised:
        check_eviction_policy(DividesBySize)
    notes = "\n".join(getattr(raised.value, "__notes__", [])).splitlines()
    reported = [f"ZeroDivisionError: {raised.value}", *notes]
    assert reported[: len(shown)] == shown, "\n".join(reported)  # then an explanation follows
