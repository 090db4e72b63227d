"""Byte ranges through ``CacheStore``, checked against a plain model of the stored bytes.

A small cache (400 bytes) sits in front of a ``MemoryStore`` holding a few values of up to 300
bytes, so whole values and ranges are evicted all the time. Whatever the cache holds, every
read must return exactly what the source itself would return for that request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from zarr.abc.store import (
    ByteRequest,
    OffsetByteRequest,
    RangeByteRequest,
    SuffixByteRequest,
)
from zarr.core.buffer import cpu, default_buffer_prototype
from zarr.storage import MemoryStore

from helpers import examples, expected_bytes
from zarr_cachestore import CacheStore
from zarr_cachestore.latency import LatencyStore

PROTOTYPE = default_buffer_prototype()
KEYS = ("a", "b", "c/0")
MAX_SIZE = 400
MAX_LENGTH = 300


# Past-the-end positions included; 0 and 1 drawn often, as empty suffixes and ranges hide there.
positions = st.one_of(st.sampled_from([0, 1]), st.integers(min_value=0, max_value=MAX_LENGTH + 50))
requests = st.one_of(
    st.none(),
    st.builds(lambda start, n: RangeByteRequest(start, start + n), positions, positions),
    st.builds(OffsetByteRequest, positions),
    st.builds(SuffixByteRequest, positions),
)
# Lengths drawn uniformly first, so that long values are as common as short ones.
values = st.integers(min_value=0, max_value=MAX_LENGTH).flatmap(
    lambda n: st.binary(min_size=n, max_size=n)
)


class RangeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.source = LatencyStore(MemoryStore())
        self.cache = CacheStore(self.source, max_size=MAX_SIZE)
        self.model: dict[str, bytes] = {}

    def run(self, coroutine: Any) -> Any:
        return self.runner.run(coroutine)

    def teardown(self) -> None:
        self.runner.close()

    @rule(key=st.sampled_from(KEYS), value=values)
    def write(self, key: str, value: bytes) -> None:
        self.run(self.cache.set(key, cpu.Buffer.from_bytes(value)))
        self.model[key] = value

    @rule(key=st.sampled_from(KEYS), value=values)
    def write_to_the_source_then_clear_the_cache(self, key: str, value: bytes) -> None:
        self.run(self.source.set(key, cpu.Buffer.from_bytes(value)))
        self.run(self.cache.clear_cache())
        self.model[key] = value

    def check_read(self, key: str, request: ByteRequest | None) -> None:
        buffer = self.run(self.cache.get(key, PROTOTYPE, request))
        if key not in self.model:
            assert buffer is None
            return
        assert buffer is not None, f"{key!r} is stored but the cache answered None"
        expected = expected_bytes(self.model[key], request)
        assert buffer.to_bytes() == expected, f"{request!r} of {len(self.model[key])} bytes"

    @rule(key=st.sampled_from(KEYS), request=requests)
    def read(self, key: str, request: ByteRequest | None) -> None:
        self.check_read(key, request)

    @precondition(lambda self: bool(self.model))
    @rule(
        data=st.data(),
        kind=st.sampled_from([RangeByteRequest, OffsetByteRequest, SuffixByteRequest]),
        shift=st.one_of(st.integers(-4, 4), st.integers(-4, MAX_LENGTH)),
        length=st.integers(min_value=0, max_value=8),
    )
    def read_around_the_end(self, data: st.DataObject, kind: type, shift: int, length: int) -> None:
        """A stored key, read from (or, for a suffix, back from) near or past its end."""
        key = data.draw(st.sampled_from(sorted(self.model)), label="key")
        at = max(0, len(self.model[key]) + shift)
        request = RangeByteRequest(at, at + length) if kind is RangeByteRequest else kind(at)
        self.check_read(key, request)

    @rule(key=st.sampled_from(KEYS), ranges=st.lists(requests, min_size=1, max_size=4))
    def read_several(self, key: str, ranges: list[ByteRequest | None]) -> None:
        buffers = self.run(self.cache.get_partial_values(PROTOTYPE, [(key, r) for r in ranges]))
        for request, buffer in zip(ranges, buffers, strict=True):
            if key not in self.model:
                assert buffer is None
            else:
                assert buffer is not None
                assert buffer.to_bytes() == expected_bytes(self.model[key], request)

    @rule(key=st.sampled_from(KEYS))
    def delete(self, key: str) -> None:
        self.run(self.cache.delete(key))
        self.model.pop(key, None)

    @rule()
    def clear_cache(self) -> None:
        self.run(self.cache.clear_cache())
        assert self.cache.cache_info()["current_size"] == 0

    @invariant()
    def within_budget(self) -> None:
        assert self.cache.cache_info()["current_size"] <= MAX_SIZE

    @invariant()
    def source_matches_the_model(self) -> None:
        for key in KEYS:
            held = self.run(self.source.get(key, PROTOTYPE))
            assert (None if held is None else held.to_bytes()) == self.model.get(key)


RangeMachine.TestCase.settings = settings(
    max_examples=examples(700), stateful_step_count=50, deadline=None
)
TestRangeMachine = RangeMachine.TestCase


# -- the cases the machine is after, spelled out ---------------------------------------------


async def read(cache: CacheStore, key: str, request: ByteRequest | None) -> bytes | None:
    buffer = await cache.get(key, PROTOTYPE, request)
    return None if buffer is None else buffer.to_bytes()


@pytest.fixture
async def forty() -> tuple[CacheStore, bytes]:
    """A cache in front of a source holding 40 bytes under ``"k"``."""
    value = bytes(range(40))
    source = LatencyStore(MemoryStore())
    await source.set("k", cpu.Buffer.from_bytes(value))
    return CacheStore(source), value


async def test_a_range_past_the_end_does_not_teach_a_wrong_size(
    forty: tuple[CacheStore, bytes],
) -> None:
    cache, value = forty
    assert await read(cache, "k", RangeByteRequest(100, 200)) == b""

    assert await read(cache, "k", SuffixByteRequest(20)) == value[-20:]
    assert await read(cache, "k", RangeByteRequest(25, 35)) == value[25:35]
    assert await read(cache, "k", RangeByteRequest(85, 95)) == b""
    assert await read(cache, "k", OffsetByteRequest(5)) == value[5:]


async def test_an_offset_past_the_end_does_not_teach_a_wrong_size(
    forty: tuple[CacheStore, bytes],
) -> None:
    cache, value = forty
    assert await read(cache, "k", OffsetByteRequest(100)) == b""

    assert await read(cache, "k", SuffixByteRequest(10)) == value[-10:]
    assert await read(cache, "k", RangeByteRequest(95, 99)) == b""
    assert await read(cache, "k", OffsetByteRequest(0)) == value


@pytest.mark.parametrize("suffix", [0, 1, 39, 40, 41, 50, 79, 80, 81, 200])
async def test_suffix_reads_answer_as_the_source_does_before_and_after_a_full_read(
    forty: tuple[CacheStore, bytes], suffix: int
) -> None:
    cache, value = forty
    expected = expected_bytes(value, SuffixByteRequest(suffix))

    assert await read(cache, "k", SuffixByteRequest(suffix)) == expected
    assert await read(cache, "k", OffsetByteRequest(5)) == value[5:]
    assert await read(cache, "k", None) == value
    assert await read(cache, "k", SuffixByteRequest(suffix)) == expected


async def test_zero_length_ranges_are_empty_anywhere(forty: tuple[CacheStore, bytes]) -> None:
    cache, _ = forty
    for start in (0, 20, 40, 100):
        assert await read(cache, "k", RangeByteRequest(start, start)) == b""
    assert await read(cache, "k", SuffixByteRequest(0)) == b""
    assert await read(cache, "k", OffsetByteRequest(40)) == b""


async def test_a_size_from_before_a_write_behind_the_cache_never_places_newer_bytes() -> None:
    """The cache knew the value as 100 bytes; it became 105 behind its back. An offset read
    must answer for one version or the other, never cut the new bytes at the old end."""
    source = LatencyStore(MemoryStore())
    cache = CacheStore(source, max_size=150)
    await source.set("k", cpu.Buffer.from_bytes(bytes(100)))
    assert await read(cache, "k", None) == bytes(100)
    await source.set("other", cpu.Buffer.from_bytes(bytes(120)))
    await read(cache, "other", None)  # evicts "k"
    await source.set("k", cpu.Buffer.from_bytes(b"\x01" * 105))

    assert await read(cache, "k", RangeByteRequest(80, 100)) == b"\x01" * 20
    assert await read(cache, "k", OffsetByteRequest(85)) == b"\x01" * 20
