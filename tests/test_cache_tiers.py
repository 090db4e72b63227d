"""What a cache store may hold, and what the cache may trust of it.

Values are written under fresh names below a prefix of each cache's own, so caches over
different sources, copies of one cache and late writes never mix; a value whose length is not
its entry's is never served; deletes that fail are tried again; the source is never a cache
store.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from zarr.abc.store import RangeByteRequest, SuffixByteRequest
from zarr.storage import LocalStore, MemoryStore

from helpers import PROTO, assert_idle, buf, copied_elsewhere, held_by, raw, whole_entries
from test_faults import FlakyCacheStore
from zarr_cachestore import CacheStore
from zarr_cachestore import deferred as deferred_module
from zarr_cachestore.latency import LatencyStore

OLD, NEW = b"old value of twenty bytes", b"the new value is longer than the old one"


async def test_two_sources_sharing_a_cache_store_never_see_each_others_values(
    tmp_path: Path,
) -> None:
    for shared in (MemoryStore(), LocalStore(str(tmp_path / "cache"))):
        a, b = LocalStore(str(tmp_path / "a")), LocalStore(str(tmp_path / "b"))
        await a.set("k", buf(b"from a"))
        await b.set("k", buf(b"from b"))
        cache_a = CacheStore(a, cache_store=shared)
        cache_b = CacheStore(b, cache_store=shared)
        for _ in range(2):
            assert raw(await cache_a.get("k", PROTO)) == b"from a"
            assert raw(await cache_b.get("k", PROTO)) == b"from b"
        assert cache_a.cache_stats()["hits"] == cache_b.cache_stats()["hits"] == 1


async def test_copies_sharing_a_directory_never_serve_torn_bytes(tmp_path: Path) -> None:
    source = LocalStore(str(tmp_path / "source"))
    await source.set("k", buf(OLD))
    first = CacheStore(source, cache_store=LocalStore(str(tmp_path / "cache")))
    second = copied_elsewhere(first)
    assert raw(await first.get("k", PROTO)) == OLD
    assert raw(await second.get("k", PROTO)) == OLD
    await second.set("k", buf(NEW))  # through the copy; the first is not told
    for request in (None, SuffixByteRequest(8), RangeByteRequest(4, 30)):
        got = raw(await first.get("k", PROTO, request))
        allowed = {raw(buf(OLD)), raw(buf(NEW))}
        if request is not None:
            allowed = {
                value[-8:] if request == SuffixByteRequest(8) else value[4:30]
                for value in (OLD, NEW)
            }
        assert got in allowed, f"{request}: {got!r} belongs to neither version"
    assert raw(await second.get("k", PROTO)) == NEW


@pytest.mark.parametrize("damage", ["shorter", "longer", "gone"])
async def test_a_damaged_or_lost_value_is_never_served(damage: str) -> None:
    source = LatencyStore(MemoryStore())
    await source.set("k", buf(OLD))
    cache_store = MemoryStore()
    cache = CacheStore(source, cache_store=cache_store)
    assert raw(await cache.get("k", PROTO)) == OLD
    (name,) = [entry.name for entry in whole_entries(cache).values()]
    if damage == "gone":
        del cache_store._store_dict[name]
    else:
        cut = OLD[:5] if damage == "shorter" else OLD + b"tail"
        cache_store._store_dict[name] = buf(cut)
    assert raw(await cache.get("k", PROTO)) == OLD
    assert raw(await cache.get("k", PROTO, RangeByteRequest(0, 3))) == OLD[:3]
    assert cache.cache_stats()["cache_errors"] == 1
    assert source.counts.requests == 2  # the damaged value was dropped, then read again
    assert raw(await cache.get("k", PROTO)) == OLD
    assert source.counts.requests == 2


async def test_a_damaged_value_in_an_asynchronous_cache_store_is_never_served() -> None:
    source = LatencyStore(MemoryStore())
    await source.set("k", buf(OLD))
    inner = MemoryStore()
    cache = CacheStore(source, cache_store=LatencyStore(inner))
    assert raw(await cache.get("k", PROTO)) == OLD
    (name,) = [entry.name for entry in whole_entries(cache).values()]
    await inner.set(name, buf(OLD[:7]))
    assert raw(await cache.get("k", PROTO, SuffixByteRequest(4))) == OLD[-4:]
    assert raw(await cache.get("k", PROTO)) == OLD
    assert cache.cache_stats()["cache_errors"] == 1


def test_the_source_can_never_be_the_cache_store(tmp_path: Path) -> None:
    memory = MemoryStore()
    local = LocalStore(str(tmp_path / "data"))
    overlapping = [
        (memory, memory),
        (memory, MemoryStore(memory._store_dict)),
        (memory, LatencyStore(memory)),
        (local, LocalStore(str(tmp_path / "data"))),
        (local, LocalStore(str(tmp_path / "data" / "cache"))),
        (LocalStore(str(tmp_path / "data" / "inner")), local),
    ]
    for source, cache_store in overlapping:
        with pytest.raises(ValueError, match=r"is the source store .* or shares its data"):
            CacheStore(source, cache_store=cache_store)
    CacheStore(local, cache_store=LocalStore(str(tmp_path / "elsewhere")))


async def test_a_pickled_copy_holds_only_what_its_own_ledger_counts() -> None:
    source = MemoryStore()
    await source.set("k", buf(OLD))
    cache = CacheStore(source, cache_store=MemoryStore(), max_size=100)
    assert raw(await cache.get("k", PROTO)) == OLD
    copy = copied_elsewhere(cache)
    assert copy._config.cache_store is not None
    assert await held_by(copy._config.cache_store) == {}
    assert copy.cache_info()["current_size"] == 0


async def test_a_failed_delete_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deferred_module, "RETRY_AFTER", 0.0)
    source = LatencyStore(MemoryStore())
    await source.set("k", buf(OLD))
    inner = MemoryStore()
    flaky = FlakyCacheStore(inner)
    cache = CacheStore(source, cache_store=flaky)
    assert raw(await cache.get("k", PROTO)) == OLD
    flaky.fail_delete = True
    await cache.delete("k")
    assert len(await held_by(inner)) == 1  # left behind, queued
    flaky.fail_delete = False
    assert await cache.get("other", PROTO) is None  # any operation drains the queue
    assert await held_by(inner) == {}
    assert_idle(cache)


async def test_a_cleared_cache_store_keeps_other_caches_values() -> None:
    shared = MemoryStore()
    a, b = MemoryStore(), MemoryStore()
    await a.set("k", buf(b"a"))
    await b.set("k", buf(b"b"))
    cache_a = CacheStore(a, cache_store=shared)
    cache_b = CacheStore(b, cache_store=shared)
    await cache_a.get("k", PROTO)
    await cache_b.get("k", PROTO)
    await cache_a.clear_cache()
    assert list((await held_by(shared)).values()) == [b"b"]
    assert raw(await cache_b.get("k", PROTO)) == b"b"
    assert cache_b.cache_stats()["hits"] == 1
