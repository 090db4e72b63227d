"""The policies reach the core only through entry points and its public API."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
import zarr_cachestore
from zarr.storage import MemoryStore

EVICTION = ["sieve", "clock", "arc", "s3fifo", "s3fifo-sized", "wtinylfu", "wtinylfu-sized", "gdsf"]
EVICTION += ["frontier"]


def test_available_lists_them_with_their_distribution() -> None:
    eviction = zarr_cachestore.available("eviction")
    for name in EVICTION:
        assert eviction[name].startswith("zarr-cachestore-policies "), eviction[name]
    assert zarr_cachestore.available("admission")["tinylfu"].startswith("zarr-cachestore-policies ")


@pytest.mark.parametrize("name", EVICTION)
def test_reads_through_a_zarr_array(name: str) -> None:
    source = MemoryStore()
    data = np.arange(64 * 64, dtype="int32").reshape(64, 64)
    zarr.create_array(source, shape=data.shape, chunks=(8, 8), dtype="int32")[:] = data
    chunk = 8 * 8 * 4
    store = zarr_cachestore.CacheStore(source, max_size=12 * chunk, eviction=name)
    array = zarr.open_array(store, mode="r")
    for rows in [slice(0, 16), slice(8, 40), slice(0, 16), slice(32, 64), slice(0, 64)] * 2:
        np.testing.assert_array_equal(array[rows], data[rows])
    stats = store.cache_stats()
    assert stats["hits"] > 0
    assert stats["evictions"] > 0
    assert store.cache_info()["current_size"] <= 12 * chunk


def test_tinylfu_admission_by_name() -> None:
    source = MemoryStore()
    data = np.arange(32 * 32, dtype="int16").reshape(32, 32)
    zarr.create_array(source, shape=data.shape, chunks=(8, 8), dtype="int16")[:] = data
    store = zarr_cachestore.CacheStore(
        source, max_size=4 * 8 * 8 * 2, eviction="sieve", admission="tinylfu"
    )
    array = zarr.open_array(store, mode="r")
    for _ in range(3):
        np.testing.assert_array_equal(array[:], data)
        np.testing.assert_array_equal(array[:8, :8], data[:8, :8])
    assert store.cache_stats()["hits"] > 0
