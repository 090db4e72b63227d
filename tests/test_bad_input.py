"""Bad input: each is refused with a specific error type and a message naming the problem
and its fix, before anything reaches the source."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import numpy as np
import pytest
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, Store, SuffixByteRequest
from zarr.storage import MemoryStore, WrapperStore

from helpers import PROTO
from zarr_cachestore import LRU, TTL, CacheStore
from zarr_cachestore.latency import LatencyStore


class NoDeletes(WrapperStore[Store]):
    """A writable store that cannot delete."""

    @property
    def supports_deletes(self) -> bool:
        return False


class HalfAPolicy:
    """An eviction policy missing ``peek`` and ``clear``."""

    def __init__(self) -> None:
        self.keys: list[Hashable] = []

    def on_insert(self, key: Hashable, size: int) -> None:
        self.keys.append(key)

    def on_hit(self, key: Hashable) -> None:
        pass

    def on_remove(self, key: Hashable) -> None:
        self.keys.remove(key)

    def evict(self) -> Hashable:
        return self.keys.pop(0)

    def __len__(self) -> int:
        return len(self.keys)


def busy_policy() -> LRU:
    policy = LRU()
    policy.on_insert("somebody else's key", 10)
    return policy


def build(**options: Any) -> Callable[[LatencyStore], Awaitable[object]]:
    """An action constructing a CacheStore over the source with ``options``."""

    async def action(source: LatencyStore) -> object:
        return CacheStore(source, **options)

    return action


def call(method: str, *args: Any) -> Callable[[LatencyStore], Awaitable[object]]:
    """An action calling ``method`` of a CacheStore over the source."""

    async def action(source: LatencyStore) -> object:
        cache = CacheStore(source)
        return await getattr(cache, method)(*args)

    return action


def read(byte_range: Any) -> Callable[[LatencyStore], Awaitable[object]]:
    return call("get", "k", PROTO, byte_range)


CASES: list[Any] = [
    # max_size
    pytest.param(build(max_size=-1), ValueError, r"max_size.*non-negative.*-1", id="max_size=-1"),
    pytest.param(
        build(max_size="lots"), ValueError, r"max_size: not a size: 'lots'", id="max_size='lots'"
    ),
    pytest.param(
        build(max_size=1.5),
        TypeError,
        r"max_size must be a number of bytes.*1\.5",
        id="max_size=1.5",
    ),
    pytest.param(
        build(max_size=True),
        TypeError,
        r"max_size must be a number of bytes.*True",
        id="max_size=True",
    ),
    # flags are bools, not look-alikes
    pytest.param(
        build(cache_set_data="no"),
        TypeError,
        r"cache_set_data must be True or False, got str 'no'",
        id="cache_set_data='no'",
    ),
    pytest.param(
        build(cache_missing=1),
        TypeError,
        r"cache_missing must be True or False",
        id="cache_missing=1",
    ),
    pytest.param(
        build(strict="yes"), TypeError, r"strict must be True or False", id="strict='yes'"
    ),
    # strategies
    pytest.param(
        build(eviction="nope"),
        ValueError,
        r"unknown eviction policy 'nope'; available: .*fifo.*lfu.*lru",
        id="eviction=unknown-name",
    ),
    pytest.param(
        build(eviction=object()),
        TypeError,
        r"eviction policy .* is not a EvictionPolicy: it lacks on_insert, on_hit, .*"
        r"Pass a name from \[.*'fifo'.*'lfu'.*'lru'.*\]",
        id="eviction=object()",
    ),
    pytest.param(
        build(eviction=HalfAPolicy),
        TypeError,
        r"eviction policy .*HalfAPolicy.* lacks peek, clear\. Pass a name from .*"
        r"or an object implementing zarr_cachestore\.EvictionPolicy",
        id="eviction=incomplete-class",
    ),
    pytest.param(
        build(expiry=TTL),
        TypeError,
        r"expiry policy TTL cannot be built without arguments.*expiry=TTL\(\.\.\.\)",
        id="expiry=TTL-class",
    ),
    pytest.param(
        build(eviction=busy_policy()),
        ValueError,
        r"already tracks 1 entries; give each CacheStore a policy object of its own",
        id="eviction=policy-in-use",
    ),
    # max_age_seconds
    pytest.param(
        build(expiry=TTL(5), max_age_seconds=10),
        ValueError,
        r"give either max_age_seconds or expiry, not both",
        id="max_age_seconds+expiry",
    ),
    pytest.param(
        build(max_age_seconds=0),
        ValueError,
        r"max_age_seconds must be a positive number.*got 0",
        id="max_age_seconds=0",
    ),
    pytest.param(
        build(max_age_seconds=-5),
        ValueError,
        r"max_age_seconds must be a positive number.*got -5",
        id="max_age_seconds=-5",
    ),
    pytest.param(
        build(max_age_seconds="forever"),
        ValueError,
        r"max_age_seconds string value must be 'infinity'.*got 'forever'",
        id="max_age_seconds='forever'",
    ),
    # stores and clock
    pytest.param(
        build(cache_store=NoDeletes(MemoryStore())),
        ValueError,
        r"does not support deletes. The cache_store must support deletes.*Pass a writable store",
        id="cache_store-without-deletes",
    ),
    pytest.param(
        build(cache_store=MemoryStore(read_only=True)),
        ValueError,
        r"cache_store .* is read-only; pass a writable store",
        id="cache_store-read-only",
    ),
    pytest.param(
        build(cache_store={}),
        TypeError,
        r"cache_store must be a zarr Store or None, got dict",
        id="cache_store=dict",
    ),
    pytest.param(
        lambda source: CacheStore({}),  # type: ignore[arg-type]
        TypeError,
        r"store must be a zarr Store, got dict",
        id="store=dict",
    ),
    pytest.param(
        build(clock=42.0),
        TypeError,
        r"clock must be a callable returning seconds, got 42\.0",
        id="clock=not-callable",
    ),
    # keys
    pytest.param(call("get", 7, PROTO), TypeError, r"keys are str, got int 7", id="get(key=7)"),
    pytest.param(
        call("get", b"k", PROTO), TypeError, r"keys are str, got bytes b'k'", id="get(key=bytes)"
    ),
    pytest.param(
        call("set", 7, PROTO.buffer.from_bytes(b"v")),
        TypeError,
        r"keys are str, got int 7",
        id="set(key=7)",
    ),
    pytest.param(call("delete", None), TypeError, r"keys are str, got NoneType", id="delete(None)"),
    pytest.param(call("exists", 1.0), TypeError, r"keys are str, got float", id="exists(1.0)"),
    pytest.param(
        call("delete_dir", 1), TypeError, r"prefixes are str, got int 1", id="delete_dir(1)"
    ),
    # byte ranges
    pytest.param(
        read(RangeByteRequest(-1, 5)),
        ValueError,
        r"byte range start must be a non-negative integer, got -1",
        id="RangeByteRequest(-1,5)",
    ),
    pytest.param(
        read(RangeByteRequest(5, 2)),
        ValueError,
        r"byte range end 2 is before its start 5",
        id="RangeByteRequest(5,2)",
    ),
    pytest.param(
        read(OffsetByteRequest(-3)),
        ValueError,
        r"byte range offset must be a non-negative integer, got -3",
        id="OffsetByteRequest(-3)",
    ),
    pytest.param(
        read(SuffixByteRequest(-1)),
        ValueError,
        r"byte range suffix must be a non-negative integer, got -1",
        id="SuffixByteRequest(-1)",
    ),
    pytest.param(
        read((0, 5)),
        TypeError,
        r"Unexpected byte_range, got \(0, 5\): pass a RangeByteRequest, OffsetByteRequest or "
        r"SuffixByteRequest",
        id="byte_range=tuple",
    ),
    pytest.param(
        read(slice(0, 5)),
        TypeError,
        r"Unexpected byte_range, got slice\(0, 5.*pass a RangeByteRequest",
        id="byte_range=slice",
    ),
]


@pytest.mark.parametrize(("action", "error", "message"), CASES)
async def test_bad_input_is_refused_with_a_clear_message(
    action: Callable[[LatencyStore], Awaitable[object]], error: type[Exception], message: str
) -> None:
    source = LatencyStore(MemoryStore())
    await source.set("k", PROTO.buffer.from_bytes(b"0123456789"))
    with pytest.raises(error, match=message):
        await action(source)
    assert source.counts.requests == 0, "bad input reached the source"
    assert raw_value(await source.get("k", PROTO)) == b"0123456789"


def raw_value(value: Any) -> bytes | None:
    return None if value is None else bytes(value.to_bytes())


async def test_a_refused_read_leaves_the_cache_as_it_was() -> None:
    source = LatencyStore(MemoryStore())
    await source.set("k", PROTO.buffer.from_bytes(b"0123456789"))
    cache = CacheStore(source)
    await cache.get("k", PROTO)
    info, stats = cache.cache_info(), cache.cache_stats()
    for byte_range in (RangeByteRequest(5, 2), OffsetByteRequest(-1), (1, 2)):
        with pytest.raises((TypeError, ValueError)):
            await cache.get("k", PROTO, byte_range)  # type: ignore[arg-type]
    assert cache.cache_info() == info
    assert cache.cache_stats() == stats


async def test_sizes_and_byte_ranges_take_every_integer_spelling() -> None:
    source = LatencyStore(MemoryStore())
    await source.set("k", PROTO.buffer.from_bytes(b"0123456789"))
    assert CacheStore(source, max_size="512MiB").max_size == 512 * 2**20
    assert CacheStore(source, max_size="2GB").max_size == 2 * 10**9
    assert CacheStore(source, max_size=np.int64(4096)).max_size == 4096
    cache = CacheStore(source, max_size=100)
    for request in (
        RangeByteRequest(np.int64(2), np.int32(5)),  # type: ignore[arg-type]
        OffsetByteRequest(np.uint8(7)),  # type: ignore[arg-type]
        SuffixByteRequest(np.int16(3)),  # type: ignore[arg-type]
    ):
        expected = {RangeByteRequest: b"234", OffsetByteRequest: b"789", SuffixByteRequest: b"789"}
        assert raw_value(await cache.get("k", PROTO, request)) == expected[type(request)]
        assert raw_value(await cache.get("k", PROTO, request)) == expected[type(request)]
    assert source.counts.requests == 2  # the suffix is inside the held offset read
    assert cache.cache_stats()["hits"] == 4
