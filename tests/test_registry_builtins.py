"""Specification of how strategies are found: built-in names, classes and instances.

Only the built-ins are exercised here. The registry is shown an empty set of installed entry
points, so nothing depends on which plugins happen to be installed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from importlib.metadata import EntryPoint

import pytest

from zarr_cachestore import (
    FIFO,
    LFU,
    LRU,
    TTI,
    TTL,
    AdmitAll,
    InMemoryRangeCache,
    MaxSize,
    Neighbors,
    NoExpiry,
    NoPrefetch,
    Sequential,
    available,
    registry,
)
from zarr_cachestore.registry import load, resolve

BUILTIN_NAMES = [
    ("eviction", "lru", LRU),
    ("eviction", "lfu", LFU),
    ("eviction", "fifo", FIFO),
    ("expiry", "none", NoExpiry),
    ("admission", "max-size", MaxSize),
    ("admission", "all", AdmitAll),
    ("range_cache", "memory", InMemoryRangeCache),
    ("prefetch", "none", NoPrefetch),
    ("prefetch", "sequential", Sequential),
    ("prefetch", "neighbors", Neighbors),
]


def no_entry_points(*, group: str) -> tuple[EntryPoint, ...]:
    return ()


@pytest.fixture(autouse=True)
def without_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The registry as it is with no plugin distribution installed."""
    monkeypatch.setattr(registry, "entry_points", no_entry_points)
    registry._plugins.cache_clear()
    yield
    registry._plugins.cache_clear()


class HalfAPolicy:
    """Has two of the seven methods an eviction policy needs."""

    def on_insert(self, key: Hashable, size: int) -> None:
        pass

    def evict(self) -> Hashable:
        raise LookupError


class NoLenPolicy(LRU):
    """A complete eviction policy except that ``len()`` is unsupported."""

    __len__ = None  # type: ignore[assignment]


# -- resolving names --------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "name", "expected_type"), BUILTIN_NAMES)
def test_builtin_name_resolves_to_a_fresh_instance(
    group: str, name: str, expected_type: type
) -> None:
    first = resolve(group, name)
    second = resolve(group, name)
    assert type(first) is expected_type
    assert first is not second


@pytest.mark.parametrize(("group", "name", "expected_type"), BUILTIN_NAMES)
def test_load_returns_the_builtin_class(group: str, name: str, expected_type: type) -> None:
    assert load(group, name) is expected_type


def test_stateful_builtins_are_never_shared_between_resolutions() -> None:
    """Two caches asking for "lru" must not track entries in the same policy."""
    first = resolve("eviction", "lru")
    first.on_insert("k", 1)
    second = resolve("eviction", "lru")
    assert len(first) == 1
    assert len(second) == 0


def test_max_size_resolved_by_name_uses_the_default_fraction() -> None:
    assert resolve("admission", "max-size") == MaxSize(1.0)


@pytest.mark.parametrize(("name", "policy_type"), [("ttl", TTL), ("tti", TTI)])
def test_timed_expiry_by_name_asks_for_an_instance(name: str, policy_type: type) -> None:
    """TTL and TTI need ``seconds``, so a bare name cannot build them."""
    with pytest.raises(TypeError, match="pass an instance instead") as caught:
        resolve("expiry", name)
    message = str(caught.value)
    assert policy_type.__name__ in message
    assert f"expiry={policy_type.__name__}(...)" in message


def test_names_are_case_sensitive() -> None:
    with pytest.raises(ValueError, match="unknown eviction policy 'LRU'"):
        resolve("eviction", "LRU")


def test_unknown_name_raises_value_error_listing_the_available_names() -> None:
    with pytest.raises(ValueError, match="unknown eviction policy 'sieve'") as caught:
        resolve("eviction", "sieve")
    message = str(caught.value)
    for name in ("fifo", "lfu", "lru"):
        assert name in message


@pytest.mark.parametrize(
    ("group", "names"),
    [
        ("expiry", ["none", "ttl", "tti"]),
        ("admission", ["max-size", "all"]),
        ("range_cache", ["memory"]),
        ("prefetch", ["none", "sequential", "neighbors"]),
    ],
)
def test_unknown_name_in_each_group_lists_that_groups_names(group: str, names: list[str]) -> None:
    with pytest.raises(ValueError, match=f"unknown {group} policy 'nope'") as caught:
        resolve(group, "nope")
    for name in names:
        assert name in str(caught.value)


# -- resolving classes and instances ----------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "cls"),
    [
        ("eviction", LFU),
        ("expiry", NoExpiry),
        ("admission", AdmitAll),
        ("range_cache", InMemoryRangeCache),
        ("prefetch", Neighbors),
    ],
)
def test_class_resolves_to_an_instance_of_it(group: str, cls: type) -> None:
    assert type(resolve(group, cls)) is cls


def test_class_needing_arguments_raises_type_error_asking_for_an_instance() -> None:
    with pytest.raises(TypeError, match=r"pass an instance instead, e\.g\. expiry=TTL\(\.\.\.\)"):
        resolve("expiry", TTL)


@pytest.mark.parametrize(
    ("group", "instance"),
    [
        ("eviction", FIFO()),
        ("expiry", TTL(30)),
        ("expiry", TTI(5)),
        ("admission", MaxSize(0.5)),
        ("range_cache", InMemoryRangeCache()),
        ("prefetch", Sequential(n=8)),
    ],
    ids=["FIFO", "TTL", "TTI", "MaxSize", "InMemoryRangeCache", "Sequential"],
)
def test_instance_resolves_to_itself(group: str, instance: object) -> None:
    assert resolve(group, instance) is instance


def test_user_defined_policy_with_every_method_is_accepted() -> None:
    class Newest(LRU):
        """Evicts the most recently inserted entry."""

        def evict(self) -> Hashable:
            if not self._order:
                raise LookupError("empty")
            return self._order.popitem(last=True)[0]

    policy = Newest()
    assert resolve("eviction", policy) is policy
    assert type(resolve("eviction", Newest)) is Newest


# -- rejecting objects that are not strategies ------------------------------------------------


def test_object_missing_methods_raises_type_error_naming_each_missing_method() -> None:
    with pytest.raises(TypeError, match="is not a EvictionPolicy") as caught:
        resolve("eviction", HalfAPolicy())
    message = str(caught.value)
    assert "lacks on_hit, on_remove, peek, clear, __len__" in message
    assert "on_insert," not in message
    assert "evict," not in message


def test_class_missing_methods_is_rejected_after_being_built() -> None:
    with pytest.raises(TypeError, match="lacks on_hit, on_remove, peek, clear, __len__"):
        resolve("eviction", HalfAPolicy)


def test_missing_len_is_reported() -> None:
    with pytest.raises(TypeError, match=r"lacks __len__\."):
        resolve("eviction", NoLenPolicy())


def test_rejection_suggests_the_builtin_names_and_the_protocol() -> None:
    with pytest.raises(TypeError) as caught:
        resolve("eviction", HalfAPolicy())
    message = str(caught.value)
    assert "['fifo', 'lfu', 'lru']" in message
    assert "zarr_cachestore.EvictionPolicy" in message


@pytest.mark.parametrize(
    ("group", "wrong", "missing"),
    [
        ("expiry", LRU(), "on_write, on_read"),
        ("admission", NoExpiry(), "on_access, admit"),
        ("range_cache", MaxSize(), "lookup, get, put, pop, pop_key, clear"),
        ("eviction", InMemoryRangeCache(), "on_insert, on_hit, on_remove, evict, peek"),
        ("prefetch", NoExpiry(), "on_access, clear"),
    ],
    ids=[
        "eviction-as-expiry",
        "expiry-as-admission",
        "admission-as-range",
        "range-as-eviction",
        "expiry-as-prefetch",
    ],
)
def test_strategy_of_another_group_is_rejected(group: str, wrong: object, missing: str) -> None:
    with pytest.raises(TypeError, match=f"lacks {missing}"):
        resolve(group, wrong)


@pytest.mark.parametrize("spec", [None, 42, 1.5], ids=["None", "int", "float"])
def test_values_that_are_not_names_classes_or_strategies_are_rejected(spec: object) -> None:
    with pytest.raises(TypeError, match="is not a EvictionPolicy"):
        resolve("eviction", spec)


# -- listing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "names"),
    [
        ("eviction", ["lru", "lfu", "fifo"]),
        ("expiry", ["none", "ttl", "tti"]),
        ("admission", ["max-size", "all"]),
        ("range_cache", ["memory"]),
        ("prefetch", ["none", "sequential", "neighbors"]),
    ],
)
def test_available_lists_the_builtins_as_builtin(group: str, names: list[str]) -> None:
    listed = available(group)
    for name in names:
        assert listed[name] == "builtin"


def test_available_without_plugins_lists_exactly_the_builtins() -> None:
    assert available("eviction") == {"lru": "builtin", "lfu": "builtin", "fifo": "builtin"}
    assert available("range_cache") == {"memory": "builtin"}


# -- groups -----------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [available, lambda group: resolve(group, "lru")])
def test_unknown_group_raises_value_error_listing_the_groups(
    call: Callable[[str], object],
) -> None:
    with pytest.raises(ValueError, match="unknown strategy group 'evictions'") as caught:
        call("evictions")
    assert "['admission', 'eviction', 'expiry', 'prefetch', 'range_cache']" in str(caught.value)


def test_unknown_group_is_reported_even_for_a_builtin_instance() -> None:
    with pytest.raises(ValueError, match="unknown strategy group 'cache'"):
        resolve("cache", LRU())
