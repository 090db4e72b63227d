"""The ways a benchmark reads: our cache, zarr's experimental cache, and their sources."""

from __future__ import annotations

import warnings

from zarr.abc.store import Store
from zarr.core.buffer import cpu, default_buffer_prototype
from zarr.storage import MemoryStore

from zarr_cachestore import CacheStore

PROTO = default_buffer_prototype()
UNBOUNDED = 1 << 40  # a budget nothing in a benchmark reaches


def zarr_cache(source: Store, max_size: int = UNBOUNDED) -> Store:
    """zarr's ``zarr.experimental.cache_store.CacheStore`` in front of ``source``."""
    from zarr.experimental.cache_store import CacheStore as ZarrCacheStore

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr's experimental API warns on use
        return ZarrCacheStore(source, cache_store=MemoryStore(), max_size=max_size)


def our_cache(source: Store, max_size: int = UNBOUNDED, **options: object) -> CacheStore:
    """``zarr_cachestore.CacheStore`` in front of ``source``."""
    return CacheStore(source, max_size=max_size, **options)  # type: ignore[arg-type]


def keys_of(count: int, prefix: str = "c/") -> list[str]:
    return [f"{prefix}{index}" for index in range(count)]


def memory_source(keys: list[str], value_bytes: int) -> MemoryStore:
    """A ``MemoryStore`` holding a distinct zero-filled value of ``value_bytes`` per key."""
    store = MemoryStore()
    for key in keys:
        store._store_dict[key] = cpu.Buffer.from_bytes(bytes(value_bytes))
    return store


def supports_sync_io(store: Store) -> str:
    """Whether zarr's synchronous fast path reads ``store`` ("n/a" before zarr 3.3)."""
    import zarr.abc.store

    check = getattr(zarr.abc.store, "_store_supports_sync_io", None)
    if check is None:
        return "n/a"
    return "yes" if check(store) else "no"
