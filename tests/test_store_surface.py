"""Every member of zarr's ``Store`` and ``WrapperStore`` is accounted for by CacheStore.

A cache that forgets to override a read serves nothing; one that forgets a write serves stale
data. ``SURFACE`` classifies every method and property that zarr's ``Store`` and
``WrapperStore`` define, and the tests check CacheStore against it in the installed zarr. A new
zarr release that adds a member fails ``test_every_store_member_is_classified`` by name until
someone decides how the cache treats it.

Kinds of member:

* ``cached``: CacheStore defines its own, because of the cache: it serves from, fills,
  invalidates, shares or describes the cache.
* ``bypass``: CacheStore defines its own that deliberately goes straight to the source.
* ``passthrough``: deliberately inherited from ``WrapperStore``, which forwards it to the source.
* ``derived``: inherited from ``Store`` itself (``WrapperStore`` does not forward it): zarr's
  default, which either answers a constant or is built on members that are ``cached``.
"""

from __future__ import annotations

import inspect
import pickle  # noqa: F401
from dataclasses import dataclass
from typing import Literal

import pytest
import zarr
from zarr.abc.store import Store
from zarr.core.buffer import cpu, default_buffer_prototype
from zarr.storage import MemoryStore, WrapperStore

from helpers import copied_elsewhere
from zarr_cachestore import CacheStore

Kind = Literal["cached", "bypass", "passthrough", "derived"]
Availability = Literal["all", "newer", "older"]

# Which dunders are part of the store protocol. ``__init__`` is not: every store has its own.
PROTOCOL_DUNDERS = frozenset({"__eq__", "__enter__", "__exit__", "__repr__", "__str__"})


@dataclass(frozen=True)
class Member:
    kind: Kind
    why: str
    # "newer": only in newer zarr (3.2+); "older": only in older zarr (3.1), removed since.
    availability: Availability = "all"


SURFACE: dict[str, Member] = {
    # -- reads ------------------------------------------------------------------------------
    "get": Member("cached", "served from the cache, filled from the source on a miss"),
    "get_partial_values": Member("cached", "each range read through the cached get"),
    "_get_many": Member("cached", "each request read through the cached get"),
    "exists": Member("cached", "answered by a held entry, a remembered miss, or the source"),
    "getsize": Member("cached", "answered by a held entry or a learned size"),
    "getsize_prefix": Member("bypass", "a directory's total is always the source's own"),
    # -- writes: through to the source, then invalidate ----------------------------------------
    "set": Member("cached", "writes the source, then replaces the cached value"),
    "set_if_not_exists": Member("cached", "writes the source, then forgets the key"),
    "_set_many": Member("cached", "each value written through the cached set"),
    "delete": Member("cached", "deletes from the source, then forgets the key"),
    "delete_dir": Member("cached", "deletes from the source, then forgets the prefix"),
    "clear": Member("cached", "clears the source, then the whole cache"),
    # -- views: another way of seeing the same source, sharing this cache --------------------
    "with_read_only": Member("cached", "a view of the source opened read-only, same cache"),
    "_with_store": Member("cached", "a view sharing the cache, or a fresh cache"),
    "__eq__": Member("cached", "equal when the sources and the cache settings are"),
    "__repr__": Member("cached", "shows the cache settings"),
    # -- listing and emptiness: never cached -----------------------------------------------
    "list": Member("passthrough", "listings are the source's"),
    "list_prefix": Member("passthrough", "listings are the source's"),
    "list_dir": Member("passthrough", "listings are the source's"),
    "is_empty": Member("passthrough", "emptiness is the source's"),
    # -- life cycle ------------------------------------------------------------------------
    "open": Member("cached", "opens a source from its keywords, a cache from the cache's own"),
    "_open": Member("passthrough", "opens the source"),
    "_ensure_open": Member("passthrough", "opens the source if need be"),
    "_is_open": Member("passthrough", "whether the source is open"),
    "close": Member("cached", "stops the prefetches under way, then closes the source"),
    "__enter__": Member("passthrough", "enters the source, rewrapped by the cached _with_store"),
    "__exit__": Member("passthrough", "exits (closes) the source"),
    "__str__": Member("passthrough", "'wrapping-' and the source"),
    # -- capabilities: the source's -----------------------------------------------------------
    "read_only": Member("passthrough", "the source's mode"),
    "_check_writable": Member("passthrough", "the source's mode"),
    "supports_writes": Member("passthrough", "the source's capability"),
    "supports_deletes": Member("passthrough", "the source's capability"),
    "supports_listing": Member("passthrough", "the source's capability"),
    "supports_partial_writes": Member("derived", "Store's constant False"),
    "supports_consolidated_metadata": Member("derived", "Store's constant True"),
    # -- newer zarr: byte-range batches and the synchronous API ------------------------------
    "get_ranges": Member("cached", "zarr's coalescing over the cached get", "newer"),
    "get_ranges_sync": Member("derived", "zarr's coalescing over the cached get_sync", "newer"),
    "get_sync": Member("cached", "the cached get, run to completion", "newer"),
    "set_sync": Member("cached", "the cached set, run to completion", "newer"),
    "delete_sync": Member("cached", "the cached delete, run to completion", "newer"),
    "_supports_sync_io": Member(
        "cached", "False: zarr's synchronous codec path stays off the cache", "newer"
    ),
    # -- older zarr: helpers on Store, built on get ------------------------------------------
    "_get_bytes": Member("derived", "Store's helper over the cached get", "older"),
    "_get_bytes_sync": Member("derived", "Store's helper over the cached get", "older"),
    "_get_json": Member("derived", "Store's helper over the cached get", "older"),
    "_get_json_sync": Member("derived", "Store's helper over the cached get", "older"),
}

# What each kind means for where CacheStore's member comes from.
OWNER: dict[Kind, type] = {
    "cached": CacheStore,
    "bypass": CacheStore,
    "passthrough": WrapperStore,
    "derived": Store,
}


def _is_member(value: object) -> bool:
    return inspect.isfunction(value) or isinstance(value, property | classmethod | staticmethod)


def installed_surface() -> set[str]:
    """The methods and properties that the installed zarr's Store and WrapperStore define."""
    names = {
        name
        for cls in (Store, WrapperStore)
        for name, value in vars(cls).items()
        if _is_member(value)
    }
    return {name for name in names if not name.startswith("__") or name in PROTOCOL_DUNDERS}


def owner(cls: type, name: str) -> type:
    """The class in ``cls``'s MRO whose definition of ``name`` is the one used."""
    return next(klass for klass in cls.__mro__ if name in vars(klass))


def test_every_store_member_is_classified() -> None:
    unclassified = sorted(installed_surface() - SURFACE.keys())
    assert not unclassified, (
        f"zarr {zarr.__version__} has Store/WrapperStore members that SURFACE does not "
        f"classify: {', '.join(unclassified)}. Decide for each whether CacheStore must cache "
        "or invalidate through it, and add it to SURFACE."
    )


@pytest.mark.parametrize("name", sorted(SURFACE))
def test_member_is_where_its_kind_says(name: str) -> None:
    member = SURFACE[name]
    if name not in installed_surface():
        if member.availability == "all":
            pytest.fail(f"SURFACE lists {name!r}, but zarr {zarr.__version__} has no such member")
        pytest.skip(f"{name!r} is only in {member.availability} zarr, not {zarr.__version__}")
    expected = OWNER[member.kind]
    actual = owner(CacheStore, name)
    assert actual is expected, (
        f"{name!r} is classified {member.kind!r} ({member.why}), so CacheStore should use "
        f"{expected.__qualname__}'s definition, but it uses {actual.__qualname__}'s"
    )


def test_newer_members_come_together() -> None:
    """zarr's synchronous API and get_ranges arrived together; the table assumes so."""
    newer = {name for name, member in SURFACE.items() if member.availability == "newer"}
    present = newer & installed_surface()
    assert present in (set(), newer), sorted(newer - present)


def test_cache_store_defines_its_own_pickling() -> None:
    """A pickled CacheStore carries its source and settings, never its cached bytes."""
    assert {"__getstate__", "__setstate__", "__hash__"} <= vars(CacheStore).keys()


async def test_a_pickled_copy_starts_empty_with_the_same_settings() -> None:
    store = CacheStore(MemoryStore(), max_size=64, eviction="lfu")
    await store.set("c/0", cpu.Buffer.from_bytes(b"abcd"))
    assert await store.get("c/0", default_buffer_prototype()) is not None
    assert store.cache_info()["current_size"] == 4

    copy = copied_elsewhere(store)

    assert copy == store
    assert copy.cache_info()["current_size"] == 0
    observed = await copy.get("c/0", default_buffer_prototype())
    assert observed is not None
    assert observed.to_bytes() == b"abcd"
