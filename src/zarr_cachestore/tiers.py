"""Where whole cached values live: an in-process dict, or any zarr ``Store``."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING

from zarr.storage import MemoryStore

if TYPE_CHECKING:
    from zarr.abc.store import RangeByteRequest, Store
    from zarr.core.buffer import Buffer, BufferPrototype

__all__ = ["MemoryTier", "StoreTier", "tier_for"]


def tier_for(cache_store: Store | None) -> MemoryTier | StoreTier:
    """The tier for a ``cache_store`` argument: a zarr ``MemoryStore`` is an in-process dict,
    used directly (and so under the store's lock, with no await); any other store is used
    through its asynchronous API."""
    if cache_store is None:
        return MemoryTier()
    _check_usable(cache_store)
    values = getattr(cache_store, "_store_dict", None)
    if type(cache_store) is MemoryStore and isinstance(values, MutableMapping):
        return MemoryTier(values, shown_as=cache_store)
    return StoreTier(cache_store)


def _check_usable(store: Store) -> None:
    if not store.supports_deletes:
        raise ValueError(
            f"cache_store {store!r} does not support deletes, so evicted values could not be "
            "removed from it; pass a writable store that supports deletes, such as "
            "zarr.storage.MemoryStore() or zarr.storage.LocalStore(path)"
        )
    if store.read_only:
        raise ValueError(
            f"cache_store {store!r} is read-only; pass a writable store, e.g. "
            "zarr.storage.MemoryStore()"
        )


class MemoryTier:
    """Values in a dict. Every operation is immediate, so the store runs it under its lock;
    the asynchronous methods exist so that both tiers answer the same calls."""

    def __init__(
        self, values: MutableMapping[str, Buffer] | None = None, *, shown_as: object = None
    ) -> None:
        self._values: MutableMapping[str, Buffer] = {} if values is None else values
        self._shown_as = shown_as

    def get_now(self, key: str) -> Buffer:
        return self._values[key]

    def set_now(self, key: str, value: Buffer) -> None:
        self._values[key] = value

    def delete_now(self, key: str) -> None:
        self._values.pop(key, None)

    def clear_now(self) -> None:
        self._values.clear()

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: RangeByteRequest | None = None
    ) -> Buffer | None:
        value = self._values.get(key)
        if value is None or byte_range is None:
            return value
        return value[byte_range.start : byte_range.end]

    async def set(self, key: str, value: Buffer) -> None:
        self.set_now(key, value)

    async def delete(self, key: str) -> None:
        self.delete_now(key)

    async def clear(self) -> None:
        self.clear_now()

    def __repr__(self) -> str:
        return "MemoryTier()" if self._shown_as is None else repr(self._shown_as)


class StoreTier:
    """Values in a zarr ``Store`` (memory, local disk, ...): asynchronous, never under a lock."""

    def __init__(self, store: Store) -> None:
        _check_usable(store)
        self.store = store

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: RangeByteRequest | None = None
    ) -> Buffer | None:
        return await self.store.get(key, prototype, byte_range)

    async def set(self, key: str, value: Buffer) -> None:
        await self.store.set(key, value)

    async def delete(self, key: str) -> None:
        await self.store.delete(key)

    async def clear(self) -> None:
        await self.store._ensure_open()  # a LocalStore creates its folder here
        await self.store.clear()

    def __repr__(self) -> str:
        return repr(self.store)
