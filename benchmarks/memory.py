"""Bookkeeping bytes per entry: what a cache allocates beyond a plain dict of key -> Buffer.

Both are filled with the same key and Buffer objects while ``tracemalloc`` traces allocations:
the dict by assignment, a cache by ``set`` through it (which caches what it writes; the source
already holds those very objects, so it allocates nothing). The difference, over the number of
entries, is what the cache's ledger, policy and tier cost per entry. A fill by ``set`` books an
entry as a miss does, at half a miss's cost under tracing.
"""

from __future__ import annotations

import gc
import tracemalloc
import warnings
from collections.abc import Callable

from zarr.abc.store import Store
from zarr.core.buffer import Buffer
from zarr.storage import MemoryStore

from benchmarks.harness import Row
from benchmarks.stores import keys_of, memory_source, our_cache, zarr_cache


class KeepingStore(MemoryStore):
    """A ``MemoryStore`` that keeps the very Buffer it is given (zarr 3.2+'s copies it), so
    that writing a value it already holds allocates nothing."""

    async def set(self, key: str, value: Buffer, byte_range: tuple[int, int] | None = None) -> None:
        if byte_range is not None:
            raise ValueError("KeepingStore.set writes whole values only")
        self._store_dict[key] = value


SECTION = "bookkeeping bytes per entry beyond a dict of key -> Buffer (tracemalloc)"


def eviction_policies() -> list[str]:
    """Every eviction policy installed: the built-ins and the plugins."""
    from zarr_cachestore import available

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a plugin that fails to load is just not listed
        return list(available("eviction"))


async def traced_bytes(fill: Callable[[], object]) -> int:
    """Bytes still allocated after awaiting ``fill()``, which returns what must stay alive."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = await fill()  # type: ignore[misc]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del held
    return after - before


async def bytes_per_entry(entries: int, value_bytes: int) -> list[Row]:
    keys = keys_of(entries)
    source = KeepingStore()
    source._store_dict.update(memory_source(keys, value_bytes)._store_dict)

    values = [source._store_dict[key] for key in keys]

    async def plain_dict() -> dict[str, Buffer]:
        return dict(zip(keys, values, strict=True))

    def filled(build: Callable[[], Store]) -> Callable[[], object]:
        async def fill() -> Store:
            store = build()
            for key, value in zip(keys, values, strict=True):
                await store.set(key, value)
            settle = getattr(store, "settle", None)
            if settle is not None:
                await settle()
            return store

        return fill

    baseline = await traced_bytes(plain_dict)
    ways: dict[str, Callable[[], Store]] = {
        f"ours, eviction={name!r}": (lambda name=name: our_cache(source, eviction=name))  # type: ignore[misc]
        for name in eviction_policies()
    }
    ways["ours, admission='tinylfu'"] = lambda: our_cache(source, admission="tinylfu")
    ways["ours, max_age_seconds=3600"] = lambda: our_cache(source, max_age_seconds=3600)
    ways["zarr's CacheStore"] = lambda: zarr_cache(source)
    rows = []
    for name, build in ways.items():
        extra = (await traced_bytes(filled(build)) - baseline) / entries
        rows.append(Row(SECTION, name, extra, unit="B"))
    rows.append(
        Row(
            SECTION,
            "a plain dict of key -> Buffer itself",
            baseline / entries,
            unit="B",
            detail=f"{entries:,} entries of {value_bytes} bytes",
        )
    )
    return rows
