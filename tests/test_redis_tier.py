"""The Redis shared tier on a real ``redis-server``: the SharedTier protocol, its budget and
eviction orders, tokens, the invalidation log, expiry, damaged values, several OS processes at
once, and a server that dies and comes back."""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest

from helpers import expected_bytes
from services import RedisServer
from tier_workers import hammer
from zarr_cachestore import RedisStore, RedisTier, RedisUnavailable
from zarr_cachestore.shared import SharedTier

NS = "ns"

# The bytes the tier really holds, summed over its value keys in one atomic step, beside the
# bytes and entries its own accounting reports.
_AUDIT = """
local held, values, cursor = 0, 0, '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1] .. 'v:*', 'COUNT', 1000)
  cursor = page[1]
  for _, name in ipairs(page[2]) do
    held = held + redis.call('STRLEN', name)
    values = values + 1
  end
until cursor == '0'
local stats = redis.call('HMGET', ARGV[1] .. 'stats', 'bytes', 'entries')
return {held, values, tonumber(stats[1] or '0'), tonumber(stats[2] or '0')}
"""


def audit(url: str, prefix: str) -> tuple[int, int, int, int]:
    """(bytes held, values held, bytes accounted, entries accounted)."""
    with redis.Redis.from_url(url) as client:
        held, values, accounted, entries = client.eval(_AUDIT, 0, prefix)
    return held, values, accounted, entries


@pytest.fixture
async def make_tier(redis_url: str, redis_prefix: str) -> AsyncIterator[Any]:
    tiers: list[RedisTier] = []

    def make(**options: Any) -> RedisTier:
        options.setdefault("max_size", 30)
        tier = RedisTier(redis_url, prefix=redis_prefix, **options)
        tiers.append(tier)
        return tier

    yield make
    for tier in tiers:
        await tier.aclose()


async def put(tier: RedisTier, key: str, value: bytes, deadline: float | None = None) -> bool:
    token = await tier.begin(NS, key)
    return await tier.put(NS, key, value, token=token, deadline=deadline)


# -- the protocol and its input -------------------------------------------------------------


def test_the_tier_implements_the_shared_tier_protocol(redis_url: str) -> None:
    assert isinstance(RedisTier(redis_url, max_size=1), SharedTier)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_size": 10, "policy": "sieve"}, r"no eviction policy 'sieve'.*'lru', 'lfu'"),
        ({"max_size": -1}, r"max_size must be a whole number of bytes >= 0, got -1"),
        ({"max_size": 1.5}, r"max_size must be a whole number of bytes"),
        ({"max_size": 10, "log_length": 0}, r"log_length must be a whole number >= 1"),
    ],
)
def test_bad_settings_are_refused_with_the_fix(
    redis_url: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RedisTier(redis_url, **options)


async def test_a_namespace_with_a_nul_character_is_refused(make_tier: Any) -> None:
    with pytest.raises(ValueError, match="NUL"):
        await make_tier().begin("a\0b", "k")


async def test_tiers_sharing_a_prefix_must_agree_on_budget_and_policy(make_tier: Any) -> None:
    await put(make_tier(max_size=30), "k", b"v")
    other = make_tier(max_size=31, policy="lfu")
    with pytest.raises(ValueError, match=r"keeps policy=lru max_size=30, not policy=lfu"):
        await other.get(NS, "k")
    await other.clear()  # every namespace: the tier starts afresh with the caller's settings
    assert await put(other, "k", b"v")


async def test_from_store_uses_the_stores_server_under_a_reserved_name(
    redis_url: str, redis_prefix: str
) -> None:
    store = RedisStore(redis_url, prefix=redis_prefix)
    tier = RedisTier.from_store(store, max_size=100, policy="gdsf")
    assert (tier.url, tier.prefix, tier.policy) == (redis_url, f"{redis_prefix}__tier__/", "gdsf")
    assert await put(tier, "k", b"value")
    assert await tier.get(NS, "k") == b"value"
    await tier.aclose()


async def test_a_pickled_tier_is_the_same_tier(make_tier: Any) -> None:
    tier = make_tier(max_size=50, policy="fifo", log_length=7)
    assert await put(tier, "k", b"v")
    copy = pickle.loads(pickle.dumps(tier))
    assert repr(copy) == repr(tier)
    assert await copy.get(NS, "k") == b"v"
    await copy.aclose()


# -- values, ranges and the budget -------------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        None,
        RangeByteRequest(2, 5),
        RangeByteRequest(8, 100),
        RangeByteRequest(20, 30),
        OffsetByteRequest(7),
        SuffixByteRequest(3),
        SuffixByteRequest(50),
    ],
)
async def test_a_held_value_is_read_whole_or_as_a_range(make_tier: Any, request_: Any) -> None:
    tier = make_tier()
    data = bytes(range(10))
    assert await put(tier, "k", data)
    assert await tier.get(NS, "k", request_) == expected_bytes(data, request_)
    assert await tier.get(NS, "missing", request_) is None


async def test_a_value_larger_than_the_budget_is_refused_and_evicts_nothing(
    make_tier: Any, redis_url: str, redis_prefix: str
) -> None:
    tier = make_tier(max_size=30)
    assert await put(tier, "small", b"x" * 10)
    assert not await put(tier, "huge", b"x" * 31)
    assert await tier.get(NS, "small") == b"x" * 10
    assert audit(redis_url, redis_prefix) == (10, 1, 10, 1)


async def test_info_counts_bytes_and_entries_per_namespace(make_tier: Any) -> None:
    tier = make_tier(max_size=100)
    for ns, key, size in [("a", "k1", 10), ("a", "k2", 5), ("b", "k1", 7)]:
        assert await tier.put(ns, key, b"x" * size, token=await tier.begin(ns, key), deadline=None)
    assert await tier.info() == {
        "max_size": 100,
        "policy": "lru",
        "bytes": 22,
        "entries": 3,
        "namespaces": {"a": {"bytes": 15, "entries": 2}, "b": {"bytes": 7, "entries": 1}},
    }


# Each scenario: three 10-byte values fill a 30-byte budget, some are read, one more arrives.
@pytest.mark.parametrize(
    ("policy", "reads", "evicted"),
    [
        ("lru", ["a", "c"], "b"),  # the least recently used
        ("fifo", ["a", "b", "c"], "a"),  # the first in, however often read
        ("lfu", ["a", "a", "c", "b", "c"], "b"),  # the least often read
    ],
)
async def test_each_policy_evicts_its_own_choice(
    make_tier: Any, policy: str, reads: list[str], evicted: str
) -> None:
    tier = make_tier(max_size=30, policy=policy)
    for key in "abc":
        assert await put(tier, key, key.encode() * 10)
    for key in reads:
        assert await tier.get(NS, key) == key.encode() * 10
    assert await put(tier, "d", b"d" * 10)
    held = {key for key in "abcd" if await tier.get(NS, key) is not None}
    assert held == set("abcd") - {evicted}


async def test_gdsf_evicts_a_large_value_before_small_ones_read_as_often(make_tier: Any) -> None:
    tier = make_tier(max_size=100, policy="gdsf")
    assert await put(tier, "large", b"L" * 60)
    assert await put(tier, "s1", b"1" * 10)
    assert await put(tier, "s2", b"2" * 10)
    assert await put(tier, "new", b"n" * 30)
    assert await tier.get(NS, "large") is None
    assert [await tier.get(NS, k) for k in ("s1", "s2", "new")] == [b"1" * 10, b"2" * 10, b"n" * 30]


# -- tokens and the invalidation log -------------------------------------------------------------


async def test_an_answer_from_before_a_write_never_lands_after_it(make_tier: Any) -> None:
    reader, writer = make_tier(), make_tier()
    token = await reader.begin(NS, "k")  # a source read begins...
    await writer.invalidate(NS, "k")  # ...another process writes the key...
    assert not await reader.put(NS, "k", b"old", token=token, deadline=None)  # ...refused
    assert await reader.get(NS, "k") is None
    assert await put(reader, "other", b"fine")  # other keys are not affected
    assert await put(reader, "k", b"new")  # a read begun after the write lands


async def test_a_dropped_prefix_refuses_every_older_token_of_the_namespace(
    make_tier: Any,
) -> None:
    tier = make_tier()
    tokens = {key: await tier.begin(NS, key) for key in ("a/1", "b/1")}
    other_ns = await tier.begin("other", "a/1")
    await tier.invalidate_prefix(NS, "a/")
    for key, token in tokens.items():
        assert not await tier.put(NS, key, b"v", token=token, deadline=None)
    assert await tier.put("other", "a/1", b"v", token=other_ns, deadline=None)


async def test_invalidate_prefix_drops_exactly_the_keys_under_it(make_tier: Any) -> None:
    tier = make_tier(max_size=100)
    for key in ("a/1", "a/2", "ab/1", "b/1"):
        assert await put(tier, key, b"v")
    await tier.invalidate_prefix(NS, "a/")
    assert [await tier.get(NS, k) for k in ("a/1", "a/2", "ab/1", "b/1")] == [
        None,
        None,
        b"v",
        b"v",
    ]


async def test_changes_lists_the_keys_invalidated_since_a_cursor(make_tier: Any) -> None:
    tier = make_tier(log_length=3)
    cursor, keys = await tier.changes(NS, None)
    assert keys is None  # no cursor: nothing can be listed
    assert await tier.changes(NS, cursor) == (cursor, [])
    await tier.invalidate(NS, "b")
    await tier.invalidate(NS, "a")
    await tier.invalidate(NS, "b")
    cursor2, keys = await tier.changes(NS, cursor)
    assert (cursor2, keys) == (cursor + 3, ["a", "b"])
    await tier.invalidate(NS, "c")
    assert await tier.changes(NS, cursor) == (cursor + 4, None)  # the log no longer reaches
    assert await tier.changes(NS, cursor2) == (cursor + 4, ["c"])
    await tier.invalidate_prefix(NS, "zz")
    assert await tier.changes(NS, cursor + 4) == (cursor + 5, None)  # everything was dropped


async def test_clear_of_one_namespace_keeps_the_others(make_tier: Any) -> None:
    tier = make_tier(max_size=100)
    for ns in ("a", "b"):
        assert await tier.put(ns, "k", b"v", token=await tier.begin(ns, "k"), deadline=None)
    await tier.clear("a")
    assert await tier.get("a", "k") is None
    assert await tier.get("b", "k") == b"v"
    await tier.clear()
    assert await tier.get("b", "k") is None
    assert (await tier.info())["bytes"] == 0


# -- expiry and damage -----------------------------------------------------------------------------


async def test_an_expired_value_is_neither_returned_nor_counted(
    make_tier: Any, redis_url: str, redis_prefix: str
) -> None:
    tier = make_tier(max_size=100)
    assert await put(tier, "short", b"s" * 10, deadline=time.time() + 0.3)
    assert await put(tier, "long", b"l" * 20, deadline=time.time() + 60)
    assert await tier.get(NS, "short") == b"s" * 10
    await asyncio.sleep(0.5)
    info = await tier.info()
    assert (info["bytes"], info["entries"]) == (20, 1)
    assert await tier.get(NS, "short") is None
    assert audit(redis_url, redis_prefix) == (20, 1, 20, 1)


async def test_a_value_already_past_its_deadline_is_refused(make_tier: Any) -> None:
    tier = make_tier()
    assert not await put(tier, "k", b"v", deadline=time.time() - 1)
    assert await tier.get(NS, "k") is None


@pytest.mark.parametrize(
    ("damage", "request_"),
    [
        (lambda c, name: c.setrange(name, 3, b"X"), None),  # same length, other bytes
        (lambda c, name: c.set(name, b"short"), None),  # truncated
        (lambda c, name: c.set(name, b"short"), RangeByteRequest(0, 2)),
        (lambda c, name: c.append(name, b"more"), SuffixByteRequest(2)),
    ],
)
async def test_a_damaged_value_is_dropped_not_returned(
    make_tier: Any, redis_url: str, redis_prefix: str, damage: Any, request_: Any
) -> None:
    tier = make_tier()
    assert await put(tier, "k", b"0123456789")
    with redis.Redis.from_url(redis_url) as client:
        damage(client, f"{redis_prefix}v:{NS}\0k")
    assert await tier.get(NS, "k", request_) is None
    assert (await tier.info())["entries"] == 0
    assert audit(redis_url, redis_prefix) == (0, 0, 0, 0)


@pytest.mark.parametrize("lost", ["v:", "crc"])
async def test_an_entry_whose_value_or_checksum_redis_evicted_is_forgotten(
    make_tier: Any, redis_url: str, redis_prefix: str, lost: str
) -> None:
    tier = make_tier()
    assert await put(tier, "empty", b"")
    with redis.Redis.from_url(redis_url) as client:
        client.delete(f"{redis_prefix}{lost}{NS}\0empty" if lost == "v:" else redis_prefix + lost)
    assert await tier.get(NS, "empty") is None
    assert (await tier.info())["entries"] == 0


# -- several OS processes -----------------------------------------------------------------------


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_hammering_one_tier_stay_within_budget_and_never_see_torn_values(
    redis_url: str, redis_prefix: str, processes: int
) -> None:
    max_size = 32 * 1024
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=hammer, args=(redis_url, redis_prefix, max_size, n, 2.0, results))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    samples: list[int] = []
    try:
        while any(worker.is_alive() for worker in workers) or not samples:
            held, values, accounted, entries = audit(redis_url, redis_prefix)
            samples.append(held)
            assert held <= max_size
            assert (held, values) == (accounted, entries)
            time.sleep(0.01)
        reports = [results.get(timeout=30) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
    assert all(worker.exitcode == 0 for worker in workers)
    assert all(operations > 100 for operations, _ in reports), reports
    assert [bad for _, bad in reports] == [0] * processes
    assert max(samples) > max_size // 2  # the budget was under pressure


# -- a server that dies --------------------------------------------------------------------------


async def test_a_dead_server_raises_a_connection_error_and_the_tier_recovers(
    own_redis_server: RedisServer,
) -> None:
    tier = RedisTier(own_redis_server.url, max_size=100)
    assert await put(tier, "k", b"v")
    token = await tier.begin(NS, "j")
    cursor, _ = await tier.changes(NS, None)
    own_redis_server.kill()
    for call in (tier.get(NS, "k"), put(tier, "j", b"v"), tier.invalidate(NS, "k")):
        with pytest.raises(RedisUnavailable, match=r"cannot reach Redis at redis://127\.0\.0\.1"):
            await call
    assert issubclass(RedisUnavailable, ConnectionError)
    own_redis_server.start()
    assert await tier.get(NS, "k") is None  # the server came back empty
    assert not await tier.put(NS, "j", b"v", token=token, deadline=None)  # from before: refused
    assert (await tier.changes(NS, cursor))[1] is None  # the log does not reach back
    assert await put(tier, "j", b"v")
    assert await tier.get(NS, "j") == b"v"
    await tier.aclose()


async def test_a_server_that_hangs_times_out_as_a_connection_error(
    own_redis_server: RedisServer,
) -> None:
    tier = RedisTier(f"{own_redis_server.url}?socket_timeout=0.2", max_size=100)
    assert await put(tier, "k", b"v")
    own_redis_server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(RedisUnavailable, match="Timeout"):
            await tier.get(NS, "k")
        assert time.monotonic() - started < 5
    finally:
        own_redis_server.resume()
    assert await tier.get(NS, "k") == b"v"
    await tier.aclose()
