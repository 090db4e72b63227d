"""The cache engine: one lock over the ledger, the tiers, the reads in flight and the work the
cache-store still owes.

Every read is answered in one of three ways, each checked and counted under one lock section:
at once (a memory-tier value, a remembered absence, a held range), after a cache-store read
whose bytes must still belong to the same entry and have its length, or from the source, once
for all concurrent identical misses, by a task that no cancelled caller can abandon. A write
makes every read of its key that began before it stale, so no old answer is cached after it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any, Final, cast

import attrs
from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, Store

from zarr_cachestore.config import CacheConfig
from zarr_cachestore.deferred import Deferred
from zarr_cachestore.inflight import RETRY, Flight, Keys, Ticket, Tickets
from zarr_cachestore.ledger import Entry, Ledger, Record, size_of
from zarr_cachestore.prefetch import NoPrefetch
from zarr_cachestore.protocols import Demotable
from zarr_cachestore.ranges import RangeKey, Span, WholeValuePromotion
from zarr_cachestore.readahead import Readahead
from zarr_cachestore.registry import resolve
from zarr_cachestore.shared_link import SharedLink
from zarr_cachestore.stats import Faults, Stats, logger
from zarr_cachestore.tiers import Later, MemoryTier, is_stable, shared_tier_for, tier_for

if TYPE_CHECKING:
    from zarr.core.buffer import Buffer, BufferPrototype

    from zarr_cachestore.simulate.record import TraceRecorder

__all__ = ["MISS", "CacheEngine", "Unfinished"]


class Unfinished:
    """A read the cache could not answer at once."""


class _Miss(Unfinished):
    def __repr__(self) -> str:
        return "MISS"


MISS: Final = _Miss()  # the cache does not hold the answer


class _Poll(Unfinished):
    def __repr__(self) -> str:
        return "POLL"


POLL: Final = _Poll()  # ask the shared tier what other processes wrote, then answer
_REMEMBERED = 1 << 16  # how many keys' sizes (and range byte counts) are remembered
_FlightKey = str | tuple[str, ByteRequest]  # a whole value, or one request of it


@attrs.define(eq=False)
class _TierRead(Unfinished):
    """A hit whose bytes must still be read from the cache store."""

    key: str
    entry: Entry
    span: Span | None


class _Recent(OrderedDict[str, Any]):
    """A map that forgets its oldest keys beyond a bound."""

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > _REMEMBERED:
            self.popitem(last=False)


class CacheEngine:
    """What a cache is at run time; shared by every view of one ``CacheStore``."""

    def __init__(self, config: CacheConfig, namespace: str) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.stats = Stats()
        self.faults = Faults(self.stats, strict=config.strict)
        self.eviction = resolve("eviction", config.eviction)
        self.expiry = resolve("expiry", config.expiry)
        self.admission = resolve("admission", config.admission)
        self.range_cache = resolve("range_cache", config.range_cache)
        prefetch = resolve("prefetch", config.prefetch)
        if len(self.eviction):
            raise ValueError(
                f"eviction policy {self.eviction!r} already tracks {len(self.eviction)} entries; "
                "give each CacheStore a policy object of its own"
            )
        self.readahead = (
            None
            if isinstance(prefetch, NoPrefetch)
            else Readahead(self, prefetch, config.prefetch_limit)
        )
        _claim(self, self.strategies())
        self.namespace = config.namespace or namespace
        shared_tier = shared_tier_for(
            config.cache_store, config.max_size, config.eviction, warm=config.warm
        )
        shared = shared_tier is not None
        if shared and config.namespace is None and not is_stable(namespace):
            raise ValueError(
                f"the source ({namespace}) does not say where its data lives, so a cache "
                "shared with other processes cannot tell its values from another source's; "
                "name them: CacheStore(..., namespace='my-dataset')"
            )
        self.tier = MemoryTier() if shared else tier_for(config.cache_store, namespace)
        capacity = config.memory_size if shared else config.max_size
        self.ledger = Ledger(capacity, self.eviction, self.admission, self.faults, self._release)
        self.shared = None
        if shared_tier is not None:
            self.shared = SharedLink(shared_tier, self.namespace, config.shared_poll, self.faults)
        self.deferred = Deferred(self.tier, self.lock, self.faults)
        self.flights: dict[_FlightKey, Flight] = {}
        self.reads = Tickets()  # source reads in flight, made stale by writes
        self.sizes = _Recent()  # key -> (size, until when), for getsize and promotion
        self._clock = config.clock
        # Strategies that say a call changes nothing are not called on the hit path.
        counts = getattr(self.admission, "counts_access", True)
        self._on_access = self.admission.on_access if counts else None
        self._reads_extend = getattr(self.expiry, "reads_extend", True)
        # Values in memory under their own keys, with no deadline, are their own records.
        keyed = isinstance(self.tier, MemoryTier) and self.tier.keyed
        self._inline = keyed and not self._reads_extend
        self.recorder: TraceRecorder | None = None  # given every access, when set
        self.range_bytes = _Recent()  # key -> bytes of ranges read, for promotion

    def strategies(self) -> tuple[Any, ...]:
        prefetch = () if self.readahead is None else (self.readahead.policy,)
        return (self.eviction, self.expiry, self.admission, self.range_cache, *prefetch)

    # -- reads -------------------------------------------------------------------------------

    def answer_now(
        self,
        key: str,
        prototype: BufferPrototype,
        request: ByteRequest | None,
        *,
        poll: bool = True,
    ) -> Buffer | Unfinished | None:
        """What the cache answers at once, checked and counted under one lock section: a hit
        of a memory-tier value, a remembered absence or a held range; else what is left to do
        (a cache-store read, or ``MISS``) for :meth:`finish`."""
        shared = self.shared
        if poll and shared is not None and time.monotonic() >= shared.poll_at:
            return POLL
        self.lock.acquire()
        try:
            now = self._clock()
            if self._on_access is not None:
                try:
                    self._on_access(key)
                except Exception as error:
                    self.faults.strategy(self.admission, error)
            if type(request) is RangeByteRequest:  # a held entry of exactly this range: no Span
                start, stop = request.start, request.end
                if type(start) is int and type(stop) is int:
                    exact: RangeKey = _tuple(RangeKey, (key, start, stop))
                    held = self._fresh(exact, now)
                    data = None if held is None else self.range_cache.get(exact)
                    if type(held) is Entry and data is not None:  # a range's record is an Entry
                        return self._hit(exact, held, data, held.size, now, None, prototype)
            entry = self._fresh(key, now)
            if entry is not None:
                if type(entry) is not Entry:  # a value in memory, its own record
                    own = cast("Buffer", entry)
                    size = len(own)
                    span = None if request is None else Span.of(request, size)
                    return self._hit(key, own, own, size, now, span, prototype)
                if entry.absent:
                    return self._hit(key, entry, None, 0, now, None, prototype)
                span = None if request is None else Span.of(request, entry.size)
                value = self.tier.get_now(entry.name)
                if type(value) is Later:
                    return _TierRead(key, entry, span)
                if value is None or len(value) != entry.size:  # type: ignore[arg-type]
                    self._lost(key, None)
                    return MISS
                return self._hit(key, entry, value, entry.size, now, span, prototype)  # type: ignore[arg-type]
            if request is None:
                return MISS
            found = self._held_range(key, Span.of(request))
            if found is not None:
                held = self._fresh(found[0], now)
                if held is not None:
                    return self._hit(found[0], held, found[1], size_of(held), now, None, prototype)
            return MISS
        finally:
            self.lock.release()

    async def finish(
        self,
        source: Store,
        key: str,
        prototype: BufferPrototype,
        request: ByteRequest | None,
        found: Buffer | Unfinished | None,
    ) -> Buffer | None:
        """A read :meth:`answer_now` began: the cache-store read or the source read still to
        do, and the deletes the cache owes."""
        if type(found) is not _Miss or self.deferred.pending:
            found = await self._read_and_drain(key, prototype, request, found)
        if type(found) is _Miss and self.shared is not None:
            found = await self._from_shared(key, prototype, request)
        if type(found) is not _Miss:
            self.accessed(source, key, request, found, hit=True)  # type: ignore[arg-type]
            return found  # type: ignore[return-value]
        span = None if request is None else Span.of(request)
        data = await self._fetch(source, key, prototype, request, span)
        if self.recorder is not None or self.readahead is not None:
            self.accessed(source, key, request, data, hit=False)
        if span is not None and self.config.promotion is not None:
            await self._promote(source, key, prototype, self.config.promotion)
        return data

    def accessed(
        self,
        source: Store,
        key: str,
        request: ByteRequest | None,
        data: Buffer | None,
        *,
        hit: bool,
    ) -> None:
        """Tell the recorder and the prefetcher, if there are, of an access and its answer."""
        recorder = self.recorder
        if recorder is not None:
            recorder.record(key, 0 if data is None else len(data), hit, _byte_range(request))
        if self.readahead is not None:
            self.readahead.accessed(source, key, request, data)

    async def prefetch(
        self, source: Store, key: str, prototype: BufferPrototype, request: ByteRequest | None
    ) -> None:
        """Read ``key`` (or ``request`` of it) into the cache ahead of its reader, through the
        miss path. A whole value nobody has read yet is marked unused and, where the eviction
        policy can, put first in line for eviction; a read that joined the prefetch counts as
        its hit."""
        span = None if request is None else Span.of(request)
        flight_key: _FlightKey = key if request is None else (key, request)
        with self.lock:
            if flight_key in self.flights:
                return  # a reader got there first
            flight = self.flights[flight_key] = Flight(self.reads.open(key, self._clock()))
        fill = self._fill(source, key, prototype, request, span, flight_key, flight)
        await self.deferred.run(fill)
        with self.lock:
            if request is None and key in self.ledger and self.readahead is not None:
                self.stats.prefetched += 1
                if flight.joined:
                    self.stats.prefetch_hits += 1
                    return
                self.readahead.unused.add(key)
                if isinstance(self.eviction, Demotable):
                    try:
                        self.eviction.demote(key)
                    except Exception as error:
                        self.ledger.remove(key)
                        self.faults.strategy(self.eviction, error)

    async def lookup(
        self, key: str, prototype: BufferPrototype, request: ByteRequest | None
    ) -> Buffer | Unfinished | None:
        """What the cache holds for ``request`` of ``key`` (a hit, counted), or ``MISS``."""
        found = self.answer_now(key, prototype, request)
        return await self._read_and_drain(key, prototype, request, found)

    async def _read_and_drain(
        self,
        key: str,
        prototype: BufferPrototype,
        request: ByteRequest | None,
        found: Buffer | Unfinished | None,
    ) -> Buffer | Unfinished | None:
        """Finish what :meth:`answer_now` could not answer from memory, short of the source."""
        if found is POLL:
            await self._poll_shared()
            found = self.answer_now(key, prototype, request, poll=False)
        if type(found) is _TierRead:
            found = await self._read_tier(found, prototype)
        if self.deferred.pending:
            await self.deferred.drain()
        return found

    async def _read_tier(self, read: _TierRead, prototype: BufferPrototype) -> Buffer | Unfinished:
        """Read a hit's bytes from the cache store; ``MISS`` unless they are the entry's own."""
        entry = read.entry
        request = None if read.span is None else read.span.within(entry.size).as_request()
        expected = entry.size if request is None else request.end - request.start
        error: Exception | None = None
        try:
            data = await self.tier.get(entry.name, prototype, request)
        except Exception as failure:
            data, error = None, failure
        with self.lock:
            if self.ledger.get(read.key) is not entry:
                return MISS
            if data is None or len(data) != expected:
                self._lost(read.key, error)
                return MISS
            return self._hit(read.key, entry, data, expected, self.config.clock(), None, prototype)  # type: ignore[return-value]

    def _fresh(self, key: Hashable, now: float) -> Record | None:
        """The ready record of ``key``, expiring it if its deadline has passed. Under the lock."""
        entry = self.ledger.get(key)
        if entry is None or type(entry) is not Entry:
            return entry
        if not entry.ready:
            return None
        if now < entry.deadline:
            return entry
        self.stats.expirations += 1
        self.ledger.remove(key)
        return None

    def _hit(
        self,
        key: Hashable,
        entry: Record,
        data: Buffer | None,
        size: int,
        now: float,
        span: Span | None,
        prototype: BufferPrototype,
    ) -> Buffer | Unfinished | None:
        """Count a hit on ``entry``; ``data`` (``size`` bytes: all it holds, or what was read
        of it) cut to ``span``, or ``MISS`` if a strategy failed (the entry is then dropped).
        Under the lock."""
        if not self.ledger.hit(key):
            return MISS
        if self.readahead is not None:
            self.readahead.hit(key)
        if self._reads_extend and type(entry) is Entry:
            try:
                entry.deadline = self.expiry.on_read(key, now, entry.deadline)
            except Exception as error:
                self.ledger.remove(key)
                self.faults.strategy(self.expiry, error)
                return MISS
        stats = self.stats
        stats.hits += 1
        if data is None:
            return None
        if span is not None and (span.start, span.stop) != (0, size):
            data = data[span.start : span.stop]
            stats.bytes_from_cache += span.stop - span.start  # type: ignore[operator]
        else:
            stats.bytes_from_cache += size
        return data if type(data) is prototype.buffer else prototype.buffer.from_buffer(data)

    def _held_range(self, key: str, span: Span) -> tuple[RangeKey, Buffer] | None:
        try:
            return self.range_cache.lookup(key, span)  # type: ignore[no-any-return]
        except Exception as error:
            self.faults.strategy(self.range_cache, error)
            return None

    def _lost(self, key: str, error: Exception | None) -> None:
        """The cache store lost or damaged ``key``'s value: forget it. Under the lock."""
        self.faults.cache_store(error, "return a value it holds, intact")
        self.ledger.remove(key)

    # -- misses ----------------------------------------------------------------------------

    # -- the shared tier ---------------------------------------------------------------------

    async def _poll_shared(self) -> None:
        """Drop from memory what other processes wrote since the last poll (everything, if
        what was missed is unknown)."""
        assert self.shared is not None
        keys = await self.shared.changes()
        with self.lock:
            if keys is None:
                self._invalidate_now(lambda key: True, None)
            for key in keys or ():
                self._invalidate_now(key, None)
        await self.shared.send()

    async def _from_shared(
        self, key: str, prototype: BufferPrototype, request: ByteRequest | None
    ) -> Buffer | Unfinished:
        """A read the memory tier missed, answered by the shared tier (and then kept in
        memory), or ``MISS``."""
        assert self.shared is not None
        with self.lock:
            ticket = self.reads.open(key, self._clock())
        try:
            held = await self.shared.get(key, request)
            if held is None:
                return MISS
            data = prototype.buffer.from_bytes(held)
            with self.lock:
                self.stats.hits += 1
                self.stats.shared_hits += 1
                self.stats.bytes_from_cache += len(data)
            span = None if request is None else Span.of(request)
            await self._insert(key, span, data, ticket)
            return data
        finally:
            with self.lock:
                self.reads.close(ticket)

    async def _put_shared(self, key: str, data: Buffer, token: int, began: float) -> None:
        """Offer a value read from the source to the shared tier, under ``token``."""
        assert self.shared is not None
        deadline = self._deadline(key, began)
        if deadline is None:
            return
        wall = None if deadline == math.inf else time.time() + (deadline - self._clock())
        await self.shared.put(key, data.to_bytes(), token, wall)

    async def _invalidate_shared(self, keys: str | None, *, prefix: bool = False) -> None:
        """Tell the shared tier, if there is one, that ``keys`` changed."""
        if self.shared is not None:
            await self.shared.invalidate(keys, prefix=prefix)

    async def _fetch(
        self,
        source: Store,
        key: str,
        prototype: BufferPrototype,
        request: ByteRequest | None,
        span: Span | None,
        *,
        count_miss: bool = True,
    ) -> Buffer | None:
        """Read from the source once for all concurrent identical misses, then cache.

        The answer is placed by the request as sent, never by a size the cache remembers: the
        value may have changed behind the cache's back since.
        """
        flight_key: _FlightKey = key if request is None else (key, request)
        flight, waiters = self._board(key, flight_key, count_miss)
        if waiters is None:
            fill = self._fill(source, key, prototype, request, span, flight_key, flight)
            return await self.deferred.run(fill)
        result = await asyncio.wrap_future(waiters)
        if result is RETRY:
            return await source.get(key, prototype, request)
        return result if result is None else _as(prototype, result)

    def _board(
        self, key: str, flight_key: _FlightKey, count_miss: bool = True
    ) -> tuple[Flight, concurrent.futures.Future[Any] | None]:
        """The flight a miss takes: a new one it leads (no future), or the one under way and
        the future its answer comes by."""
        with self.lock:
            self.stats.misses += count_miss
            flight = self.flights.get(flight_key)
            if flight is None:
                flight = self.flights[flight_key] = Flight(self.reads.open(key, self._clock()))
                return flight, None
            self.stats.coalesced += 1
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("a miss of %r waits for the read already under way", flight_key)
            return flight, flight.join()

    def _land(
        self,
        flight_key: _FlightKey,
        flight: Flight,
        data: Buffer | None = None,
        error: BaseException | None = None,
    ) -> None:
        """The flight is over: later misses start their own, and its waiters get ``data``, or
        ``error`` (a cancelled read tells each to read for itself)."""
        with self.lock:
            if self.flights.get(flight_key) is flight:
                del self.flights[flight_key]
            if error is None and data is not None:
                self.stats.bytes_from_source += len(data)
            waiters = flight.waiters  # nobody joins a flight that has landed
        if waiters is None:
            return
        if error is None:
            waiters.set_result(data)
        elif isinstance(error, asyncio.CancelledError):
            waiters.set_result(RETRY)
        else:
            waiters.set_exception(error)

    async def _fill(
        self,
        source: Store,
        key: str,
        prototype: BufferPrototype,
        request: ByteRequest | None,
        span: Span | None,
        flight_key: _FlightKey,
        flight: Flight,
    ) -> Buffer | None:
        """The shared miss: read the source, answer the waiters, cache the answer (offered to
        the shared tier too, if it is a whole value)."""
        try:
            shared = self.shared if request is None else None  # a whole value goes there too
            token = None if shared is None else await shared.begin(key)
            try:
                data = await source.get(key, prototype, request)
            except BaseException as error:
                self._land(flight_key, flight, error=error)
                raise
            self._land(flight_key, flight, data)
            await self._insert(key, span, data, flight.ticket)
            if token is not None and data is not None:
                await self._put_shared(key, data, token, flight.ticket.began)
            return data
        finally:
            with self.lock:
                self.reads.close(flight.ticket)

    def fetch_now(
        self, source: Store, key: str, prototype: BufferPrototype, request: ByteRequest | None
    ) -> Buffer | None:
        """A miss read through the source's synchronous API, with a tier that works at once:
        zarr's synchronous path, where no event loop runs. Shares flights with the
        asynchronous path, unless called on a running event loop, which must not block."""
        span = None if request is None else Span.of(request)
        flight_key: _FlightKey = key if request is None else (key, request)
        flight, waiters = self._board(key, flight_key)
        if waiters is not None:
            result = RETRY if _on_event_loop() else waiters.result()
            if result is RETRY:
                return source.get_sync(key, prototype=prototype, byte_range=request)  # type: ignore[attr-defined, no-any-return]
            return None if result is None else _as(prototype, cast("Buffer", result))
        try:
            try:
                data = source.get_sync(key, prototype=prototype, byte_range=request)  # type: ignore[attr-defined]
            except BaseException as error:
                self._land(flight_key, flight, error=error)
                raise
            self._land(flight_key, flight, data)
            with self.lock:
                self._settle_now(key, self._insert_now(key, span, data, flight.ticket))
            return data  # type: ignore[no-any-return]
        finally:
            with self.lock:
                self.reads.close(flight.ticket)

    def _settle_now(self, key: str, entry: Entry | None) -> None:
        """An entry admitted on the synchronous path that the tier could not write at once is
        dropped: that path writes no cache store. Under the lock."""
        if entry is not None and not entry.ready:
            self.ledger.remove(key)

    async def _promote(
        self, source: Store, key: str, prototype: BufferPrototype, promotion: WholeValuePromotion
    ) -> None:
        """Fetch and keep all of ``key`` once the ranges read from it pass the threshold, if
        the cache could keep it."""
        with self.lock:
            fetched, size = self.range_bytes.get(key, 0), self._known_size(key)
        if size is None:
            try:
                size = await self.getsize(source, key)
            except FileNotFoundError:
                return
        if not promotion.should_promote(fetched, size) or not self._could_keep(key, size):
            return
        await self._fetch(source, key, prototype, None, None, count_miss=False)
        with self.lock:
            if self.ledger.get(key) is not None:  # the whole value serves every range now
                self._drop_ranges(key)

    def _could_keep(self, key: str, size: int) -> bool:
        capacity = self.config.max_size
        if capacity is not None and size > capacity:
            return False
        with self.lock:
            try:
                return bool(self.admission.admit(key, size, capacity=capacity, victim=None))
            except Exception as error:
                self.faults.strategy(self.admission, error)
                return False

    # -- inserting --------------------------------------------------------------------------

    async def _insert(
        self, key: str, span: Span | None, data: Buffer | None, ticket: Ticket
    ) -> None:
        """Cache ``data`` (the whole value, or ``span`` of it), unless ``key`` was written
        since ``ticket`` was opened."""
        with self.lock:
            entry = self._insert_now(key, span, data, ticket)
        if entry is not None and not entry.ready and data is not None:
            await self.deferred.write(
                entry.name, data, lambda error: self._written(key, entry, error)
            )
        if self.deferred.pending:
            await self.deferred.drain()

    def _insert_now(
        self, key: str, span: Span | None, data: Buffer | None, ticket: Ticket
    ) -> Entry | None:
        """The books of an insert; the whole value's entry if one was admitted (still to be
        written to the cache store unless ready). Under the lock."""
        if ticket.stale:
            return None
        if data is None:
            if span is None and self.config.cache_missing:
                self._admit(key, Entry(0, absent=True), ticket.began)
            return None
        if span is not None:
            self._insert_range(key, span, data, ticket.began)
            return None
        return self._insert_whole(key, data, ticket.began)

    def _admit(self, key: Hashable, entry: Entry, began: float) -> bool:
        """Give ``entry`` its deadline, counted from ``began``, and admit it. Under the lock."""
        deadline = self._deadline(key, began)
        if deadline is None:
            return False
        entry.deadline = deadline
        return self.ledger.admit(key, entry)

    def _deadline(self, key: Hashable, began: float) -> float | None:
        """The deadline of a value of ``key`` read at ``began``; ``None`` if expiry failed."""
        try:
            return self.expiry.on_write(key, began)  # type: ignore[no-any-return]
        except Exception as error:
            self.faults.strategy(self.expiry, error)
            return None

    def _insert_whole(self, key: str, data: Buffer, began: float) -> Entry | None:
        """Admit a whole value, writing it at once if the tier can. Under the lock. (Its size
        is its record's: nothing else remembers it.) Returns its entry, unless it has none (a
        value in memory that is its own record)."""
        deadline = self._deadline(key, began)
        if deadline is None:
            return None
        if deadline == math.inf and self._inline:
            self.ledger.admit(key, data)
            return None
        entry = Entry(len(data), deadline, name=self.tier.name(key), ready=False)
        if not self.ledger.admit(key, entry):
            return None
        entry.ready = self.tier.set_now(entry.name, data)
        return entry

    def _written(self, key: str, entry: Entry, error: BaseException | None) -> None:
        """A cache-store write settled: the entry is ready, or its name is deleted."""
        with self.lock:
            if error is not None and not isinstance(error, asyncio.CancelledError):
                self.faults.cache_store(error, "write a value")
            current = self.ledger.get(key) is entry
            if current and error is None:
                entry.ready = True
                return
            if current:
                self.ledger.remove(key)
            self.deferred.doom(entry.name)

    def _insert_range(self, key: str, span: Span, data: Buffer, began: float) -> None:
        """Hold the bytes of ``span`` of ``key`` in the range cache. Under the lock."""
        learned = span.learned_size(len(data))
        if learned is not None:
            self._learn_size(key, learned, began)
            span = span.within(learned)
        if self.config.promotion is not None:
            self.range_bytes.put(key, self.range_bytes.get(key, 0) + len(data))
        try:
            range_key = self.range_cache.put(key, span, data, learned)
        except Exception as error:
            self.faults.strategy(self.range_cache, error)
            return
        admitted = False
        try:
            admitted = range_key in self.ledger or self._admit(range_key, Entry(len(data)), began)
        finally:  # refused, or a strict strategy raised: the bytes go too
            if not admitted:
                self._pop_range(range_key)

    def _learn_size(self, key: str, size: int, began: float) -> None:
        """Remember ``key``'s size, for ``getsize`` and promotion, until it would expire."""
        try:
            self.sizes.put(key, (size, self.expiry.on_write(key, began)))
        except Exception as error:
            self.faults.strategy(self.expiry, error)

    def _known_size(self, key: str) -> int | None:
        """``key``'s remembered size, unless it has expired. Under the lock."""
        size, deadline = self.sizes.get(key, (None, 0.0))
        if size is None or self.config.clock() < deadline:
            return size  # type: ignore[no-any-return]
        del self.sizes[key]
        return None

    # -- releasing ---------------------------------------------------------------------------

    def _release(self, key: Hashable, entry: Record) -> None:
        """Free the bytes of a record the ledger let go (a value that is its own record goes
        with it). Under the lock.

        A value still being written is left to its write, which deletes it when it settles.
        """
        if self.readahead is not None:
            self.readahead.released(key, size_of(entry))
        if isinstance(key, RangeKey):
            self._pop_range(key)
        elif type(entry) is Entry and entry.ready and not entry.absent:
            self.deferred.doom(entry.name)

    def _pop_range(self, key: RangeKey) -> None:
        try:
            self.range_cache.pop(key)
        except Exception as error:  # it may still hold the bytes: start the ranges afresh
            self._forget_all_ranges()
            self.faults.strategy(self.range_cache, error)

    def _forget_all_ranges(self) -> None:
        """Empty the range cache and drop its entries from the books. Under the lock."""
        try:
            self.range_cache.clear()
        except Exception as error:
            self.faults.strategy(self.range_cache, error)
        for key in self.ledger:
            if isinstance(key, RangeKey):
                self.ledger.remove(key, release=False)

    def _drop_ranges(self, key: str) -> None:
        """Drop every range entry of ``key``. Under the lock."""
        try:
            dropped = self.range_cache.pop_key(key)
        except Exception as error:
            self.faults.strategy(self.range_cache, error)
            dropped = [entry for entry in self.ledger if isinstance(entry, RangeKey)]
            dropped = [entry for entry in dropped if entry.key == key]
        for range_key in dropped:
            self.ledger.remove(range_key)
        self.range_bytes.pop(key, None)

    # -- writes ---------------------------------------------------------------------------

    async def write(
        self, key: str, action: Callable[[], Awaitable[None]], value: Buffer | None = None
    ) -> None:
        """Run ``action``, a source write of ``key``, then forget the key; cache ``value``."""
        with self.lock:
            ticket = self.reads.open(key, self._clock())
        try:
            try:
                await action()
            finally:
                await self.invalidate(key, keep=ticket)
                await self._invalidate_shared(key)
            if value is not None and self.config.cache_set_data:
                await self._insert(key, None, value, ticket)
        finally:
            with self.lock:
                self.reads.close(ticket)

    def write_now(self, key: str, action: Callable[[], None], value: Buffer | None = None) -> None:
        """:meth:`write` for a synchronous source write, with a tier that works at once."""
        with self.lock:
            ticket = self.reads.open(key, self._clock())
        try:
            try:
                action()
            finally:
                with self.lock:
                    self._invalidate_now(key, ticket)
            if value is not None and self.config.cache_set_data:
                with self.lock:
                    self._settle_now(key, self._insert_now(key, None, value, ticket))
        finally:
            with self.lock:
                self.reads.close(ticket)

    async def invalidate_prefix(self, prefix: str) -> None:
        """Forget every key below ``prefix``, here and in the shared tier."""
        await self.invalidate(lambda key: key.startswith(prefix))
        await self._invalidate_shared(prefix, prefix=True)

    async def invalidate(self, keys: Keys, *, keep: Ticket | None = None) -> None:
        """Forget ``keys`` (one key, or those a predicate matches): their entries, ranges,
        sizes and reads in flight. One key costs O(its entries), not a scan of the cache."""
        with self.lock:
            self._invalidate_now(keys, keep)
        await self.deferred.drain()

    def _invalidate_now(self, keys: Keys, keep: Ticket | None) -> None:
        """The books of :meth:`invalidate`. Under the lock."""
        self._forget_flights(keys, keep)
        if isinstance(keys, str):
            names: Iterable[str] = (keys,)
        else:
            held = (k.key if isinstance(k, RangeKey) else str(k) for k in self.ledger)
            names = {name for name in (*held, *self.sizes, *self.range_bytes) if keys(name)}
        for name in names:
            self._drop_ranges(name)
            self.sizes.pop(name, None)
            self.ledger.remove(name)

    async def clear(self) -> None:
        """Drop everything cached; the source is untouched."""
        with self.lock:
            self._forget_flights(lambda key: True, None)
            self.ledger.clear()
            try:
                self.range_cache.clear()
            except Exception as error:
                self.faults.strategy(self.range_cache, error)
            self.sizes.clear()
            self.range_bytes.clear()
            if self.readahead is not None:
                self.readahead.clear()
            cleared = self.tier.clear_now()
        await self._invalidate_shared(None)
        if not cleared:
            try:
                await self.tier.clear()
            except Exception as error:  # the ledger is empty: what is left is never served
                with self.lock:
                    self.faults.cache_store(error, "clear")
        await self.deferred.drain()

    def _forget_flights(self, keys: Keys, keep: Ticket | None) -> None:
        """Reads of ``keys`` in flight: their answers are not cached, and later reads do not
        share them. Under the lock."""
        self.reads.touch(keys, keep)
        match = keys.__eq__ if isinstance(keys, str) else keys
        for flight_key in [f for f in self.flights if match(f if isinstance(f, str) else f[0])]:
            del self.flights[flight_key]

    # -- other reads ------------------------------------------------------------------------

    async def exists(self, source: Store, key: str) -> bool:
        with self.lock:
            entry = self._fresh(key, self.config.clock())
        if self.deferred.pending:
            await self.deferred.drain()
        if entry is not None:
            return type(entry) is not Entry or not entry.absent
        return await source.exists(key)

    async def getsize(self, source: Store, key: str) -> int:
        with self.lock:
            entry = self._fresh(key, self.config.clock())
            held = entry is not None and (type(entry) is not Entry or not entry.absent)
            known = size_of(entry) if held else self._known_size(key)  # type: ignore[arg-type]
            ticket = self.reads.open(key, self.config.clock())
        try:
            if self.deferred.pending:
                await self.deferred.drain()
            if known is not None:
                return known
            size = await source.getsize(key)
            with self.lock:
                if not ticket.stale:
                    self._learn_size(key, size, ticket.began)
            return size
        finally:
            with self.lock:
                self.reads.close(ticket)

    # -- introspection ----------------------------------------------------------------------

    def in_flight(self) -> dict[str, int]:
        """What is still under way; all zero once the cache is idle and settled."""
        with self.lock:
            unready = sum(type(e) is Entry and not e.ready for e in self.ledger.entries())
            return {
                "reads": len(self.reads),
                "flights": len(self.flights),
                "unready_entries": unready,
                "queued_deletes": len(self.deferred.doomed) + len(self.deferred.failed),
                "tasks": len(self.deferred.tasks),
            }


_tuple = tuple.__new__  # builds a RangeKey without the named tuple's Python constructor


def _as(prototype: BufferPrototype, data: Buffer) -> Buffer:
    """``data`` as the buffer class the caller asked for (no copy when it already is)."""
    return data if type(data) is prototype.buffer else prototype.buffer.from_buffer(data)


def _byte_range(request: ByteRequest | None) -> tuple[int, int | None] | None:
    """A request as a trace writes it: ``(start, stop)``, ``(offset, None)``, ``(-n, None)``."""
    if request is None:
        return None
    if isinstance(request, RangeByteRequest):
        return (request.start, request.end)
    if isinstance(request, OffsetByteRequest):
        return (request.offset, None)
    return (-request.suffix, None)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_owners: dict[int, weakref.ref[CacheEngine]] = {}


def _claim(engine: CacheEngine, strategies: Iterable[object]) -> None:
    """Refuse a strategy object with state (one that can be cleared) that another cache uses."""
    stateful = [strategy for strategy in strategies if hasattr(strategy, "clear")]
    for strategy in stateful:
        owner = _owners.get(id(strategy))
        other = None if owner is None else owner()
        if other is not None and other is not engine and _holds(other, strategy):
            raise ValueError(
                f"{type(strategy).__name__} object {strategy!r} is already used by another "
                "CacheStore; give each CacheStore a policy object of its own (a new instance, "
                "or the class or name, which makes one)"
            )
    for strategy in stateful:
        _owners[id(strategy)] = weakref.ref(engine, _forgetter(id(strategy)))


def _holds(engine: CacheEngine, strategy: object) -> bool:
    return any(held is strategy for held in engine.strategies())


def _forgetter(ident: int) -> Callable[[weakref.ref[CacheEngine]], None]:
    def forget(ref: weakref.ref[CacheEngine]) -> None:
        if _owners.get(ident) is ref:
            del _owners[ident]

    return forget
