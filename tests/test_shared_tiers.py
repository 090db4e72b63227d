"""Caches that outlive a task and a process: a disk tier shared by the processes of a host, a
Redis tier shared by every host, and one cache per dask worker.

Source reads are counted by the caches themselves (a miss is one source request), gathered
from every worker with ``cluster_stats``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
import zarr
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from zarr.storage import LocalStore

from helpers import PROTO, REQUESTS, buf, examples, expected_bytes, raw
from services import RedisServer
from zarr_cachestore import CacheStore, RedisStore

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


def source_array(path: Path, chunks: int = 16) -> LocalStore:
    store = LocalStore(str(path))
    array = zarr.create_array(store, shape=(chunks * 8,), chunks=(8,), dtype="f8")
    array[:] = np.arange(chunks * 8, dtype="f8")
    return LocalStore(str(path), read_only=True)


def misses(store: CacheStore) -> int:
    return int(store.cache_stats()["misses"])


# -- the disk tier -----------------------------------------------------------------------


def test_a_new_process_over_the_same_folder_starts_warm(tmp_path: Path) -> None:
    source = source_array(tmp_path / "data")
    first = CacheStore(source, cache_store=LocalStore(str(tmp_path / "cache")), max_size="1MiB")
    array = zarr.open_array(first, mode="r")
    assert np.asarray(array[:]).sum() == np.arange(128).sum()
    assert misses(first) > 0
    first.close()

    restarted = CacheStore(
        LocalStore(str(tmp_path / "data"), read_only=True),
        cache_store=LocalStore(str(tmp_path / "cache")),
        max_size="1MiB",
    )
    again = zarr.open_array(restarted, mode="r")
    assert np.asarray(again[:]).sum() == np.arange(128).sum()
    stats = restarted.cache_stats()
    assert stats["bytes_from_source"] == 0, "the restart read values from the source"
    assert stats["misses"] == 2  # zarr's probes for v2 metadata, which does not exist
    assert stats["shared_hits"] == stats["hits"] == 17  # zarr.json and 16 chunks


def test_warm_false_starts_from_an_empty_folder(tmp_path: Path) -> None:
    source = source_array(tmp_path / "data")
    first = CacheStore(source, cache_store=LocalStore(str(tmp_path / "cache")))
    zarr.open_array(first, mode="r")[:]
    cold = CacheStore(source, cache_store=LocalStore(str(tmp_path / "cache")), warm=False)
    zarr.open_array(cold, mode="r")[:]
    assert cold.cache_stats()["shared_hits"] == 0
    assert misses(cold) > 0


def test_a_shared_tier_refuses_a_policy_it_cannot_order_by(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lru"):
        CacheStore(
            source_array(tmp_path / "data"),
            cache_store=LocalStore(str(tmp_path / "cache")),
            eviction="sieve",
        )


def _writer(data: Path, cache: Path, ready: Any, go: Any) -> None:
    store = CacheStore(
        LocalStore(str(data)), cache_store=LocalStore(str(cache)), max_size=4096, memory_size=4096
    )
    ready.set()
    go.wait(10)
    asyncio.run(store.set("k", buf(b"written by the other process")))


def test_a_write_in_one_process_reaches_the_other_within_the_poll(tmp_path: Path) -> None:
    data = tmp_path / "data"
    LocalStore(str(data))
    asyncio.run(LocalStore(str(data)).set("k", buf(b"first")))
    reader = CacheStore(
        LocalStore(str(data)),
        cache_store=LocalStore(str(tmp_path / "cache")),
        max_size=4096,
        memory_size=4096,
        shared_poll=0.2,
    )
    assert raw(asyncio.run(reader.get("k", PROTO))) == b"first"
    assert raw(asyncio.run(reader.get("k", PROTO))) == b"first"  # from its memory tier
    context = multiprocessing.get_context("spawn")
    ready, go = context.Event(), context.Event()
    other = context.Process(target=_writer, args=(data, tmp_path / "cache", ready, go))
    other.start()
    assert ready.wait(30)
    go.set()
    other.join(30)
    assert other.exitcode == 0
    time.sleep(0.25)  # the bound: one poll interval
    assert raw(asyncio.run(reader.get("k", PROTO))) == b"written by the other process"


def _reader(data: Path, cache: Path, keys: list[str]) -> int:
    store = CacheStore(LocalStore(str(data)), cache_store=LocalStore(str(cache)), max_size=2048)

    async def read() -> None:
        for key in keys:
            await store.get(key, PROTO)

    asyncio.run(read())
    return int(store.cache_stats()["misses"])


def test_two_processes_hold_one_budget_and_share_hits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    keys = [f"k{i}" for i in range(12)]

    async def fill() -> None:
        for key in keys:
            await LocalStore(str(data)).set(key, buf(os.urandom(256)))

    asyncio.run(fill())
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        first = pool.apply(_reader, (data, tmp_path / "cache", keys[:6]))
        both = pool.starmap(_reader, [(data, tmp_path / "cache", keys[:6])] * 2)
    assert first == 6
    assert both == [0, 0], "the other process's values were not hits"
    values = sum(
        f.stat().st_size for f in (tmp_path / "cache" / "values").rglob("*") if f.is_file()
    )
    assert values <= 2048


# -- dask.distributed ---------------------------------------------------------------------


def local_cluster(workers: int) -> Any:
    return distributed.LocalCluster(
        n_workers=workers, threads_per_worker=2, processes=True, dashboard_address=":0"
    )


@pytest.fixture(scope="module")
def one_worker() -> Any:
    with local_cluster(1) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def cluster() -> Any:
    with local_cluster(2) as cluster, distributed.Client(cluster) as client:
        yield client


def compute_twice(client: Any, store: CacheStore) -> tuple[int, int]:
    from zarr_cachestore.cluster import cluster_stats

    array = da.from_zarr(zarr.open_array(store, mode="r"))
    expected = float(np.arange(array.size).sum())
    assert float(array.sum().compute()) == expected
    first = cluster_stats(client, store)["total"]["misses"]
    assert float(array.sum().compute()) == expected
    second = cluster_stats(client, store)["total"]["misses"] - first
    return first, second


def test_a_worker_keeps_its_cache_across_computes(one_worker: Any, tmp_path: Path) -> None:
    store = CacheStore(source_array(tmp_path / "data"))
    first, second = compute_twice(one_worker, store)
    assert first >= 16
    assert second == 0


def test_workers_share_a_disk_tier(cluster: Any, tmp_path: Path) -> None:
    store = CacheStore(source_array(tmp_path / "data"), cache_store=LocalStore(str(tmp_path / "c")))
    first, second = compute_twice(cluster, store)
    assert first >= 16
    assert second <= first // 10


# -- the Redis tier -------------------------------------------------------------------------


def test_workers_share_a_redis_tier(
    cluster: Any, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    tier = RedisStore(redis_url, prefix=redis_prefix)
    store = CacheStore(source_array(tmp_path / "data"), cache_store=tier, max_size="1MiB")
    first, second = compute_twice(cluster, store)
    assert first >= 16
    assert second == 0
    tier.close()


async def test_reads_survive_a_redis_outage_and_nothing_stale_follows(
    own_redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = LocalStore(str(tmp_path / "data"))
    await source.set("k", buf(b"v1"))
    url = f"redis://127.0.0.1:{own_redis_server.port}/0"
    reader = CacheStore(
        source,
        cache_store=RedisStore(url, prefix="t:"),
        memory_size=4096,
        shared_poll=0.0,
    )
    writer = CacheStore(source, cache_store=RedisStore(url, prefix="t:"))
    assert raw(await reader.get("k", PROTO)) == b"v1"
    own_redis_server.kill()
    for _ in range(3):
        assert raw(await reader.get("k", PROTO)) == b"v1"  # from the source now
    await writer.set("k", buf(b"v2"))  # the invalidation cannot reach the tier yet
    assert raw(await reader.get("k", PROTO)) == b"v2"
    errors = reader.cache_stats()["shared_errors"]
    assert errors > 0
    outages = [r for r in caplog.records if "shared cache tier failed" in r.getMessage()]
    assert len(outages) <= 2  # once per outage and process... here two caches
    own_redis_server.restart()
    await asyncio.sleep(0.1)
    for _ in range(3):
        assert raw(await reader.get("k", PROTO)) == b"v2"
    assert raw(await writer.get("k", PROTO)) == b"v2"
    for store in (reader, writer):
        store.close()
        await store._engine.shared.aclose()  # type: ignore[union-attr]


def test_a_pickled_store_carries_its_tier(tmp_path: Path) -> None:
    store = CacheStore(source_array(tmp_path / "data"), cache_store=LocalStore(str(tmp_path / "c")))
    copy = pickle.loads(pickle.dumps(store))
    assert copy._engine is store._engine


class DiskRestartMachine(RuleBasedStateMachine):
    """Reads and writes through a CacheStore on a disk tier, restarted (a new process's cache
    over the same folders) at random steps: every read answers what the source holds, and the
    folder keeps its budget."""

    MAX_SIZE = 600

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp())
        self.truth: dict[str, bytes] = {}
        self.loop = asyncio.new_event_loop()
        self.cache = self.restarted(0)

    def restarted(self, memory_size: int) -> CacheStore:
        return CacheStore(
            LocalStore(str(self.root / "data")),
            cache_store=LocalStore(str(self.root / "cache")),
            max_size=self.MAX_SIZE,
            memory_size=memory_size,
        )

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.cache._engine.shared.aclose())  # type: ignore[union-attr]
        self.loop.close()
        shutil.rmtree(self.root, ignore_errors=True)

    @rule(key=st.sampled_from(["a", "c/0", "c/1", "c/2"]), value=st.binary(max_size=200))
    def write(self, key: str, value: bytes) -> None:
        self.run(self.cache.set(key, buf(value)))
        self.truth[key] = value

    @rule(key=st.sampled_from(["a", "c/0", "c/1", "c/2"]), request=REQUESTS)
    def read(self, key: str, request: Any) -> None:
        got = raw(self.run(self.cache.get(key, PROTO, request)))
        truth = self.truth.get(key)
        assert got == (None if truth is None else expected_bytes(truth, request))

    @rule(key=st.sampled_from(["a", "c/0", "c/1", "c/2"]))
    def delete(self, key: str) -> None:
        self.run(self.cache.delete(key))
        self.truth.pop(key, None)

    @rule(memory_size=st.sampled_from([0, 100, 1000]))
    def restart(self, memory_size: int) -> None:
        self.run(self.cache._engine.shared.aclose())  # type: ignore[union-attr]
        self.cache = self.restarted(memory_size)

    @invariant()
    def the_folder_keeps_its_budget(self) -> None:
        values = self.root / "cache" / "values"
        held = sum(f.stat().st_size for f in values.rglob("*") if f.is_file())
        assert held <= self.MAX_SIZE


TestDiskRestartMachine = DiskRestartMachine.TestCase
TestDiskRestartMachine.settings = settings(
    max_examples=examples(20), stateful_step_count=25, deadline=None
)
