"""What the tests share: buffers from bytes and back, the bytes a read should return, and what
a cache holds."""

from __future__ import annotations

import os

import hypothesis.strategies as st
from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    Store,
    SuffixByteRequest,
)
from zarr.core.buffer import Buffer, default_buffer_prototype

from zarr_cachestore import CacheStore
from zarr_cachestore.ledger import Entry
from zarr_cachestore.tiers import MemoryTier

PROTO = default_buffer_prototype()
NIGHTLY = os.environ.get("HYPOTHESIS_PROFILE") == "nightly"


def examples(ci: int) -> int:
    """How many examples a state machine runs: ``ci`` by default, ten times more nightly."""
    return ci * 10 if NIGHTLY else ci


def buf(data: bytes) -> Buffer:
    return PROTO.buffer.from_bytes(data)


def raw(value: Buffer | None) -> bytes | None:
    return None if value is None else value.to_bytes()


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


def memory_bytes_held(cache: CacheStore) -> int:
    """The bytes really held by the dict tier and the range cache of ``cache``."""
    engine = cache._engine
    assert isinstance(engine.tier, MemoryTier)
    whole = sum(len(value) for value in engine.tier._values.values())
    return whole + sum(len(value) for value in engine.range_cache._data.values())


def whole_entries(cache: CacheStore) -> dict[str, Entry]:
    """The ledger's entries of whole values (not ranges, not remembered absences), by key."""
    ledger = cache._engine.ledger
    entries = {key: ledger.get(key) for key in ledger if isinstance(key, str)}
    return {key: entry for key, entry in entries.items() if entry is not None and not entry.absent}


async def held_by(store: Store) -> dict[str, bytes | None]:
    """Every value in ``store``, by its name there."""
    return {name: raw(await store.get(name, PROTO)) async for name in store.list()}


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


REQUESTS = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 130), st.integers(0, 130)).map(
        lambda t: RangeByteRequest(min(t), max(t))
    ),
    st.integers(0, 130).map(OffsetByteRequest),
    st.integers(0, 130).map(SuffixByteRequest),
)  # every kind of read of values up to about a hundred bytes: whole, range, offset, suffix
