"""A warm-cache ``arr[:]`` over many small chunks, through zarr, three ways.

On zarr 3.3+ zarr reads a store through its synchronous fast path when the store says it
supports it (``zarr.abc.store._store_supports_sync_io``); the row says which stores did.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs
import numpy as np
import numpy.typing as npt
import zarr
from zarr.abc.store import Store
from zarr.storage import MemoryStore

from benchmarks.harness import Row, Timed, interleave, ratio_row
from benchmarks.stores import our_cache, supports_sync_io, zarr_cache

SECTION = "warm arr[:] over small chunks (time per read, ours / baseline)"


def write_array(chunks: int, chunk_elements: int = 4) -> tuple[MemoryStore, npt.NDArray[np.int32]]:
    """A 1-d int32 array of ``chunks`` uncompressed chunks in a ``MemoryStore``."""
    data = np.arange(chunks * chunk_elements, dtype="int32")
    source = MemoryStore()
    array = zarr.create_array(
        source, shape=data.shape, chunks=(chunk_elements,), dtype="int32", compressors=None
    )
    array[:] = data
    return source, data


async def warm_array_reads(chunks: int, rounds: int) -> list[Row]:
    source, data = write_array(chunks)
    builders: dict[str, Callable[[MemoryStore], Store]] = {
        "ours": our_cache,
        "bare": lambda store: store,
        "zarr": zarr_cache,
    }
    arrays = {}
    for way, build in builders.items():
        store = build(source)
        array = zarr.open_array(store, mode="r")
        if not np.array_equal(array[:], data):  # and warms the cache
            raise AssertionError(f"{way}: arr[:] returned wrong data")
        arrays[way] = (array, supports_sync_io(store))

    def reader(array: zarr.Array) -> Timed:  # type: ignore[type-arg]
        async def timed() -> float:
            start = time.perf_counter()
            array[:]  # zarr's synchronous API, which runs zarr's own event loop
            return time.perf_counter() - start

        return timed

    times = await interleave({way: reader(array) for way, (array, _) in arrays.items()}, rounds)
    title = f"{SECTION}, {chunks:,} chunks"
    return [
        attrs.evolve(
            ratio_row(title, f"arr[:] vs through {name}", times, "ours", way),
            note=f"sync fast path: ours {arrays['ours'][1]}, {way} {arrays[way][1]}",
        )
        for way, name in (("bare", "a bare MemoryStore"), ("zarr", "zarr's CacheStore"))
    ]
