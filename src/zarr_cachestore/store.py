"""``CacheStore``: the zarr ``Store`` surface of a read cache; the cache itself is the engine."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, Self, SupportsIndex

import attrs
from zarr.abc.store import ByteRequest, Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import MemoryStore, WrapperStore

from zarr_cachestore.attach import attached
from zarr_cachestore.config import CacheConfig, expiry_from_max_age, flag
from zarr_cachestore.engine import MISS, CacheEngine, Unfinished
from zarr_cachestore.ranges import WholeValuePromotion
from zarr_cachestore.tiers import check_cache_store, namespace_of

if TYPE_CHECKING:
    from zarr.core.buffer import Buffer, BufferPrototype

    from zarr_cachestore.simulate.record import TraceRecorder

__all__ = ["CacheStore"]


def _check_key(key: object, what: str = "store keys") -> str:
    if not isinstance(key, str):
        raise TypeError(f"{what} are str, got {type(key).__name__} {key!r}")
    return key


def _describe(strategy: object) -> tuple[Any, ...]:
    """What makes two strategies configured alike: their type and, for attrs types, fields."""
    kind = type(strategy)
    return (kind, attrs.astuple(strategy) if attrs.has(kind) else ())  # type: ignore[arg-type]


class CacheStore(WrapperStore[Store]):
    """A read cache in front of ``store``, a drop-in for zarr's experimental ``CacheStore``.

    Examples
    --------
    >>> import zarr
    >>> from zarr.storage import MemoryStore
    >>> from zarr_cachestore import CacheStore
    >>> source = MemoryStore()
    >>> zarr.create_array(source, shape=(4,), chunks=(2,), dtype="i1")[:] = 7
    >>> store = CacheStore(source, max_size="64MiB", eviction="lfu")
    >>> zarr.open_array(store, mode="r")[:].tolist()
    [7, 7, 7, 7]
    >>> store.cache_stats()["misses"] > 0
    True

    Parameters
    ----------
    store
        The source store: the truth. Every write goes to it first.
    cache_store
        Where whole cached values are kept: any writable zarr store that supports deletes and
        is not the source. By default an in-process memory tier. A ``LocalStore`` is a disk
        tier that every process of the host shares and that outlives them (an index beside
        the values; see ``docs/disk.md``); a ``RedisStore`` a tier shared by every host (see
        ``docs/redis.md``). Byte ranges live in ``range_cache``.
    max_size
        The byte budget of everything cached (whole values and byte ranges; of a shared tier,
        its budget): a number of bytes, a size such as ``"512MiB"`` or ``"2GB"``, or ``None``.
    eviction
        Which entry leaves when room is needed: a name (``"lru"``, ``"lfu"``, ``"fifo"``, a
        plugin's), a class or an object. Names are looked up among the built-ins first, then
        the plugins (see :func:`zarr_cachestore.available`).
    expiry
        When entries expire: ``TTL(seconds)``, ``TTI(seconds)``, a name, class or object;
        ``None`` for no expiry (or the one ``max_age_seconds`` gives).
    admission
        Which entries may enter: ``"max-size"`` (refuse what exceeds the budget), ``"all"``, a
        plugin such as ``"tinylfu"``, a class or an object.
    range_cache
        Where byte ranges are held: ``"memory"``, a class or an object.
    clock
        Where expiry deadlines are read from; ``time.monotonic`` unless a test injects a fake.
    max_age_seconds
        Shorthand for ``expiry=TTL(max_age_seconds)``; ``"infinity"`` or ``None`` for no expiry.
    cache_set_data
        Whether values written through this store are cached as they are written.
    cache_missing
        Remember keys the source does not have, until their expiry or a write.
    promotion
        ``WholeValuePromotion(threshold)`` fetches and keeps a whole value once the byte ranges
        read from it reach ``threshold`` of its size (whole-shard caching); ``None`` never does.
    strict
        Raise a strategy's exceptions instead of containing them (for developing a policy).
    prefetch
        What to read ahead of the reader, in the background: ``"none"`` (the default),
        ``"sequential"`` (the next chunks along the direction of the last reads),
        ``"neighbors"`` (the chunk-grid neighbourhood of the last reads), a plugin's name, a
        class or an object (see :class:`~zarr_cachestore.PrefetchPolicy`).
    prefetch_limit
        How many prefetches may be under way at once.
    namespace
        The name of the source's values in a shared tier; by default derived from where the
        source's data lives (a folder, a URL). A source that does not say needs one there.
    memory_size
        With a shared tier: the budget of a memory tier in front of it, in this process
        (whole values and byte ranges); 0, the default, keeps none.
    warm
        With a disk tier: serve what the folder holds from earlier runs (the default), or
        clear it at start. Clear it when the source may have changed while no process ran
        and no expiry bounds what was kept.
    shared_poll
        With a shared tier and a memory tier in front of it: how often (seconds) this process
        asks what other processes wrote, and drops it from memory. This bounds how long a
        write through another process may go unseen here; on a Redis tier a pub/sub message
        makes it ask at once, and this is the bound when a message is lost.
    keep_alive
        Copies of this store unpickled in one process (dask sends one to each task) share one
        cache there; the process keeps it this many seconds after the last copy arrived, and
        as long as a copy uses it.
    record
        A path: record every access to it as a trace (zarr-aware CSV, or libCacheSim's
        oracleGeneral for a ``.oracleGeneral`` path) for ``zarr-cachestore advise``; see
        :meth:`recording`. Recording stops when the process exits or :meth:`stop_recording`.
    """

    _engine: CacheEngine

    def __init__(
        self,
        store: Store,
        *,
        cache_store: Store | None = None,
        max_size: int | str | SupportsIndex | None = None,
        eviction: Any = "lru",
        expiry: Any = None,
        admission: Any = "max-size",
        range_cache: Any = "memory",
        clock: Callable[[], float] = time.monotonic,
        max_age_seconds: float | Literal["infinity"] | None = "infinity",
        cache_set_data: bool = True,
        cache_missing: bool = False,
        promotion: WholeValuePromotion | None = None,
        strict: bool = False,
        record: str | os.PathLike[str] | None = None,
        prefetch: Any = "none",
        prefetch_limit: int = 4,
        keep_alive: float = 300.0,
        namespace: str | None = None,
        memory_size: int | str | None = 0,
        warm: bool = True,
        shared_poll: float = 0.5,
    ) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"store must be a zarr Store, got {type(store).__name__}")
        config = CacheConfig(
            cache_store=cache_store,
            max_size=max_size,
            eviction=eviction,
            expiry=expiry_from_max_age(max_age_seconds, expiry),
            admission=admission,
            range_cache=range_cache,
            clock=clock,
            cache_set_data=flag("cache_set_data", cache_set_data),
            cache_missing=flag("cache_missing", cache_missing),
            promotion=promotion,
            strict=flag("strict", strict),
            prefetch=prefetch,
            prefetch_limit=prefetch_limit,
            keep_alive=keep_alive,
            namespace=namespace,
            memory_size=memory_size,
            warm=flag("warm", warm),
            shared_poll=shared_poll,
        )
        if config.cache_store is not None:
            check_cache_store(config.cache_store, store)
        self._attach(store, config)
        if record is not None:
            self.start_recording(record)

    @classmethod
    async def open(cls, store_cls: type[Store] | Store, *args: Any, **kwargs: Any) -> Self:
        """Open a source store (built as ``store_cls(*args, **kwargs)`` from the keyword
        arguments that are not the cache's, or given opened) and a cache in front of it,
        configured by the cache's own keyword arguments::

            cache = await CacheStore.open(LocalStore, "data.zarr", read_only=True,
                                          max_size="1GiB", eviction="lfu")
        """
        own = inspect.signature(cls.__init__).parameters.keys() - {"self", "store"}
        options = {name: kwargs.pop(name) for name in own & kwargs.keys()}
        store = store_cls
        if isinstance(store, type):
            store = store(*args, **kwargs)
        elif args or kwargs:
            raise TypeError(
                f"CacheStore.open got an opened store {store!r} and arguments for building one "
                f"({args}, {sorted(kwargs)}); pass a store class with its arguments, or the "
                "store alone"
            )
        await store._open()
        return cls(store, **options)

    def _attach(self, store: Store, config: CacheConfig) -> None:
        WrapperStore.__init__(self, store)
        self._config = config
        self._engine = CacheEngine(config, namespace_of(store))

    # -- configuration, views, pickling ---------------------------------------------------

    @property
    def max_size(self) -> int | None:
        """The byte budget of everything cached; ``None`` for none."""
        return self._config.max_size

    @property
    def cache_set_data(self) -> bool:
        """Whether values written through this store are cached as they are written."""
        return self._config.cache_set_data

    @property
    def max_age_seconds(self) -> float | Literal["infinity"]:
        """The time to live of entries, as zarr's ``CacheStore`` reports it."""
        seconds = getattr(self._engine.expiry, "seconds", None)
        return "infinity" if seconds is None else seconds

    @property
    def eviction(self) -> Any:
        """The eviction policy in use (to read, not to drive: the cache calls it)."""
        return self._engine.eviction

    @property
    def expiry(self) -> Any:
        """The expiry policy in use."""
        return self._engine.expiry

    @property
    def admission(self) -> Any:
        """The admission policy in use."""
        return self._engine.admission

    @property
    def range_cache(self) -> Any:
        """The range cache in use."""
        return self._engine.range_cache

    @property
    def prefetch(self) -> Any:
        """The prefetch policy in use (``None`` for none)."""
        readahead = self._engine.readahead
        return None if readahead is None else readahead.policy

    def close(self) -> None:
        """Stop the prefetches under way and the shared tier's wake-ups (polling goes on),
        then close the source."""
        if self._engine.readahead is not None:
            self._engine.readahead.cancel()
        if self._engine.shared is not None:
            self._engine.shared.stop_watching()
        super().close()

    def _view(self, store: Store) -> Self:
        """This cache in front of ``store`` (the same data, seen another way)."""
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._store = store
        return view

    def with_read_only(self, read_only: bool = False) -> Self:
        """A view with the source opened ``read_only``; it shares this cache."""
        return self._view(self._store.with_read_only(read_only))

    def _with_store(self, store: Store) -> Self:
        if store is self._store or store == self._store:
            return self._view(store)
        if self._config.cache_store is not None:
            check_cache_store(self._config.cache_store, store)
        new = object.__new__(type(self))
        new._attach(store, self._config.renamed())
        return new

    def __getstate__(self) -> dict[str, Any]:
        """The source and the configuration. The copy attaches to this very cache if it
        arrives in this process (see :mod:`zarr_cachestore.attach`); in another, it starts
        empty, with cleared copies of any policy objects, and a ``MemoryStore`` cache_store
        travels empty too."""
        config = self._config
        attached(config.identity, config.keep_alive, lambda: self._engine)
        if type(config.cache_store) is MemoryStore:
            config = attrs.evolve(config, cache_store=MemoryStore())
        return {"store": self._store, "config": config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Attach to this process's cache of the same identity, or build one."""
        store, config = state["store"], state["config"]
        WrapperStore.__init__(self, store)
        self._config = config
        self._engine = attached(
            config.identity,
            config.keep_alive,
            lambda: CacheEngine(config.detached(), namespace_of(store)),
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        assert isinstance(other, CacheStore)
        return self._store == other._store and self._settings() == other._settings()

    def __hash__(self) -> int:
        return id(self)

    def _settings(self) -> tuple[Any, ...]:
        c = self._config
        return (
            c.cache_store,
            c.max_size,
            c.clock,
            c.cache_set_data,
            c.cache_missing,
            c.promotion,
            *map(_describe, self._engine.strategies()),
        )

    def __repr__(self) -> str:
        e = self._engine
        return (
            f"CacheStore(store={self._store!r}, cache_store={e.tier!r}, "
            f"max_age_seconds={self.max_age_seconds}, max_size={self.max_size}, "
            f"current_size={e.ledger.used}, cached_keys={len(e.ledger)}, "
            f"eviction={type(e.eviction).__name__}, expiry={e.expiry!r}, "
            f"admission={e.admission!r}, range_cache={type(e.range_cache).__name__})"
        )

    # -- introspection (the keys of zarr's CacheStore, and more) -----------------------------

    def cache_info(self) -> dict[str, Any]:
        """How the cache is set up and what it holds now (zarr's keys, and more)."""
        e = self._engine
        with e.lock:
            whole = sum(1 for key in e.ledger if isinstance(key, str))
            return {
                "cache_store_type": type(self._config.cache_store or e.tier).__name__,
                "max_age_seconds": self.max_age_seconds,
                "max_size": self.max_size,
                "current_size": e.ledger.used,
                "cache_set_data": self.cache_set_data,
                "tracked_keys": len(e.ledger),
                "cached_keys": len(e.ledger),
                "whole_entries": whole,
                "range_entries": len(e.ledger) - whole,
                "eviction": type(e.eviction).__name__,
                "expiry": repr(e.expiry),
                "admission": repr(e.admission),
                "range_cache": type(e.range_cache).__name__,
            }

    def cache_stats(self) -> dict[str, Any]:
        """What the cache did: hits, misses, bytes, evictions, errors and their ratios."""
        with self._engine.lock:
            return self._engine.stats.as_dict()

    async def clear_cache(self) -> None:
        """Drop everything cached; the source is untouched."""
        await self._engine.clear()

    def clear_cache_sync(self) -> None:
        """:meth:`clear_cache`, for code with no event loop of its own (a notebook cell)."""
        sync(self.clear_cache())

    def start_recording(self, path: str | os.PathLike[str]) -> TraceRecorder:
        """Record every access of this cache (all its views) to ``path`` from now on; a path
        ending in ``.oracleGeneral`` gets libCacheSim's format, any other the zarr-aware CSV
        that ``zarr-cachestore advise`` reads. Returns the recorder."""
        from zarr_cachestore.simulate.record import TraceRecorder

        if self._engine.recorder is not None:
            raise ValueError(
                f"this cache is already recording to {self._engine.recorder.path}; call "
                "stop_recording() first"
            )
        oracle = os.fspath(path).endswith(".oracleGeneral")
        recorder = TraceRecorder(path, "oraclegeneral" if oracle else "zarr-csv")
        atexit.register(recorder.close)  # the trace is finished even if nobody stops it
        self._engine.recorder = recorder
        return recorder

    def stop_recording(self) -> None:
        """Stop recording and finish the trace file."""
        recorder, self._engine.recorder = self._engine.recorder, None
        if recorder is not None:
            recorder.close()
            atexit.unregister(recorder.close)

    @contextlib.contextmanager
    def recording(self, path: str | os.PathLike[str]) -> Iterator[TraceRecorder]:
        """Record the accesses made inside the ``with`` block to ``path``::

        with store.recording("reads.csv"):
            array[0:100]
        """
        recorder = self.start_recording(path)
        try:
            yield recorder
        finally:
            self.stop_recording()

    async def settle(self) -> None:
        """Wait until the cache-store writes and deletes under way on this event loop are done."""
        await self._engine.deferred.settle()

    # -- reads ----------------------------------------------------------------------------

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        if type(key) is not str:
            _check_key(key)
        engine = self._engine
        found = engine.answer_now(key, prototype, byte_range)
        if isinstance(found, Unfinished) or engine.deferred.doomed:
            return await engine.finish(self._store, key, prototype, byte_range, found)
        if engine.recorder is not None or engine.readahead is not None:
            engine.accessed(self._store, key, byte_range, found, hit=True)
        return found

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return list(
            await asyncio.gather(*(self.get(key, prototype, rng) for key, rng in key_ranges))
        )

    _get_many = Store._get_many  # zarr's default (one get at a time), through the cache

    if hasattr(Store, "get_ranges"):  # zarr >= 3.2

        async def get_ranges(
            self,
            key: str,
            byte_ranges: Sequence[ByteRequest | None],
            *,
            prototype: BufferPrototype,
            **limits: int | None,
        ) -> AsyncIterator[Sequence[tuple[int, Buffer | None]]]:
            """Many ranges of ``key`` (zarr >= 3.2 reads sharded arrays through this).

            Ranges the cache holds are answered first, in one batch. The rest are coalesced as
            zarr does (nearby ranges merge into one read) and each merged read goes through
            :meth:`get`, so it is cached whole and later ranges inside it are served from it.
            A key the cache remembers as absent raises as ``Store.get_ranges`` does.
            """
            _check_key(key)
            answered, missing = [], []
            for index, request in enumerate(byte_ranges):
                found = await self._engine.lookup(key, prototype, request)
                if found is None:
                    raise BaseExceptionGroup("chunk read failed", [FileNotFoundError(key)])
                if found is MISS:
                    missing.append((index, request))
                else:
                    answered.append((index, found))
            if answered:
                yield answered  # type: ignore[misc]
            if missing:
                given = {name: value for name, value in limits.items() if value is not None}
                requests = [request for _, request in missing]
                merged = Store.get_ranges(self, key, requests, prototype=prototype, **given)  # type: ignore[attr-defined]
                async for group in merged:
                    yield [(missing[position][0], data) for position, data in group]

    async def exists(self, key: str) -> bool:
        return await self._engine.exists(self._store, _check_key(key))

    async def getsize(self, key: str) -> int:
        return await self._engine.getsize(self._store, _check_key(key))

    async def getsize_prefix(self, prefix: str) -> int:
        return await self._store.getsize_prefix(prefix)

    # -- writes: the source first, then the cache forgets ------------------------------------

    async def set(self, key: str, value: Buffer) -> None:
        await self._engine.write(_check_key(key), lambda: self._store.set(key, value), value)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        await self._engine.write(_check_key(key), lambda: self._store.set_if_not_exists(key, value))

    async def delete(self, key: str) -> None:
        await self._engine.write(_check_key(key), lambda: self._store.delete(key))

    async def _set_many(self, values: Iterable[tuple[str, Buffer]]) -> None:
        await asyncio.gather(*(self.set(key, value) for key, value in values))

    async def delete_dir(self, prefix: str) -> None:
        _check_key(prefix, "prefixes")
        try:
            await self._store.delete_dir(prefix)
        finally:
            await self._engine.invalidate_prefix(prefix)

    async def clear(self) -> None:
        try:
            await self._store.clear()
        finally:
            await self.clear_cache()

    # -- the synchronous API of newer zarr ------------------------------------------------

    @property
    def _supports_sync_io(self) -> bool:
        """Whether zarr may read and write through the synchronous methods (zarr >= 3.3): when
        the source can, and whole values live in memory, so that a hit needs no event loop."""
        engine = self._engine
        return (
            engine.tier.immediate and engine.shared is None and _store_supports_sync_io(self._store)
        )

    def get_sync(
        self,
        key: str,
        *,
        prototype: BufferPrototype | None = None,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        if type(key) is not str:
            _check_key(key)
        prototype = prototype or default_buffer_prototype()
        engine = self._engine
        found = engine.answer_now(key, prototype, byte_range)
        if not isinstance(found, Unfinished) and not engine.deferred.doomed:
            engine.accessed(self._store, key, byte_range, found, hit=True)
            return found
        if found is MISS and self._supports_sync_io:
            data = engine.fetch_now(self._store, key, prototype, byte_range)
            engine.accessed(self._store, key, byte_range, data, hit=False)
            return data
        return sync(engine.finish(self._store, key, prototype, byte_range, found))

    def set_sync(self, key: str, value: Buffer) -> None:
        if self._supports_sync_io:
            self._engine.write_now(_check_key(key), lambda: self._store.set_sync(key, value), value)  # type: ignore[attr-defined]
        else:
            sync(self.set(key, value))

    def delete_sync(self, key: str) -> None:
        if self._supports_sync_io:
            self._engine.write_now(_check_key(key), lambda: self._store.delete_sync(key))  # type: ignore[attr-defined]
        else:
            sync(self.delete(key))


def _store_supports_sync_io(store: Store) -> bool:
    """zarr's own answer (zarr >= 3.3); older zarr has no synchronous store path."""
    from zarr.abc import store as abc

    answer = getattr(abc, "_store_supports_sync_io", None)
    return bool(answer(store)) if answer is not None else False
