"""A CacheStore with given policies against a dict model of its source, as one call.

>>> from zarr_cachestore.testing import check_cache_store
>>> check_cache_store(eviction="fifo", examples=5)

The model is the source's truth plus, per key, the values that writes behind the cache's back
replaced, each with the time until which the cache may still serve it: a value replaced at time
``t`` may have been cached just before, so it may be served until ``t`` plus the staleness
bound (the TTL; unbounded without one, or with an expiry policy that reads extend). A write
through the cache forgets them at once: from then on only the new value is allowed.

After every step: every answer was one the model allows, the bytes held never exceed
``max_size``, the ledger matches the bytes held in the cache tier and the range cache, nothing
is left in flight, every read was a hit or a miss, and no strategy raised (the store survives a
strategy that raises, counting it in ``cache_stats()["policy_errors"]``; the kit reports it).
Each example runs on one of three tiers: the default memory tier, a ``MemoryStore`` as
``cache_store``, and an asynchronous store.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import hypothesis.strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)
from zarr.core.buffer import Buffer, default_buffer_prototype
from zarr.storage import MemoryStore

from zarr_cachestore.latency import LatencyStore
from zarr_cachestore.ledger import Entry, size_of
from zarr_cachestore.ranges import RangeKey
from zarr_cachestore.store import CacheStore
from zarr_cachestore.testing._kit import Spec, fresh, run
from zarr_cachestore.tiers import MemoryTier

__all__ = [
    "CacheStoreMachine",
    "assert_idle",
    "check_cache_store",
    "expected_bytes",
    "held_by",
    "store_machine",
]

PROTO = default_buffer_prototype()
NAMES = ("a", "c/0", "c/1", "c/2")
KEYS = st.sampled_from(NAMES)
SIZES = st.one_of(st.just(0), st.integers(0, 120), st.sampled_from([40, 80, 120]))
VALUES = SIZES.flatmap(lambda n: st.binary(min_size=n, max_size=n))  # empty ones included
REQUESTS = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 130), st.integers(0, 130)).map(
        lambda t: RangeByteRequest(min(t), max(t))
    ),
    st.integers(0, 130).map(OffsetByteRequest),
    st.integers(0, 130).map(SuffixByteRequest),
)
MAX_SIZE = 250
TTL = 10.0
CACHE_STORES: dict[str, Callable[[], Store | None]] = {
    "memory": lambda: None,  # the memory tier
    "memory-store": MemoryStore,  # a MemoryStore's dict, used directly
    "async-store": lambda: LatencyStore(MemoryStore()),  # any other store
}


def expected_bytes(data: bytes, request: ByteRequest | None) -> bytes:
    """What a read of ``request`` of ``data`` returns, as object stores, LocalStore and zarr 3.2+
    answer it: cut at the end of the value; a suffix longer than the value is all of it."""
    if request is None:
        return data
    if isinstance(request, RangeByteRequest):
        return data[request.start : request.end]
    if isinstance(request, OffsetByteRequest):
        return data[request.offset :]
    assert isinstance(request, SuffixByteRequest)
    return data[max(0, len(data) - request.suffix) :]


async def held_by(store: Store) -> dict[str, bytes | None]:
    """Every value in ``store``, by its name there."""
    held = {}
    async for name in store.list():
        value = await store.get(name, PROTO)
        held[name] = None if value is None else value.to_bytes()
    return held


def assert_idle(cache: CacheStore, *, queued_deletes: bool = False) -> None:
    """Nothing is left in flight: no open reads, flights, unfinished writes or tasks (and no
    queued deletes, unless a failing cache store keeps some)."""
    in_flight = cache._engine.in_flight()
    if queued_deletes:
        in_flight.pop("queued_deletes")
    assert not any(in_flight.values()), f"left in flight: {in_flight}"


class FakeClock:
    """A clock that moves only when a test moves it (``clock.now += 5``)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def check_cache_store(
    eviction: Spec = "lru",
    expiry: Spec | None = None,
    admission: Spec = "max-size",
    *,
    staleness: float = math.inf,
    examples: int = 100,
    steps: int = 50,
) -> None:
    """Assert that a CacheStore with these policies (each a factory, class or name) serves
    only what the model allows and keeps its books, over ``examples`` sequences of up to
    ``steps`` operations.

    Without ``expiry`` each example uses either ``max_age_seconds=10`` or none. With one,
    ``staleness`` bounds how long a value replaced behind the cache's back may still be served
    (``TTL(s)``: ``s``; policies whose deadlines reads extend, like ``TTI``: unbounded).
    """
    run(store_machine([eviction], expiry, admission, staleness), examples, steps)


def store_machine(
    evictions: Sequence[Spec],
    expiry: Spec | None = None,
    admission: Spec = "max-size",
    staleness: float = math.inf,
) -> type[CacheStoreMachine]:
    """The machine of :func:`check_cache_store`, each example with one of ``evictions``."""
    makers = {_label(spec): fresh("eviction", spec) for spec in evictions}
    make_expiry = None if expiry is None else fresh("expiry", expiry)
    make_admission = fresh("admission", admission)

    class Machine(CacheStoreMachine):
        @initialize(
            tier=st.sampled_from(sorted(CACHE_STORES)),
            eviction=st.sampled_from(sorted(makers)),
            ttl=st.booleans(),
            cache_set_data=st.booleans(),
            max_size=st.sampled_from([100, MAX_SIZE, 20 * MAX_SIZE]),
        )
        def build(
            self, tier: str, eviction: str, ttl: bool, cache_set_data: bool, max_size: int
        ) -> None:
            if make_expiry is None:
                self.ttl = TTL if ttl else math.inf
                chosen: dict[str, Any] = {"max_age_seconds": TTL if ttl else "infinity"}
            else:
                self.ttl, chosen = staleness, {"expiry": make_expiry()}
            self.max_size = max_size
            self.cache = CacheStore(
                self.source,
                cache_store=CACHE_STORES[tier](),
                max_size=max_size,
                eviction=makers[eviction](),
                admission=make_admission(),
                clock=self.clock,
                cache_set_data=cache_set_data,
                **chosen,
            )

    return Machine


def _label(spec: Spec) -> str:
    return spec if isinstance(spec, str) else getattr(spec, "__qualname__", repr(spec))


class CacheStoreMachine(RuleBasedStateMachine):
    """Every answer is one the model allows; the ledger always matches the bytes held.

    Subclasses build ``self.cache`` over ``self.source`` in an ``initialize`` rule, setting
    ``self.ttl`` (the staleness bound) and ``self.max_size``.
    """

    policy_errors_allowed: ClassVar[bool] = False
    cache: CacheStore
    ttl: float
    max_size: int

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.source = LatencyStore(MemoryStore())  # object-store suffix semantics
        self.truth: dict[str, bytes] = {}
        self.replaced: dict[str, list[tuple[bytes | None, float]]] = {}  # value, served until
        self.reads = 0
        self.last_read: tuple[str, ByteRequest | None] | None = None

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.loop.close()

    # -- the model ------------------------------------------------------------------------

    def written_through(self, key: str, value: bytes | None) -> None:
        if value is None:
            self.truth.pop(key, None)
        else:
            self.truth[key] = value
        self.replaced.pop(key, None)

    def written_behind(self, key: str, value: bytes | None) -> None:
        old = self.truth.pop(key, None)
        self.replaced.setdefault(key, []).append((old, self.clock.now + self.ttl))
        if value is not None:
            self.truth[key] = value

    def allowed(self, key: str) -> set[bytes | None]:
        live = {value for value, until in self.replaced.get(key, []) if self.clock.now < until}
        return {self.truth.get(key), *live}

    def check(self, key: str, request: ByteRequest | None, got: Buffer | None) -> None:
        answer = None if got is None else got.to_bytes()
        expected = {None if v is None else expected_bytes(v, request) for v in self.allowed(key)}
        assert answer in expected, f"read {key!r} {request} -> {answer!r}, allowed {expected}"

    # -- writes and time --------------------------------------------------------------------

    @initialize(values=st.lists(VALUES, min_size=len(NAMES), max_size=len(NAMES)))
    def fill_the_source(self, values: list[bytes]) -> None:
        for key, value in zip(NAMES, values, strict=True):
            self.run(self.source.set(key, PROTO.buffer.from_bytes(value)))
            self.truth[key] = value

    @rule(key=KEYS, value=VALUES)
    def write_through_cache(self, key: str, value: bytes) -> None:
        self.run(self.cache.set(key, PROTO.buffer.from_bytes(value)))
        self.written_through(key, value)

    @rule(key=KEYS)
    def delete_through_cache(self, key: str) -> None:
        self.run(self.cache.delete(key))
        self.written_through(key, None)

    @rule(key=KEYS, value=VALUES)
    def write_behind_the_cache(self, key: str, value: bytes) -> None:
        self.run(self.source.set(key, PROTO.buffer.from_bytes(value)))
        self.written_behind(key, value)

    @rule(key=KEYS)
    def delete_behind_the_cache(self, key: str) -> None:
        self.run(self.source.delete(key))
        self.written_behind(key, None)

    @rule(seconds=st.sampled_from([0.5, 3.0, TTL]))
    def tick(self, seconds: float) -> None:
        self.clock.now += seconds

    # -- reads ------------------------------------------------------------------------------

    @rule(key=KEYS, request=REQUESTS)
    def read(self, key: str, request: ByteRequest | None) -> None:
        got = self.run(self.cache.get(key, PROTO, request))
        self.reads += 1
        self.last_read = (key, request)
        self.check(key, request, got)

    @rule(key=KEYS)
    def read_whole(self, key: str) -> None:
        self.read(key, None)

    @rule(request=REQUESTS)
    def read_every_key(self, request: ByteRequest | None) -> None:
        """A scan: what fills the cache and makes it evict."""
        for key in NAMES:
            self.read(key, request)

    @rule()
    def read_again(self) -> None:
        if self.last_read is not None:
            self.read(*self.last_read)

    # -- after every step -------------------------------------------------------------------

    @invariant()
    def budget_is_kept(self) -> None:
        held = self.cache.cache_info()["current_size"]
        assert held <= self.max_size, f"{held} B held, over max_size={self.max_size}"

    @invariant()
    def ledger_matches_the_bytes_held(self) -> None:
        engine = self.cache._engine
        held: dict[Any, int] = {}
        if isinstance(engine.tier, MemoryTier):
            held = {name: len(value) for name, value in engine.tier._values.items()}
        else:
            values = self.run(held_by(engine.tier.store))
            held = {name: len(value or b"") for name, value in values.items()}
        for range_key, value in engine.range_cache._data.items():
            assert isinstance(range_key, RangeKey)
            held[range_key] = len(value)
        ledger: dict[Any, int] = {}
        for key, record in engine.ledger.items():
            if not isinstance(record, Entry):  # a value in memory that is its own record
                assert key not in held, f"{key!r} is held twice"
                held[key] = ledger[key] = len(record)
            elif not record.absent:
                ledger[record.name if isinstance(key, str) else key] = record.size
        assert held == ledger, f"the cache holds {held}, but its ledger says {ledger}"
        used = sum(map(size_of, engine.ledger.entries()))
        assert used == engine.ledger.used, f"the ledger counts {engine.ledger.used} B of {used} B"
        assert len(engine.eviction) == len(engine.ledger), (
            f"the eviction policy tracks {len(engine.eviction)} entries; the cache holds "
            f"{len(engine.ledger)}"
        )

    @invariant()
    def nothing_is_left_in_flight(self) -> None:
        assert_idle(self.cache)

    @invariant()
    def every_read_is_a_hit_or_a_miss(self) -> None:
        stats = self.cache.cache_stats()
        counted = stats["hits"] + stats["misses"]
        assert counted == self.reads, f"{self.reads} reads, {counted} hits and misses"

    @invariant()
    def no_strategy_raised(self) -> None:
        errors = self.cache.cache_stats()["policy_errors"]
        assert self.policy_errors_allowed or not errors, (
            f"the cache's strategies raised {errors} times; the cache survived, and its log "
            "names the exception (check_eviction_policy and its siblings show where)"
        )
