"""A cache records what it is asked, as traces the simulator and ``advise`` read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.abc.store import RangeByteRequest
from zarr.storage import MemoryStore

from helpers import PROTO, buf
from zarr_cachestore import CacheStore
from zarr_cachestore.simulate import simulate
from zarr_cachestore.simulate.readers import read_oracle_general, read_zarr_csv


def test_every_access_is_recorded_with_its_outcome(tmp_path: Path) -> None:
    source = MemoryStore()
    array = zarr.create_array(source, name="t", shape=(8, 8), chunks=(4, 4), dtype="i2")
    array[:] = 1
    path = tmp_path / "reads.csv"
    store = CacheStore(source, max_size=1 << 20, record=path)
    reader = zarr.open_array(store, path="t", mode="r")
    assert np.asarray(reader[:4, :4]).sum() == 16
    assert np.asarray(reader[:4, :4]).sum() == 16
    store.stop_recording()

    trace = read_zarr_csv(path)
    assert trace.names is not None
    names = [trace.names[key] for key in trace.keys]
    assert names.count("t/c/0/0") == 2  # the chunk, read twice
    stats = store.cache_stats()
    assert len(trace) == stats["total_requests"]
    (lru,) = simulate(trace, "lru", [1 << 20])
    assert lru.misses == stats["misses"]  # the replay agrees with what the cache did


async def test_ranges_and_the_oracle_general_format(tmp_path: Path) -> None:
    source = MemoryStore()
    await source.set("shard", buf(bytes(range(200))))
    store = CacheStore(source)
    path = tmp_path / "reads.oracleGeneral"
    with store.recording(path):
        for _ in range(3):
            await store.get("shard", PROTO, RangeByteRequest(10, 50))
        await store.get("shard", PROTO)
    trace = read_oracle_general(path)
    assert list(trace.sizes) == [40, 40, 40, 200]
    assert trace.keys[0] == trace.keys[1] == trace.keys[2] != trace.keys[3]


def test_a_cache_records_to_one_trace_at_a_time(tmp_path: Path) -> None:
    store = CacheStore(MemoryStore(), record=tmp_path / "a.csv")
    with pytest.raises(ValueError, match=r"already recording to .*a\.csv; call stop_recording"):
        store.start_recording(tmp_path / "b.csv")
    store.stop_recording()
    assert (tmp_path / "a.csv").exists()
