"""One cache per process: copies of a CacheStore that arrive in a process share its cache
there; in another process a copy starts empty; a process lets a cache no copy uses go."""

from __future__ import annotations

import gc
import multiprocessing
import pickle
import time

from zarr.storage import LocalStore

from helpers import PROTO, buf, raw
from zarr_cachestore import CacheStore, attach


def _second_process(data: bytes) -> tuple[int, int, bytes | None]:
    import asyncio

    copy = pickle.loads(data)
    value = asyncio.run(copy.get("k", PROTO))
    info, stats = copy.cache_info(), copy.cache_stats()
    return info["cached_keys"], stats["misses"], raw(value)


async def test_copies_in_one_process_share_one_cache(tmp_path: object) -> None:
    source = LocalStore(str(tmp_path))
    await source.set("k", buf(b"value"))
    cache = CacheStore(source, max_size=100)
    assert raw(await cache.get("k", PROTO)) == b"value"
    copies = [pickle.loads(pickle.dumps(cache)) for _ in range(3)]
    for copy in copies:
        assert raw(await copy.get("k", PROTO)) == b"value"
    assert all(copy._engine is cache._engine for copy in copies)
    assert cache.cache_stats()["hits"] == 3
    assert cache.cache_stats()["misses"] == 1


async def test_a_copy_in_another_process_starts_empty(tmp_path: object) -> None:
    source = LocalStore(str(tmp_path))
    await source.set("k", buf(b"value"))
    cache = CacheStore(source, max_size=100)
    await cache.get("k", PROTO)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        held, misses, value = pool.apply(_second_process, (pickle.dumps(cache),))
    assert (held, misses, value) == (1, 1, b"value")  # read from the source, then kept there


async def test_different_stores_never_share(tmp_path: object) -> None:
    source = LocalStore(str(tmp_path))
    first, second = CacheStore(source), CacheStore(source)
    assert pickle.loads(pickle.dumps(first))._engine is first._engine
    assert pickle.loads(pickle.dumps(second))._engine is second._engine
    assert first._engine is not second._engine


async def test_a_process_lets_a_cache_no_copy_uses_go_after_keep_alive(tmp_path: object) -> None:
    cache = CacheStore(LocalStore(str(tmp_path)), keep_alive=0.05)
    identity = cache._config.identity
    data = pickle.dumps(cache)
    assert identity in attach.engines()
    del cache
    gc.collect()
    time.sleep(0.2)
    assert identity not in attach.engines()
    copy = pickle.loads(data)  # arrives later: a cache of its own
    assert copy.cache_info()["cached_keys"] == 0
