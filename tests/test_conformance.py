"""zarr's store conformance suite, ``zarr.testing.store.StoreTests``, run against CacheStore.

Each class below is one configuration of the cache in front of one kind of source store. The
suite's ``get`` and ``set`` hooks read and write the *source* store directly, bypassing every
store method: the source is the truth, and whatever the suite writes there behind the cache's
back must be what the cache serves.

``StoreTests`` builds stores two ways. ``store_cls(**store_kwargs)`` is the constructor, so the
configured cache is tested through ``store_kwargs``; the ``store`` fixture opens such a store.
``store_cls.open(**open_kwargs)`` is ``WrapperStore.open``, which forwards every keyword to the
source store class: the suite's open/read-only/context-manager tests therefore see a CacheStore
with default settings in front of a source of the same kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from zarr.abc.store import Store
from zarr.core.buffer import Buffer, cpu, default_buffer_prototype
from zarr.storage import LocalStore, MemoryStore
from zarr.testing.store import StoreTests

from zarr_cachestore import CacheStore


class _CacheStoreTests(StoreTests[CacheStore, cpu.Buffer]):
    """What every configuration shares; subclasses choose the source and the cache settings."""

    store_cls = CacheStore
    buffer_cls = cpu.Buffer

    # -- how each configuration is built ---------------------------------------------------

    @pytest.fixture
    def source(self, tmp_path: Path) -> Store:
        """The store in front of which the cache sits."""
        raise NotImplementedError

    @pytest.fixture
    def cache_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        """The keyword arguments that configure the cache."""
        return {}

    @pytest.fixture
    def store_kwargs(self, source: Store, cache_kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"store": source, **cache_kwargs}

    @pytest.fixture
    async def store(self, store_kwargs: dict[str, Any]) -> CacheStore:
        store = self.store_cls(**store_kwargs)
        await store._open()
        return store

    # -- the suite's direct access to the truth: the source store --------------------------

    async def get(self, store: CacheStore, key: str) -> cpu.Buffer:
        raise NotImplementedError

    async def set(self, store: CacheStore, key: str, value: Buffer) -> None:
        raise NotImplementedError

    # -- the suite's abstract tests ----------------------------------------------------------

    def test_store_repr(self, store: CacheStore, cache_kwargs: dict[str, Any]) -> None:  # type: ignore[override]
        text = repr(store)
        assert text.startswith(f"CacheStore(store={store._store!r}, cache_store=")
        assert f"max_size={cache_kwargs.get('max_size')}," in text
        eviction = cache_kwargs.get("eviction", "lru")
        assert f"eviction={eviction.upper()}," in text

    def test_store_supports_writes(self, store: CacheStore) -> None:
        assert store.supports_writes is store._store.supports_writes is True

    def test_store_supports_listing(self, store: CacheStore) -> None:
        assert store.supports_listing is store._store.supports_listing is True

    # -- beyond the suite: the configured cache, opened read-only and read back --------------

    async def test_read_only_view_serves_the_shared_cache(self, store: CacheStore) -> None:
        await store.set("c/0", self.buffer_cls.from_bytes(b"\x01\x02\x03\x04"))
        reader = store.with_read_only(True)
        assert reader.read_only
        assert not store.read_only
        assert reader.max_size == store.max_size
        observed = await reader.get("c/0", prototype=default_buffer_prototype())
        assert observed is not None
        assert observed.to_bytes() == b"\x01\x02\x03\x04"
        with pytest.raises(ValueError, match="read-only"):
            await reader.set("c/0", self.buffer_cls.from_bytes(b"\x05"))
        await store.set("c/0", self.buffer_cls.from_bytes(b"\x05"))
        observed = await reader.get("c/0", prototype=default_buffer_prototype())
        assert observed is not None
        assert observed.to_bytes() == b"\x05"

    async def test_value_written_behind_the_cache_after_a_delete_through_it(
        self, store: CacheStore
    ) -> None:
        await store.set("c/0", self.buffer_cls.from_bytes(b"old"))
        await store.delete("c/0")
        await self.set(store, "c/0", self.buffer_cls.from_bytes(b"new"))
        observed = await store.get("c/0", prototype=default_buffer_prototype())
        assert observed is not None
        assert observed.to_bytes() == b"new"


class _MemorySource(_CacheStoreTests):
    """A ``MemoryStore`` source, written and read through its dict of buffers."""

    @pytest.fixture
    def source(self, tmp_path: Path) -> Store:
        return MemoryStore()

    @pytest.fixture
    def open_kwargs(self) -> dict[str, Any]:
        return {"store_cls": MemoryStore}

    async def get(self, store: CacheStore, key: str) -> cpu.Buffer:
        source = store._store
        assert isinstance(source, MemoryStore)
        return self.buffer_cls.from_buffer(source._store_dict[key])

    async def set(self, store: CacheStore, key: str, value: Buffer) -> None:
        source = store._store
        assert isinstance(source, MemoryStore)
        source._store_dict[key] = value


class _LocalSource(_CacheStoreTests):
    """A ``LocalStore`` source, written and read as files under its root."""

    @pytest.fixture
    def source(self, tmp_path: Path) -> Store:
        root = tmp_path / "source"
        root.mkdir()
        return LocalStore(root)

    @pytest.fixture
    def open_kwargs(self, source: LocalStore) -> dict[str, Any]:
        return {"store_cls": LocalStore, "root": source.root}

    async def get(self, store: CacheStore, key: str) -> cpu.Buffer:
        source = store._store
        assert isinstance(source, LocalStore)
        return self.buffer_cls.from_bytes((source.root / key).read_bytes())

    async def set(self, store: CacheStore, key: str, value: Buffer) -> None:
        source = store._store
        assert isinstance(source, LocalStore)
        path = source.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(value.to_bytes())


class TestMemorySourceMemoryTier(_MemorySource):
    """The defaults: an unbounded LRU cache in the in-process memory tier."""


class TestMemorySourceMemoryStoreCache(_MemorySource):
    """Whole values kept in a ``MemoryStore`` cache store (the asynchronous tier)."""

    @pytest.fixture
    def cache_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        return {"cache_store": MemoryStore()}


class TestLocalSourceLocalStoreCache(_LocalSource):
    """Both on disk: a ``LocalStore`` source and a ``LocalStore`` cache in another directory."""

    @pytest.fixture
    def cache_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        return {"cache_store": LocalStore(tmp_path / "cache")}


class TestMemorySourceSmallLFU(_MemorySource):
    """A 1 KiB LFU budget: the suite's larger writes keep evicting one another."""

    @pytest.fixture
    def cache_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        return {"max_size": 1024, "eviction": "lfu"}


class TestMemorySourceTinyLFUStoreCache(_MemorySource):
    """An 8-byte LFU budget over a cache store: nearly every insert evicts, some are refused."""

    @pytest.fixture
    def cache_kwargs(self, tmp_path: Path) -> dict[str, Any]:
        return {"cache_store": MemoryStore(), "max_size": 8, "eviction": "lfu"}
