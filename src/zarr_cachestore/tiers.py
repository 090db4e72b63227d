"""Where whole cached values live: an in-process dict, or any zarr ``Store``.

Both tiers answer the same calls. A ``*_now`` call does its work at once, under the engine's
lock, when the tier can (a dict); when it cannot, it says so (``LATER``, ``False``) and the
engine awaits the asynchronous twin outside the lock.

A tier that other caches may see too (a ``cache_store`` the user passed) never writes a value
in place: every insert gets a fresh name below a prefix that is this cache's own, so a late
write, a concurrent copy or a second source can never put bytes under a name some ledger trusts.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sys
import uuid
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from zarr.storage import LocalStore, MemoryStore, WrapperStore

if TYPE_CHECKING:
    from zarr.abc.store import RangeByteRequest, Store
    from zarr.core.buffer import Buffer, BufferPrototype

    from zarr_cachestore.shared import SharedTier

__all__ = [
    "LATER",
    "Later",
    "MemoryTier",
    "StoreTier",
    "Tier",
    "check_cache_store",
    "is_stable",
    "namespace_of",
    "shared_tier_for",
]


class Later:
    def __repr__(self) -> str:
        return "LATER"


LATER: Final = Later()  # a ``get_now`` answer: only the asynchronous ``get`` can tell


class Tier(Protocol):
    """Where the engine keeps whole values, by the names the tier gives them."""

    immediate: bool  # every ``*_now`` call does its work: no event loop is ever needed

    def name(self, key: str) -> str:
        """The name a new value of ``key`` is written under."""

    def get_now(self, name: str) -> Buffer | Later | None:
        """The value at once; ``None`` if the tier lost it; ``LATER`` if only :meth:`get` can
        tell."""

    async def get(
        self, name: str, prototype: BufferPrototype, request: RangeByteRequest | None = None
    ) -> Buffer | None:
        """The value, or the bytes of ``request`` of it; ``None`` if it is not there."""

    def set_now(self, name: str, value: Buffer) -> bool:
        """Write at once if the tier can; whether it did."""

    async def set(self, name: str, value: Buffer) -> None: ...

    def delete_now(self, name: str) -> bool:
        """Delete at once if the tier can; whether it did."""

    async def delete(self, name: str) -> None: ...

    def clear_now(self) -> bool:
        """Drop every value this cache wrote, at once if the tier can; whether it did."""

    async def clear(self) -> None: ...


class MemoryTier:
    """Values in a dict: every call is immediate.

    With ``prefix`` (a ``MemoryStore`` the user passed, which other caches may share) values
    are written under fresh names below it; without, under their keys.
    """

    immediate = True

    def __init__(
        self,
        values: MutableMapping[str, Buffer] | None = None,
        *,
        prefix: str | None = None,
        shown_as: object = None,
    ) -> None:
        self._values: MutableMapping[str, Buffer] = {} if values is None else values
        self._names = None if prefix is None else _Names(prefix)
        self._shown_as = shown_as

    @property
    def keyed(self) -> bool:
        """Whether values are held under their keys (no other cache shares the dict)."""
        return self._names is None

    def name(self, key: str) -> str:
        return key if self._names is None else self._names.fresh()

    def get_now(self, name: str) -> Buffer | None:
        return self._values.get(name)

    async def get(
        self, name: str, prototype: BufferPrototype, request: RangeByteRequest | None = None
    ) -> Buffer | None:
        value = self._values.get(name)
        if value is None or request is None:
            return value
        return value[request.start : request.end]

    def set_now(self, name: str, value: Buffer) -> bool:
        self._values[name] = value
        return True

    async def set(self, name: str, value: Buffer) -> None:
        self.set_now(name, value)

    def delete_now(self, name: str) -> bool:
        self._values.pop(name, None)
        return True

    async def delete(self, name: str) -> None:
        self.delete_now(name)

    def clear_now(self) -> bool:
        if self._names is None:
            self._values.clear()
        else:
            prefix = self._names.prefix
            for name in [name for name in self._values if name.startswith(prefix)]:
                del self._values[name]
        return True

    async def clear(self) -> None:
        self.clear_now()

    def __repr__(self) -> str:
        return "MemoryTier()" if self._shown_as is None else repr(self._shown_as)


class StoreTier:
    """Values in a zarr ``Store`` (local disk, ...), under fresh names below this cache's
    prefix: asynchronous, never under a lock."""

    immediate = False

    def __init__(self, store: Store, prefix: str) -> None:
        self.store = store
        self._names = _Names(prefix)

    def name(self, key: str) -> str:
        return self._names.fresh()

    def get_now(self, name: str) -> Later:
        return LATER

    async def get(
        self, name: str, prototype: BufferPrototype, request: RangeByteRequest | None = None
    ) -> Buffer | None:
        return await self.store.get(name, prototype, request)

    def set_now(self, name: str, value: Buffer) -> bool:
        return False

    async def set(self, name: str, value: Buffer) -> None:
        await self.store.set(name, value)

    def delete_now(self, name: str) -> bool:
        return False

    async def delete(self, name: str) -> None:
        await self.store.delete(name)

    def clear_now(self) -> bool:
        return False

    async def clear(self) -> None:
        await self.store._ensure_open()  # a LocalStore creates its folder here
        await self.store.delete_dir(self._names.prefix.rstrip("/"))

    def __repr__(self) -> str:
        return repr(self.store)


class _Names:
    """Fresh names below ``prefix``: never the same twice, in any process."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._count = itertools.count()

    def fresh(self) -> str:
        return f"{self.prefix}{next(self._count):x}"


def tier_for(cache_store: Store | None, namespace: str) -> MemoryTier | StoreTier:
    """The tier for a ``cache_store`` argument. By default a private dict; a zarr
    ``MemoryStore`` is used as the dict it holds (under the engine's lock, with no await); any
    other store through its asynchronous API. Values of ``namespace`` (the source's) go below a
    prefix of their own for this cache."""
    if cache_store is None:
        return MemoryTier()
    prefix = f"{_digest(namespace)}/{uuid.uuid4().hex[:16]}/"
    values = getattr(cache_store, "_store_dict", None)
    if type(cache_store) is MemoryStore and isinstance(values, MutableMapping):
        return MemoryTier(values, prefix=prefix, shown_as=cache_store)
    return StoreTier(cache_store, prefix)


def _digest(namespace: str) -> str:
    return hashlib.sha256(namespace.encode()).hexdigest()[:16]


def shared_tier_for(
    cache_store: Store | None, max_size: int | None, policy: object, *, warm: bool
) -> SharedTier | None:
    """The tier many processes share for a ``cache_store``: a ``LocalStore``'s folder is a
    :class:`~zarr_cachestore.disk_tier.DiskTier`, a ``RedisStore``'s server a
    :class:`~zarr_cachestore.redis_tier.RedisTier`; other stores are used as they are."""
    budget = sys.maxsize if max_size is None else max_size
    if isinstance(cache_store, LocalStore):
        from zarr_cachestore.disk_tier import DiskTier

        return DiskTier(cache_store.root, max_size=budget, policy=policy, warm=warm)
    if type(cache_store).__name__ == "RedisStore":
        from zarr_cachestore.redis_tier import RedisTier

        return RedisTier.from_store(cache_store, max_size=budget, policy=policy)  # type: ignore[arg-type]
    return None


def is_stable(namespace: str) -> bool:
    """Whether a :func:`namespace_of` names where the data lives (the same in any process)."""
    return not namespace.startswith(_UNSTABLE)


_UNSTABLE = "object:"


def namespace_of(source: Store) -> str:
    """A name for what ``source`` holds: stable across processes when the store says where its
    data lives (a local folder, a URL, an object store's configuration), else unique to this
    object."""
    source = _unwrapped(source)
    if isinstance(source, LocalStore):
        return f"file://{Path(source.root).resolve()}"
    path = getattr(source, "path", None)
    fs = getattr(source, "fs", None)
    if fs is not None and isinstance(path, str):  # an FsspecStore
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        return f"{protocol}://{path}"
    store = getattr(source, "store", None)
    if store is not None and type(source).__name__ == "ObjectStore":
        return f"object-store:{store!r}"
    return f"{_UNSTABLE}{type(source).__qualname__}@{os.getpid()}:{id(source):x}"


def check_cache_store(cache_store: Store, source: Store) -> None:
    """Refuse a ``cache_store`` that cannot hold a cache, or that is (or overlaps) the source,
    where evictions would delete source data."""
    if not cache_store.supports_deletes:
        raise ValueError(
            f"The provided cache store {cache_store} does not support deletes. The cache_store "
            "must support deletes for CacheStore to function properly: evicted values are "
            "deleted from it. Pass a writable store that supports deletes, such as "
            "zarr.storage.MemoryStore() or zarr.storage.LocalStore(path)."
        )
    if cache_store.read_only:
        raise ValueError(
            f"cache_store {cache_store!r} is read-only; pass a writable store, e.g. "
            "zarr.storage.MemoryStore()"
        )
    if _overlap(cache_store, source):
        raise ValueError(
            f"cache_store {cache_store!r} is the source store {source!r} or shares its data; "
            "evictions would delete source data. Pass a separate store, e.g. "
            "zarr.storage.LocalStore(path) in a folder of its own."
        )


def _overlap(a: Store, b: Store) -> bool:
    a, b = _unwrapped(a), _unwrapped(b)
    if a is b:
        return True
    if isinstance(a, LocalStore) and isinstance(b, LocalStore):
        root_a, root_b = Path(a.root).resolve(), Path(b.root).resolve()
        return root_a.is_relative_to(root_b) or root_b.is_relative_to(root_a)
    values_a = getattr(a, "_store_dict", None)
    return values_a is not None and values_a is getattr(b, "_store_dict", None)


def _unwrapped(store: Store) -> Store:
    while isinstance(store, WrapperStore):
        store = store._store
    return store
