"""``CacheStore``: a read cache in front of any zarr store, assembled from strategy objects."""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import threading
import time
from collections import OrderedDict
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Literal, Self, cast

import attrs
from zarr.abc.store import ByteRequest, Store
from zarr.core.sync import sync
from zarr.storage import WrapperStore

from zarr_cachestore.expiry import TTL
from zarr_cachestore.ledger import Entry, Ledger, Stats
from zarr_cachestore.ranges import RangeKey, Span, WholeValuePromotion
from zarr_cachestore.registry import resolve
from zarr_cachestore.tiers import MemoryTier, tier_for

if TYPE_CHECKING:
    from zarr.core.buffer import Buffer, BufferPrototype

__all__ = ["CacheStore"]

_FlightKey = str | tuple[str, ByteRequest]  # a whole value, or one request of it
_Keys = str | Callable[[str], bool]  # one key, or the keys a predicate matches
_RETRY = object()  # a coalesced read whose leader was cancelled: read again
_MISS = object()  # the cache does not hold the answer
_MEMORY = 1 << 16  # how many keys' sizes (and range byte counts) are remembered


def _remember(memory: OrderedDict[str, Any], key: str, value: Any) -> None:
    """Record ``value`` for ``key`` in a bounded map that forgets its oldest keys first."""
    memory[key] = value
    memory.move_to_end(key)
    if len(memory) > _MEMORY:
        memory.popitem(last=False)


@attrs.define(eq=False)
class _Ticket:
    """Marks one read in flight for ``key``; turned stale when ``key`` is touched meanwhile."""

    key: str
    entry: Entry | None = None  # for a cache-store read: the entry it reads
    stale: bool = False


class _Tickets:
    """Open tickets by key."""

    def __init__(self) -> None:
        self._open: dict[str, set[_Ticket]] = {}

    def open(self, key: str, entry: Entry | None = None) -> _Ticket:
        ticket = _Ticket(key, entry)
        self._open.setdefault(key, set()).add(ticket)
        return ticket

    def close(self, ticket: _Ticket) -> None:
        tickets = self._open.get(ticket.key)
        if tickets is not None:
            tickets.discard(ticket)
            if not tickets:
                del self._open[ticket.key]

    def touch(self, keys: _Keys, keep: _Ticket | None = None) -> None:
        """Make stale every ticket of ``keys`` (one key, or those a predicate matches)."""
        if isinstance(keys, str):
            groups = [self._open.get(keys, set())]
        else:
            groups = [tickets for key, tickets in self._open.items() if keys(key)]
        for tickets in groups:
            for ticket in tickets:
                if ticket is not keep:
                    ticket.stale = True


class _State:
    """Everything a cache is at run time; shared by the read-only and read-write views of it."""

    def __init__(self, config: _Config) -> None:
        self.lock = threading.Lock()
        self.stats = Stats()
        self.eviction = resolve("eviction", config.eviction)
        if len(self.eviction):
            raise ValueError(
                f"eviction policy {self.eviction!r} already tracks {len(self.eviction)} entries; "
                "give each CacheStore a policy object of its own"
            )
        self.expiry = resolve("expiry", config.expiry)
        self.admission = resolve("admission", config.admission)
        self.range_cache = resolve("range_cache", config.range_cache)
        self.ledger = Ledger(config.max_size, self.eviction, self.admission, self.stats)
        self.tier = tier_for(config.cache_store)
        self.sizes: OrderedDict[str, tuple[int, float]] = OrderedDict()  # size, until when
        self.range_bytes: OrderedDict[str, int] = OrderedDict()  # bytes of ranges read, by key
        self.flights: dict[_FlightKey, concurrent.futures.Future[Any]] = {}
        self.source_reads = _Tickets()  # misses in flight, made stale by writes
        self.tier_reads = _Tickets()  # cache-store reads in flight, made stale by its mutations
        self.busy: dict[str, int] = {}  # cache-store mutations in flight, by key


def _max_size(value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(
            f"max_size must be an int number of bytes or None, got {type(value).__name__} "
            f"{value!r}; for example max_size=256 * 2**20"
        )
    if value is not None and value < 0:
        raise ValueError(
            f"max_size must be a non-negative number of bytes (or None for no limit), got {value}"
        )
    return value


@attrs.frozen
class _Config:
    """The constructor arguments, as given (names, classes or objects)."""

    cache_store: Store | None
    max_size: int | None = attrs.field(converter=_max_size)
    eviction: Any
    expiry: Any
    admission: Any
    range_cache: Any
    clock: Callable[[], float]
    cache_set_data: bool
    cache_missing: bool
    promotion: WholeValuePromotion | None

    def detached(self) -> _Config:
        """This configuration with private, empty copies of any strategy objects in it."""
        copies = {}
        for name in ("eviction", "expiry", "admission", "range_cache"):
            spec = getattr(self, name)
            if not isinstance(spec, str | type):
                copies[name] = copy.deepcopy(spec)
                if hasattr(copies[name], "clear"):
                    copies[name].clear()
        return attrs.evolve(self, **copies)


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"store keys are str, got {type(key).__name__} {key!r}")
    return key


def _as(prototype: BufferPrototype, data: Buffer) -> Buffer:
    """``data`` as the buffer class the caller asked for (no copy when it already is)."""
    return data if type(data) is prototype.buffer else prototype.buffer.from_buffer(data)


def _describe(strategy: object) -> tuple[Any, ...]:
    """What makes two strategies configured alike: their type and, for attrs types, fields."""
    kind = type(strategy)
    return (kind, attrs.astuple(strategy) if attrs.has(kind) else ())  # type: ignore[arg-type]


def _expiry_from_max_age(max_age_seconds: float | str | None, expiry: Any) -> Any:
    if max_age_seconds is None or max_age_seconds == "infinity":
        return "none" if expiry is None else expiry
    if expiry is not None:
        raise ValueError(
            "give either max_age_seconds or expiry, not both: max_age_seconds=N is shorthand "
            f"for expiry=TTL(N), and expiry={expiry!r} was given too"
        )
    if isinstance(max_age_seconds, str | bool) or not max_age_seconds > 0:
        raise ValueError(
            f"max_age_seconds must be a positive number or 'infinity', got {max_age_seconds!r}"
        )
    return TTL(max_age_seconds)


class CacheStore(WrapperStore[Store]):
    """A read cache in front of ``store``, a drop-in for zarr's experimental ``CacheStore``.

    Parameters
    ----------
    store
        The source store: the truth. Every write goes to it first.
    cache_store
        Where whole cached values are kept: any writable zarr store that supports deletes. By
        default an in-process memory tier. Byte ranges always live in ``range_cache``.
    max_size
        The byte budget of everything cached (whole values and byte ranges); ``None`` for none.
    eviction, expiry, admission, range_cache
        Strategies, each given by name (``"lfu"``), class or object; names are looked up among the
        built-ins first, then the plugins (see :func:`zarr_cachestore.available`).
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
    """

    def __init__(
        self,
        store: Store,
        *,
        cache_store: Store | None = None,
        max_size: int | None = None,
        eviction: Any = "lru",
        expiry: Any = None,
        admission: Any = "max-size",
        range_cache: Any = "memory",
        clock: Callable[[], float] = time.monotonic,
        max_age_seconds: float | Literal["infinity"] | None = "infinity",
        cache_set_data: bool = True,
        cache_missing: bool = False,
        promotion: WholeValuePromotion | None = None,
    ) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"store must be a zarr Store, got {type(store).__name__}")
        if cache_store is not None and not isinstance(cache_store, Store):
            raise TypeError(
                f"cache_store must be a zarr Store or None, got {type(cache_store).__name__}"
            )
        if promotion is not None and not isinstance(promotion, WholeValuePromotion):
            raise TypeError(
                f"promotion must be None or WholeValuePromotion(threshold), got {promotion!r}"
            )
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, got {clock!r}")
        super().__init__(store)
        self._config = _Config(
            cache_store=cache_store,
            max_size=max_size,
            eviction=eviction,
            expiry=_expiry_from_max_age(max_age_seconds, expiry),
            admission=admission,
            range_cache=range_cache,
            clock=clock,
            cache_set_data=bool(cache_set_data),
            cache_missing=bool(cache_missing),
            promotion=promotion,
        )
        self._state = _State(self._config)

    # -- configuration, views, pickling ---------------------------------------------------

    @property
    def max_size(self) -> int | None:
        return self._config.max_size

    @property
    def cache_set_data(self) -> bool:
        return self._config.cache_set_data

    @property
    def max_age_seconds(self) -> float | Literal["infinity"]:
        seconds = getattr(self._state.expiry, "seconds", None)
        return "infinity" if seconds is None else seconds

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
            raise ValueError(
                "cannot put this CacheStore in front of a different store while sharing its "
                "cache_store: their keys would collide. Build a new CacheStore with its own "
                "cache_store instead."
            )
        return type(self)._from_config(store, self._config.detached())

    @classmethod
    def _from_config(cls, store: Store, config: _Config) -> Self:
        new = object.__new__(cls)
        WrapperStore.__init__(new, store)
        new._config = config
        new._state = _State(config)
        return new

    def __getstate__(self) -> dict[str, Any]:
        return {"store": self._store, "config": self._config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A copy starts with an empty ledger (and cleared copies of any policy objects)."""
        WrapperStore.__init__(self, state["store"])
        self._config = state["config"].detached()
        self._state = _State(self._config)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        assert isinstance(other, CacheStore)
        return self._store == other._store and self._settings() == other._settings()

    def __hash__(self) -> int:
        return id(self)

    def _settings(self) -> tuple[Any, ...]:
        s, c = self._state, self._config
        strategies = (s.eviction, s.expiry, s.admission, s.range_cache)
        return (
            c.cache_store,
            c.max_size,
            c.clock,
            c.cache_set_data,
            c.cache_missing,
            c.promotion,
            *map(_describe, strategies),
        )

    def __repr__(self) -> str:
        s = self._state
        return (
            f"CacheStore({self._store!r}, cache_store={s.tier!r}, max_size={self.max_size}, "
            f"eviction={type(s.eviction).__name__}, expiry={s.expiry!r}, "
            f"admission={s.admission!r}, range_cache={type(s.range_cache).__name__})"
        )

    # -- introspection (the keys of zarr's CacheStore, and more) -----------------------------

    def cache_info(self) -> dict[str, Any]:
        s = self._state
        with s.lock:
            whole = sum(1 for key in s.ledger if isinstance(key, str))
            return {
                "cache_store_type": type(self._config.cache_store or s.tier).__name__,
                "max_age_seconds": self.max_age_seconds,
                "max_size": self.max_size,
                "current_size": s.ledger.used,
                "cache_set_data": self.cache_set_data,
                "tracked_keys": len(s.ledger),
                "cached_keys": len(s.ledger),
                "whole_entries": whole,
                "range_entries": len(s.ledger) - whole,
                "eviction": type(s.eviction).__name__,
                "expiry": repr(s.expiry),
                "admission": repr(s.admission),
                "range_cache": type(s.range_cache).__name__,
            }

    def cache_stats(self) -> dict[str, Any]:
        with self._state.lock:
            return self._state.stats.as_dict()

    async def clear_cache(self) -> None:
        """Drop everything cached; the source is untouched."""
        await self._invalidate(lambda key: True, clear_tier=True)

    # -- reads ----------------------------------------------------------------------------

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        span, found, pending, ticket = self._held(key, prototype, byte_range)
        if found is _MISS:
            span, found = await self._finish_lookup(key, prototype, span, pending, ticket)
        if found is not _MISS:
            return found  # type: ignore[return-value]
        data = await self._fetch(key, prototype, byte_range)
        if span is not None and self._config.promotion is not None:
            await self._promote(key, prototype, self._config.promotion)
        return data

    async def _lookup(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None
    ) -> tuple[Span | None, Buffer | object | None]:
        """The request's span (normalized if the size is known), and the answer the cache
        holds for it, or ``_MISS``. A hit is counted here; a miss is not."""
        span, found, pending, ticket = self._held(key, prototype, byte_range)
        if found is not _MISS:
            return span, found
        return await self._finish_lookup(key, prototype, span, pending, ticket)

    def _held(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None
    ) -> tuple[Span | None, Buffer | object | None, list[str], _Ticket | None]:
        """What the cache answers at once, under its lock; else ``_MISS``, with the deletes
        and the cache-store read (a ticket) that :meth:`_finish_lookup` must still do."""
        _check_key(key)
        span = None if byte_range is None else Span.of(byte_range)
        s, pending = self._state, list[str]()
        with s.lock:
            now = self._config.clock()
            s.admission.on_access(key)
            entry = self._fresh(key, pending, now)
            if byte_range is not None and entry is not None:
                span = Span.of(byte_range, entry.size)
            if entry is not None and entry.absent:
                self._hit(key, entry, None, now)
                return span, None, pending, None
            if entry is not None and isinstance(s.tier, MemoryTier):
                value = _as(prototype, self._hit(key, entry, s.tier.get_now(key), now, span))
                return span, value, pending, None
            if entry is None and span is not None:
                found = s.range_cache.lookup(key, span)
                held = None if found is None else self._fresh(found[0], pending, now)
                if found is not None and held is not None:
                    value = _as(prototype, self._hit(found[0], held, found[1], now))
                    return span, value, pending, None
            readable = entry is not None and not s.busy.get(key)
            ticket = s.tier_reads.open(key, entry) if readable else None
        return span, _MISS, pending, ticket

    async def _finish_lookup(
        self,
        key: str,
        prototype: BufferPrototype,
        span: Span | None,
        pending: list[str],
        ticket: _Ticket | None,
    ) -> tuple[Span | None, Buffer | object | None]:
        """Do the deletes an expiry left, then read the cache store if it holds the value."""
        await self._drain(pending)
        if ticket is None or ticket.entry is None:
            return span, _MISS
        data = await self._read_tier(ticket, ticket.entry, prototype, span)
        if data is None:
            return span, _MISS
        with self._state.lock:
            return span, self._hit(key, ticket.entry, data, self._config.clock())

    async def _promote(
        self, key: str, prototype: BufferPrototype, promotion: WholeValuePromotion
    ) -> None:
        """Fetch and keep all of ``key`` once the ranges read from it pass the threshold."""
        s = self._state
        with s.lock:
            fetched, size = s.range_bytes.get(key, 0), self._known_size(key)
        if size is None:
            try:
                size = await self.getsize(key)
            except FileNotFoundError:
                return
        if not promotion.should_promote(fetched, size):
            return
        await self._fetch(key, prototype, None, count_miss=False)
        with s.lock:
            if s.ledger.get(key) is not None:  # the whole value serves every range now
                self._drop_ranges(key)

    def _fresh(self, key: Hashable, pending: list[str], now: float | None = None) -> Entry | None:
        """The ready entry of ``key``, expiring it if its deadline has passed. Under the lock.

        Cache-store deletes the expiry needs are appended to ``pending``.
        """
        s = self._state
        entry = s.ledger.get(key)
        if entry is None or not entry.ready:
            return None
        if (self._config.clock() if now is None else now) < entry.deadline:
            return entry
        s.stats.expirations += 1
        pending += self._release(s.ledger.remove(key))
        return None

    def _hit(
        self, key: Hashable, entry: Entry, data: Any, now: float, span: Span | None = None
    ) -> Any:
        """Count a hit on ``entry`` at ``now``; return ``data``, cut to ``span``. Under the lock."""
        s = self._state
        s.ledger.hit(key)
        entry.deadline = s.expiry.on_read(key, now, entry.deadline)
        if span is not None and (span.start, span.stop) != (0, entry.size):
            data = data[span.start : span.stop]
        s.stats.hits += 1
        s.stats.bytes_from_cache += len(data) if data is not None else 0
        return data

    async def _read_tier(
        self, ticket: _Ticket, entry: Entry, prototype: BufferPrototype, span: Span | None
    ) -> Buffer | None:
        """Read a value, or ``span`` of it (absolute: its size is known), from the cache store;
        ``None`` if it changed or failed meanwhile."""
        s, key = self._state, ticket.key
        request = None if span is None else span.within(entry.size).as_request()
        try:
            data = await s.tier.get(key, prototype, request)
        except Exception:
            data, failed = None, True
        else:
            failed = False
        with s.lock:
            s.tier_reads.close(ticket)
            s.stats.cache_errors += failed
            current = s.ledger.get(key) is entry
            if data is not None and current and not ticket.stale:
                return data
            if data is None and current and not ticket.stale:
                pending = self._release(s.ledger.remove(key))  # the cache store lost it
            else:
                pending = []
        await self._drain(pending)
        return None

    async def _fetch(
        self,
        key: str,
        prototype: BufferPrototype,
        byte_range: ByteRequest | None,
        *,
        count_miss: bool = True,
    ) -> Buffer | None:
        """A miss: read from the source once for all concurrent identical misses, then cache.

        The answer is placed by the request as sent, never by a size the cache remembers: the
        value may have changed behind the cache's back since.
        """
        s = self._state
        flight_key: _FlightKey = key if byte_range is None else (key, byte_range)
        span = None if byte_range is None else Span.of(byte_range)
        with s.lock:
            s.stats.misses += count_miss
            flight = s.flights.get(flight_key)
            leader = flight is None
            if flight is None:
                flight = s.flights[flight_key] = concurrent.futures.Future()
                flight.set_running_or_notify_cancel()  # a cancelled waiter cannot cancel it
                ticket = s.source_reads.open(key)
            else:
                s.stats.coalesced += 1
        if not leader:
            result = await asyncio.wrap_future(flight)
            if result is _RETRY:
                return await self._store.get(key, prototype, byte_range)
            return result  # type: ignore[no-any-return]
        try:
            data = await self._store.get(key, prototype, byte_range)
        except BaseException as exc:
            with s.lock:
                self._land(flight_key, flight)
                s.source_reads.close(ticket)
            if isinstance(exc, asyncio.CancelledError):
                flight.set_result(_RETRY)
            else:
                flight.set_exception(exc)
            raise
        with s.lock:
            self._land(flight_key, flight)
            s.stats.bytes_from_source += len(data) if data is not None else 0
        flight.set_result(data)
        await self._insert(key, span, data, ticket)
        return data

    def _land(self, flight_key: _FlightKey, flight: concurrent.futures.Future[Any]) -> None:
        """The flight is over: later misses start their own. Under the lock."""
        if self._state.flights.get(flight_key) is flight:
            del self._state.flights[flight_key]

    # -- inserting ----------------------------------------------------------------------------

    async def _insert(
        self, key: str, span: Span | None, data: Buffer | None, ticket: _Ticket
    ) -> None:
        """Cache ``data`` (the whole value, or ``span`` of it), unless ``key`` was written
        since ``ticket`` was opened."""
        s = self._state
        with s.lock:
            s.source_reads.close(ticket)
            if ticket.stale:
                return
            if data is not None and span is not None:
                admitted, pending = self._insert_range(key, span, data)
                to_write = None
            elif data is not None:
                admitted, pending = self._insert_whole(key, data)
                to_write = s.ledger.get(key) if admitted else None
            elif span is None and self._config.cache_missing:
                deadline = s.expiry.on_write(key, self._config.clock())
                pending = self._release(s.ledger.admit(key, Entry(0, deadline, absent=True))[1])
                to_write = None
            else:
                return
        await self._drain(pending)
        if to_write is not None and data is not None and not isinstance(s.tier, MemoryTier):
            await self._write_tier(key, data, to_write)

    def _insert_whole(self, key: str, data: Buffer) -> tuple[bool, list[str]]:
        """Admit a whole value; write it at once to the memory tier. Under the lock."""
        s = self._state
        self._learn_size(key, len(data))
        in_memory = isinstance(s.tier, MemoryTier)
        deadline = s.expiry.on_write(key, self._config.clock())
        admitted, released = s.ledger.admit(key, Entry(len(data), deadline, ready=in_memory))
        pending = self._release(released)
        if admitted and isinstance(s.tier, MemoryTier):
            s.tier.set_now(key, data)
        elif admitted:
            self._mark_busy(key)
        return admitted, pending

    def _insert_range(self, key: str, span: Span, data: Buffer) -> tuple[bool, list[str]]:
        """Admit the bytes of ``span`` of ``key`` into the range cache. Under the lock."""
        s = self._state
        learned = span.learned_size(len(data))
        if learned is not None:
            self._learn_size(key, learned)
            span = span.within(learned)
        range_key = RangeKey.of(key, span, len(data))
        deadline = s.expiry.on_write(range_key, self._config.clock())
        admitted, released = s.ledger.admit(range_key, Entry(len(data), deadline))
        pending = self._release(released)
        if admitted:
            s.range_cache.put(key, span, data, learned)
        if self._config.promotion is not None:
            _remember(s.range_bytes, key, s.range_bytes.get(key, 0) + len(data))
        return admitted, pending

    async def _write_tier(self, key: str, data: Buffer, entry: Entry) -> None:
        """Write an admitted value to the cache store; undo it if it failed or went stale."""
        s = self._state
        try:
            await s.tier.set(key, data)
        except Exception:
            failed = True
        except BaseException:  # cancelled: forget the entry; what was written is never served
            with s.lock:
                if s.ledger.get(key) is entry:
                    s.ledger.remove(key)
                self._done(key)
            raise
        else:
            failed = False
        with s.lock:
            s.stats.cache_errors += failed
            current = s.ledger.get(key) is entry
            if current and not failed:
                entry.ready = True
                self._done(key)
                return
            if current:
                s.ledger.remove(key)
        await self._drain([key])

    def _learn_size(self, key: str, size: int) -> None:
        """Remember ``key``'s size, for ``getsize`` and promotion, until it expires."""
        s, now = self._state, self._config.clock()
        _remember(s.sizes, key, (size, s.expiry.on_write(key, now)))

    def _known_size(self, key: str) -> int | None:
        """``key``'s remembered size, unless it has expired. Under the lock."""
        size, deadline = self._state.sizes.get(key, (None, 0.0))
        if size is None or self._config.clock() < deadline:
            return size
        del self._state.sizes[key]
        return None

    # -- releasing bytes --------------------------------------------------------------------

    def _release(self, keys: list[Hashable]) -> list[str]:
        """Drop the bytes of entries the ledger let go. Under the lock.

        Range bytes and memory-tier values go at once; the cache-store keys that still need an
        asynchronous delete are returned, already marked busy, for :meth:`_drain`.
        """
        s = self._state
        pending = []
        for key in keys:
            if isinstance(key, RangeKey):
                s.range_cache.pop(key)
                continue
            name = cast(str, key)  # a whole value's entry is keyed by its store key
            if isinstance(s.tier, MemoryTier):
                s.tier.delete_now(name)
            else:
                self._mark_busy(name)
                pending.append(name)
        return pending

    def _mark_busy(self, key: str) -> None:
        """A cache-store mutation of ``key`` begins: reads of it in flight become stale."""
        s = self._state
        s.busy[key] = s.busy.get(key, 0) + 1
        s.tier_reads.touch(key)

    def _done(self, key: str) -> None:
        s = self._state
        s.busy[key] -= 1
        if not s.busy[key]:
            del s.busy[key]

    async def _drain(self, keys: list[str]) -> None:
        """Delete ``keys`` (marked busy) from the cache store, counting failures."""
        s = self._state
        for done, key in enumerate(keys):
            try:
                await s.tier.delete(key)
            except Exception:
                with s.lock:
                    s.stats.cache_errors += 1
            except BaseException:  # cancelled: what is left is not in the ledger, never served
                with s.lock:
                    for left in keys[done:]:
                        self._done(left)
                raise
            with s.lock:
                self._done(key)

    # -- writes -------------------------------------------------------------------------------

    async def _invalidate(
        self, keys: _Keys, *, keep: _Ticket | None = None, clear_tier: bool = False
    ) -> None:
        """Forget ``keys`` (one key, or those a predicate matches): their entries, ranges,
        sizes and misses in flight. One key costs O(its entries), not a scan of the cache."""
        s = self._state
        match = keys.__eq__ if isinstance(keys, str) else keys
        with s.lock:
            s.source_reads.touch(keys, keep)
            for flight_key in [f for f in s.flights if match(f if isinstance(f, str) else f[0])]:
                del s.flights[flight_key]  # later reads must not share an answer from before
            if isinstance(keys, str):
                names = {keys}
            else:
                held = (k.key if isinstance(k, RangeKey) else cast(str, k) for k in s.ledger)
                names = {name for name in (*held, *s.sizes, *s.range_bytes) if match(name)}
            released = [key for name in names for key in self._drop(name)]
            if clear_tier and isinstance(s.tier, MemoryTier):
                s.tier.clear_now()
            pending = self._release(released)
        await self._drain(pending)
        if clear_tier and not isinstance(s.tier, MemoryTier):
            try:
                await s.tier.clear()
            except Exception:  # the ledger is empty: whatever is left is never served
                with s.lock:
                    s.stats.cache_errors += 1

    def _drop(self, key: str) -> list[Hashable]:
        """Drop ``key``'s whole entry, ranges and size from the books; return what must still
        be released. Under the lock."""
        self._drop_ranges(key)
        self._state.sizes.pop(key, None)
        return self._state.ledger.remove(key)

    def _drop_ranges(self, key: str) -> None:
        """Drop every range entry of ``key``, bytes and books. Under the lock."""
        s = self._state
        for range_key in s.range_cache.pop_key(key):
            s.ledger.remove(range_key)
        s.range_bytes.pop(key, None)

    async def _write(
        self, key: str, action: Callable[[], Awaitable[None]], value: Buffer | None = None
    ) -> None:
        """Run ``action``, a source write of ``key``, then forget the key; cache ``value``."""
        _check_key(key)
        s = self._state
        with s.lock:
            ticket = s.source_reads.open(key)
        try:
            await action()
        except BaseException:
            with s.lock:
                s.source_reads.close(ticket)
            raise
        finally:
            await self._invalidate(key, keep=ticket)
        if value is not None and self._config.cache_set_data:
            await self._insert(key, None, value, ticket)
        else:
            with s.lock:
                s.source_reads.close(ticket)

    async def set(self, key: str, value: Buffer) -> None:
        await self._write(key, lambda: self._store.set(key, value), value)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        await self._write(key, lambda: self._store.set_if_not_exists(key, value))

    async def delete(self, key: str) -> None:
        await self._write(key, lambda: self._store.delete(key))

    async def _set_many(self, values: Iterable[tuple[str, Buffer]]) -> None:
        await asyncio.gather(*(self.set(key, value) for key, value in values))

    async def delete_dir(self, prefix: str) -> None:
        try:
            await self._store.delete_dir(prefix)
        finally:
            await self._invalidate(lambda key: key.startswith(prefix))

    async def clear(self) -> None:
        try:
            await self._store.clear()
        finally:
            await self.clear_cache()

    # -- other reads ------------------------------------------------------------------------

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
            """
            answered, missing = [], []
            for index, request in enumerate(byte_ranges):
                found = (await self._lookup(key, prototype, request))[1]
                if found is _MISS:
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
        _check_key(key)
        pending: list[str] = []
        with self._state.lock:
            entry = self._fresh(key, pending)
        await self._drain(pending)
        if entry is not None:
            return not entry.absent
        return await self._store.exists(key)

    async def getsize(self, key: str) -> int:
        _check_key(key)
        s, pending = self._state, list[str]()
        with s.lock:
            entry = self._fresh(key, pending)
            known = entry.size if entry is not None and not entry.absent else self._known_size(key)
            ticket = s.source_reads.open(key)
        await self._drain(pending)
        try:
            size = known if known is not None else await self._store.getsize(key)
        except BaseException:
            with s.lock:
                s.source_reads.close(ticket)
            raise
        with s.lock:
            s.source_reads.close(ticket)
            if known is None and not ticket.stale:
                self._learn_size(key, size)
        return size

    async def getsize_prefix(self, prefix: str) -> int:
        return await self._store.getsize_prefix(prefix)

    # -- the synchronous API of newer zarr: cache-aware, never used by zarr's fast path -----

    @property
    def _supports_sync_io(self) -> bool:
        return False

    def get_sync(
        self,
        key: str,
        *,
        prototype: BufferPrototype | None = None,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        from zarr.core.buffer import default_buffer_prototype

        return sync(self.get(key, prototype or default_buffer_prototype(), byte_range))

    def set_sync(self, key: str, value: Buffer) -> None:
        sync(self.set(key, value))

    def delete_sync(self, key: str) -> None:
        sync(self.delete(key))
