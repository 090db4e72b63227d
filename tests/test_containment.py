"""A strategy that raises never corrupts the books and never fails a read.

The read is served from the source, the entry involved is dropped (all entries, when the
eviction policy may have lost track of them), the failure is counted in ``policy_errors`` and
logged once per strategy; ``strict=True`` raises instead.
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import math
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pytest
from zarr.abc.store import RangeByteRequest, SuffixByteRequest
from zarr.storage import MemoryStore

from helpers import PROTO, assert_idle, buf, memory_bytes_held, raw
from zarr_cachestore import LRU, CacheStore, InMemoryRangeCache, MaxSize, RangeKey
from zarr_cachestore.latency import LatencyStore
from zarr_cachestore.ledger import empty_entry_limit, size_of

VALUES = {f"k{i}": bytes([97 + i]) * (8 + 4 * i) for i in range(6)} | {"empty": b""}


class Broken(Exception):
    pass


class Failing:
    """Raises ``Broken`` from the methods named in ``failing``, once armed."""

    failing: frozenset[str] = frozenset()

    def fail(self, method: str, *args: Any) -> None:
        if method in self.failing:
            raise Broken(f"{type(self).__name__}.{method}")


class FailingLRU(LRU, Failing):
    def on_insert(self, key: Hashable, size: int) -> None:
        self.fail("on_insert")
        super().on_insert(key, size)

    def on_hit(self, key: Hashable) -> None:
        self.fail("on_hit")
        super().on_hit(key)

    def on_remove(self, key: Hashable) -> None:
        self.fail("on_remove")
        super().on_remove(key)

    def evict(self) -> Hashable:
        self.fail("evict")
        return super().evict()

    def peek(self) -> Hashable | None:
        self.fail("peek")
        return super().peek()

    def before_insert(self, key: Hashable, size: int) -> None:
        self.fail("before_insert")


class FailingExpiry(Failing):
    def on_write(self, key: Hashable, now: float) -> float:
        self.fail("on_write")
        return math.inf

    def on_read(self, key: Hashable, now: float, deadline: float) -> float:
        self.fail("on_read")
        return deadline


class FailingAdmission(Failing):
    def on_access(self, key: Hashable) -> None:
        self.fail("on_access")

    def admit(
        self, key: Hashable, size: int, *, capacity: int | None, victim: Hashable | None
    ) -> bool:
        self.fail("admit")
        return True


class FailingRanges(InMemoryRangeCache, Failing):
    def lookup(self, key: str, span: Any) -> Any:
        self.fail("lookup")
        return super().lookup(key, span)

    def put(self, key: str, span: Any, data: Any, size: int | None = None) -> RangeKey:
        self.fail("put")
        return super().put(key, span, data, size)

    def pop(self, entry: RangeKey) -> None:
        self.fail("pop")
        super().pop(entry)


FAILURES: list[tuple[str, type[Failing], str]] = [
    ("eviction", FailingLRU, method)
    for method in ("on_insert", "on_hit", "on_remove", "evict", "peek", "before_insert")
]
FAILURES += [("expiry", FailingExpiry, method) for method in ("on_write", "on_read")]
FAILURES += [("admission", FailingAdmission, method) for method in ("on_access", "admit")]
FAILURES += [("range_cache", FailingRanges, method) for method in ("lookup", "put", "pop")]


def assert_books_match(cache: CacheStore) -> None:
    """The ledger counts exactly the bytes held, and the eviction policy tracks its entries."""
    engine = cache._engine
    assert engine.ledger.used == sum(map(size_of, engine.ledger.entries()))
    assert engine.ledger.used == memory_bytes_held(cache)
    assert len(engine.eviction) == len(engine.ledger)
    assert engine.ledger.used <= (cache.max_size or engine.ledger.used)
    assert_idle(cache)


async def read_everything(cache: CacheStore) -> None:
    """Ranges of each value, the value, and a write through the cache of the first value."""
    await cache.set("k0", buf(VALUES["k0"]))
    for key, value in VALUES.items():
        for request in (RangeByteRequest(1, 5), SuffixByteRequest(3), None):
            expected = value if request is None else value[1:5]
            if isinstance(request, SuffixByteRequest):
                expected = value[-3:] if value else b""
            assert raw(await cache.get(key, PROTO, request)) == expected, (key, request)
    await cache.set("k5", buf(VALUES["k5"]))  # held: it was just read


async def seeded(**options: Any) -> CacheStore:
    source = LatencyStore(MemoryStore())
    for key, value in VALUES.items():
        await source.set(key, buf(value))
    return CacheStore(source, max_size=60, **options)


@pytest.mark.parametrize(("group", "kind", "method"), FAILURES)
async def test_a_failing_strategy_never_fails_a_read_nor_corrupts_the_books(
    group: str, kind: type[Failing], method: str
) -> None:
    strategy = kind()
    cache = await seeded(**{group: strategy})
    await read_everything(cache)  # works, and fills the cache
    strategy.failing = frozenset({method})
    for _ in range(3):
        await read_everything(cache)
        assert_books_match(cache)
    assert cache.cache_stats()["policy_errors"] > 0
    strategy.failing = frozenset()
    await read_everything(cache)
    await read_everything(cache)
    assert_books_match(cache)
    assert cache.cache_stats()["hits"] > 0


async def test_a_strategy_failure_is_logged_once_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = FailingLRU()
    cache = await seeded(eviction=policy)
    policy.failing = frozenset({"on_hit"})
    with caplog.at_level(logging.WARNING, logger="zarr_cachestore"):
        for _ in range(5):
            await read_everything(cache)
    logged = [record for record in caplog.records if "FailingLRU raised" in record.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert logged[0].exc_info[0] is Broken
    assert cache.cache_stats()["policy_errors"] > 1


async def test_strict_raises_the_strategy_error_with_the_books_in_order() -> None:
    policy = FailingLRU()
    cache = await seeded(eviction=policy, strict=True)
    await read_everything(cache)
    policy.failing = frozenset({"evict"})
    with pytest.raises(Broken, match=r"FailingLRU\.evict"):
        await read_everything(cache)
    policy.failing = frozenset()
    assert_books_match(cache)
    await read_everything(cache)


def tutorial_policy() -> type:
    """The tutorial's HitsPerByte, from its source (it divides by entry sizes, which may be 0)."""
    path = Path(__file__).parents[1] / "docs/tutorial_policy/src/hits_per_byte/__init__.py"
    spec = importlib.util.spec_from_file_location("hits_per_byte", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.HitsPerByte  # type: ignore[no-any-return]


async def test_the_tutorial_policy_survives_an_empty_value() -> None:
    cache = await seeded(eviction=tutorial_policy())
    for _ in range(3):
        await read_everything(cache)
        assert_books_match(cache)


# -- one policy object, one cache --------------------------------------------------------


def test_one_policy_object_is_refused_by_a_second_store_before_any_read() -> None:
    policy = LRU()
    first = CacheStore(MemoryStore(), eviction=policy)
    with pytest.raises(ValueError, match="already used by another CacheStore"):
        CacheStore(MemoryStore(), eviction=policy)
    assert first.with_read_only(True).eviction is policy  # a view shares its own cache's
    del first
    gc.collect()
    assert CacheStore(MemoryStore(), eviction=policy).eviction is policy


def test_stateless_strategy_values_may_be_shared() -> None:
    fraction = MaxSize(0.5)
    a = CacheStore(MemoryStore(), admission=fraction, max_size=100)
    b = CacheStore(MemoryStore(), admission=fraction, max_size=100)
    assert a.admission is b.admission is fraction


# -- entries of no bytes ------------------------------------------------------------------


async def test_entries_of_no_bytes_are_bounded() -> None:
    source = LatencyStore(MemoryStore())
    await source.set("empty", buf(b""))
    cache = CacheStore(source, max_size=1000, cache_missing=True)
    for i in range(2000):
        assert await cache.get(f"gone/{i}", PROTO) is None
        assert raw(await cache.get("empty", PROTO, RangeByteRequest(i, i + 5))) == b""
    assert len(cache._engine.ledger) <= empty_entry_limit(1000)
    assert_books_match(cache)


@pytest.mark.parametrize("policy", ["arc", "s3fifo", "wtinylfu", "gdsf", "sieve", "clock"])
async def test_research_policies_take_entries_of_no_bytes(policy: str) -> None:
    pytest.importorskip("zarr_cachestore_policies")
    source = LatencyStore(MemoryStore())
    for key, value in VALUES.items():
        await source.set(key, buf(value))
    cache = CacheStore(source, max_size=60, eviction=policy, cache_missing=True, strict=True)
    for round_ in range(4):
        await read_everything(cache)
        for i in range(30):
            assert await cache.get(f"gone/{(i * 7 + round_) % 40}", PROTO) is None
    assert cache.cache_stats()["policy_errors"] == 0


async def test_tinylfu_weighs_a_range_by_the_requests_of_its_value() -> None:
    pytest.importorskip("zarr_cachestore_policies")
    source = LatencyStore(MemoryStore())
    for i in range(8):
        await source.set(f"k{i}", buf(bytes(range(40))))
    cache = CacheStore(source, max_size=40, admission="tinylfu")
    for i in range(8):  # fill the cache with ranges read once each
        await cache.get(f"k{i}", PROTO, RangeByteRequest(0, 10))
    hot = RangeByteRequest(10, 20)
    for _ in range(6):
        assert raw(await cache.get("k7", PROTO, hot)) == bytes(range(10, 20))
    requests = source.counts.requests
    assert raw(await cache.get("k7", PROTO, hot)) == bytes(range(10, 20))
    assert source.counts.requests == requests, "a frequently read range was never admitted"
