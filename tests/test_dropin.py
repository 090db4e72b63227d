"""CacheStore is a drop-in for ``zarr.experimental.cache_store.CacheStore``, and correct where
that one is not."""

from __future__ import annotations

import asyncio
import doctest
import inspect
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from zarr.storage import LocalStore, MemoryStore

from helpers import PROTO, buf, raw
from zarr_cachestore import CacheStore
from zarr_cachestore.latency import LatencyStore

zarr_cache_store = pytest.importorskip("zarr.experimental.cache_store")
ZarrCacheStore = zarr_cache_store.CacheStore


def test_every_keyword_of_zarrs_constructor_is_accepted_with_the_same_default() -> None:
    theirs = inspect.signature(ZarrCacheStore.__init__).parameters
    ours = inspect.signature(CacheStore.__init__).parameters
    for name, param in theirs.items():
        assert name in ours, f"missing keyword {name}"
        if param.default is not inspect.Parameter.empty and name != "cache_store":
            assert ours[name].default == param.default, name


@pytest.mark.parametrize("kwargs", [{}, {"max_age_seconds": 60}, {"cache_set_data": False}])
def test_the_same_arguments_build_both(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"cache_store": MemoryStore(), "max_size": 1 << 20, **kwargs}
    theirs = ZarrCacheStore(MemoryStore(), **args)
    ours = CacheStore(MemoryStore(), **args)
    assert ours.max_size == theirs.max_size
    assert ours.cache_set_data == theirs.cache_set_data
    assert ours.max_age_seconds == theirs.max_age_seconds


async def test_info_and_stats_have_at_least_zarrs_keys() -> None:
    theirs = ZarrCacheStore(MemoryStore(), cache_store=MemoryStore(), max_size=100)
    ours = CacheStore(MemoryStore(), cache_store=MemoryStore(), max_size=100)
    assert set(theirs.cache_info()) <= set(ours.cache_info())
    assert set(theirs.cache_stats()) <= set(ours.cache_stats())
    await ours.clear_cache()


@pytest.mark.parametrize("cache_store", [MemoryStore, None])
def test_lfu_in_front_of_an_array_reads_what_was_written(cache_store: type | None) -> None:
    source = MemoryStore()
    store = CacheStore(
        source,
        cache_store=cache_store() if cache_store else None,
        max_size=4096,
        eviction="lfu",
    )
    data = np.arange(40 * 40, dtype="i4").reshape(40, 40)
    array = zarr.create_array(store, shape=data.shape, chunks=(10, 10), dtype="i4")
    array[:] = data
    for _ in range(2):
        np.testing.assert_array_equal(array[5:25, 3:33], data[5:25, 3:33])
    stats = store.cache_stats()
    assert stats["hits"] > 0
    assert store.cache_info()["current_size"] <= 4096


async def test_a_value_larger_than_max_size_is_never_written_to_the_cache_store() -> None:
    cache = MemoryStore()
    store = CacheStore(MemoryStore(), cache_store=cache, max_size=10)
    await store.set("big", buf(b"x" * 11))
    assert raw(await store.get("big", PROTO)) == b"x" * 11
    assert [key async for key in cache.list()] == []
    assert store.cache_info()["current_size"] == 0
    assert store.cache_stats()["admissions_refused"] == 2  # the write, then the read


async def test_updating_a_key_counts_it_once_and_evicts_nothing_else() -> None:
    store = CacheStore(MemoryStore(), cache_store=MemoryStore(), max_size=10)
    await store.set("a", buf(b"12345"))
    await store.set("b", buf(b"123"))
    await store.set("a", buf(b"1234567"))
    assert store.cache_info()["current_size"] == 10
    assert store.cache_stats()["evictions"] == 0
    assert raw(await store.get("b", PROTO)) == b"123"


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.delete_dir("group"),
        lambda s: s.clear(),
        lambda s: s.delete("group/x"),
        lambda s: s._set_many([("group/x", buf(b"new"))]),
    ],
    ids=["delete_dir", "clear", "delete", "_set_many"],
)
async def test_no_write_path_leaves_a_stale_value(write: object) -> None:
    store = CacheStore(MemoryStore(), cache_store=MemoryStore())
    await store.set("group/x", buf(b"old"))
    assert raw(await store.get("group/x", PROTO)) == b"old"
    await write(store)  # type: ignore[operator]
    now = await store._store.get("group/x", PROTO)
    got = await store.get("group/x", PROTO)
    assert (got and got.to_bytes()) == (now and now.to_bytes())


async def test_set_if_not_exists_never_caches_the_value_it_did_not_write() -> None:
    store = CacheStore(MemoryStore())
    await store.set("k", buf(b"first"))
    await store.set_if_not_exists("k", buf(b"second"))
    assert raw(await store.get("k", PROTO)) == b"first"


async def test_a_local_cache_store_works_as_zarrs_did(tmp_path: Path) -> None:
    source = LocalStore(str(tmp_path / "data"))
    cache = LocalStore(str(tmp_path / "cache"))
    store = CacheStore(source, cache_store=cache, max_size=100, eviction="lfu")
    await store.set("a/b", buf(b"hello"))
    assert raw(await store.get("a/b", PROTO)) == b"hello"  # from the source, kept on disk
    assert raw(await store.get("a/b", PROTO)) == b"hello"  # from the disk
    assert store.cache_stats()["shared_hits"] == 1
    await store.delete("a/b")
    assert await store.get("a/b", PROTO) is None


def test_a_persistent_cache_store_needs_a_source_that_says_where_its_data_lives(
    tmp_path: Path,
) -> None:
    cache = LocalStore(str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=r"namespace='my-dataset'"):
        CacheStore(MemoryStore(), cache_store=cache)
    named = CacheStore(MemoryStore(), cache_store=cache, namespace="scratch")
    assert named._engine.namespace == "scratch"


def test_repr_shows_what_zarrs_shows() -> None:
    text = repr(CacheStore(MemoryStore(), cache_store=MemoryStore(), max_size=100))
    for field in ("store=", "cache_store=", "max_age_seconds=infinity", "max_size=100"):
        assert field in text
    assert "current_size=0" in text
    assert "cached_keys=0" in text


async def test_open_builds_the_source_and_configures_the_cache(tmp_path: Path) -> None:
    cache = await CacheStore.open(
        LocalStore, str(tmp_path), read_only=False, max_size="1KiB", eviction="lfu"
    )
    assert isinstance(cache._store, LocalStore)
    assert cache._store.root == tmp_path
    assert (cache.max_size, type(cache.eviction).__name__) == (1024, "LFU")
    opened = await CacheStore.open(MemoryStore(), max_size=10)
    assert opened.max_size == 10
    with pytest.raises(TypeError, match=r"an opened store .* and arguments for building one"):
        await CacheStore.open(MemoryStore(), "extra")


def test_clear_cache_runs_without_an_event_loop() -> None:
    source = MemoryStore()
    zarr.create_array(source, shape=(4,), chunks=(2,), dtype="i1")[:] = 7
    cache = CacheStore(source)
    assert np.asarray(zarr.open_array(cache, mode="r")[:]).tolist() == [7] * 4
    assert cache.cache_info()["cached_keys"] > 0
    cache.clear_cache_sync()
    assert cache.cache_info()["cached_keys"] == 0


def test_help_starts_with_an_example_that_runs() -> None:
    doc = CacheStore.__doc__ or ""
    assert doc.index("Examples") < doc.index("Parameters")
    from zarr_cachestore import store

    assert doctest.testmod(store).failed == 0


async def test_evictions_admissions_and_shared_misses_are_logged_at_debug_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    values = MemoryStore()
    for key in "abc":
        await values.set(key, buf(key.encode() * 10))
    await values.set("big", buf(bytes(30)))
    source = LatencyStore(values, latency=0.01)  # so that the second read of "a" waits
    cache = CacheStore(source, max_size=20)
    with caplog.at_level(logging.DEBUG, logger="zarr_cachestore"):
        await asyncio.gather(cache.get("a", PROTO), cache.get("a", PROTO))
        for key in "bc":
            await cache.get(key, PROTO)
        await cache.get("big", PROTO)
    text = caplog.text
    assert "admitted 'a' (10 bytes)" in text
    assert "evicted 'a' (10 bytes) to make room for 'c'" in text
    assert "waits for the read already under way" in text
    assert "refused 'big' (30 bytes)" in text


needs_sync_io = pytest.mark.skipif(
    not hasattr(zarr.abc.store, "_store_supports_sync_io"),
    reason="zarr's synchronous store path exists from zarr 3.3 on",
)


@needs_sync_io
def test_zarr_takes_the_synchronous_path_through_a_memory_tier() -> None:
    from zarr.abc.store import _store_supports_sync_io  # type: ignore[attr-defined]

    source = MemoryStore()
    zarr.create_array(source, shape=(64,), chunks=(8,), dtype="i2")[:] = 3
    cache = CacheStore(source, max_size="1MiB")
    assert _store_supports_sync_io(cache)
    array = zarr.open_array(cache, mode="r")
    assert np.asarray(array[:]).sum() == 3 * 64  # misses, through the source's get_sync
    assert np.asarray(array[:]).sum() == 3 * 64  # hits, with no event loop
    stats = cache.cache_stats()
    assert stats["hits"] >= 8
    zarr.open_array(cache, mode="r+")[:8] = 5  # a write on the synchronous path is coherent
    assert np.asarray(zarr.open_array(cache, mode="r")[:8]).tolist() == [5] * 8


@needs_sync_io
def test_the_synchronous_path_is_offered_only_when_it_can_be_honoured(tmp_path: Path) -> None:
    from zarr.abc.store import _store_supports_sync_io  # type: ignore[attr-defined]

    source = MemoryStore()
    assert not _store_supports_sync_io(CacheStore(source, cache_store=LatencyStore(MemoryStore())))
    disk = CacheStore(LocalStore(str(tmp_path / "d")), cache_store=LocalStore(str(tmp_path / "c")))
    assert not _store_supports_sync_io(disk)
