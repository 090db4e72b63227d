"""Specification of byte ranges: the normalized ``Span``, ``RangeKey`` and ``InMemoryRangeCache``.

A byte request has the meaning zarr's stores give it: ``RangeByteRequest(start, end)`` is
``value[start:end]``, ``OffsetByteRequest(offset)`` is ``value[offset:]`` and
``SuffixByteRequest(n)`` is the last ``n`` bytes (all of them when ``n`` exceeds the size, none
when ``n`` is 0).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer.cpu import Buffer

from helpers import expected_bytes
from zarr_cachestore import InMemoryRangeCache, RangeCache, RangeKey, Span

VALUE = b"0123456789"


def buf(data: bytes) -> Buffer:
    return Buffer.from_bytes(data)


def sliced(value: bytes, span: Span) -> bytes:
    """The bytes of ``span`` of ``value``."""
    inner = span.within(len(value))
    return value[inner.start : inner.stop]


def requests(max_position: int = 40) -> st.SearchStrategy[ByteRequest]:
    positions = st.integers(min_value=0, max_value=max_position)
    ranges = st.tuples(positions, positions).map(lambda p: RangeByteRequest(min(p), max(p)))
    return st.one_of(ranges, positions.map(OffsetByteRequest), positions.map(SuffixByteRequest))


# -- Span.of ----------------------------------------------------------------------------------


def test_span_of_a_range_request_is_start_to_end() -> None:
    assert Span.of(RangeByteRequest(2, 5)) == Span(2, 5)


def test_span_of_an_empty_range_request_is_allowed() -> None:
    assert Span.of(RangeByteRequest(3, 3)) == Span(3, 3)


def test_span_of_an_offset_request_runs_to_the_end() -> None:
    span = Span.of(OffsetByteRequest(4))
    assert span == Span(4, None)
    assert not span.is_suffix
    assert not span.is_absolute


def test_span_of_a_suffix_request_has_a_negative_start() -> None:
    span = Span.of(SuffixByteRequest(3))
    assert span == Span(-3, None)
    assert span.is_suffix
    assert not span.is_absolute


def test_span_of_a_range_request_is_absolute() -> None:
    span = Span.of(RangeByteRequest(0, 4))
    assert span.is_absolute
    assert not span.is_suffix


@pytest.mark.parametrize(
    ("request_", "size", "expected"),
    [
        pytest.param(RangeByteRequest(2, 5), 10, Span(2, 5), id="range-inside"),
        pytest.param(RangeByteRequest(5, 30), 10, Span(5, 10), id="range-past-end"),
        pytest.param(RangeByteRequest(20, 30), 10, Span(10, 10), id="range-after-end"),
        pytest.param(RangeByteRequest(0, 10), 10, Span(0, 10), id="range-whole"),
        pytest.param(OffsetByteRequest(4), 10, Span(4, 10), id="offset-inside"),
        pytest.param(OffsetByteRequest(10), 10, Span(10, 10), id="offset-at-end"),
        pytest.param(OffsetByteRequest(20), 10, Span(10, 10), id="offset-after-end"),
        pytest.param(SuffixByteRequest(3), 10, Span(7, 10), id="suffix-inside"),
        pytest.param(SuffixByteRequest(10), 10, Span(0, 10), id="suffix-whole"),
        pytest.param(SuffixByteRequest(20), 10, Span(0, 10), id="suffix-longer"),
        pytest.param(SuffixByteRequest(3), 0, Span(0, 0), id="suffix-of-empty"),
        pytest.param(OffsetByteRequest(0), 0, Span(0, 0), id="offset-of-empty"),
    ],
)
def test_span_of_with_a_known_size_is_clamped_into_the_value(
    request_: ByteRequest, size: int, expected: Span
) -> None:
    assert Span.of(request_, size) == expected


def test_span_of_a_zero_length_suffix_is_empty() -> None:
    """The last 0 bytes of a value are no bytes at all, not the whole value."""
    assert Span.of(SuffixByteRequest(0), 10) == Span(10, 10)
    assert Span.of(SuffixByteRequest(0)).within(10) == Span(10, 10)


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(RangeByteRequest(5, 2), id="end-before-start"),
        pytest.param(RangeByteRequest(-1, 4), id="negative-start"),
        pytest.param(RangeByteRequest(0, -4), id="negative-end"),
        pytest.param(RangeByteRequest(1.5, 4), id="float-start"),  # type: ignore[arg-type]
        pytest.param(RangeByteRequest(0, "4"), id="string-end"),  # type: ignore[arg-type]
        pytest.param(RangeByteRequest(True, 4), id="bool-start"),
        pytest.param(OffsetByteRequest(-1), id="negative-offset"),
        pytest.param(OffsetByteRequest(None), id="none-offset"),  # type: ignore[arg-type]
        pytest.param(SuffixByteRequest(-3), id="negative-suffix"),
        pytest.param(SuffixByteRequest(2.0), id="float-suffix"),  # type: ignore[arg-type]
    ],
)
def test_span_of_rejects_bad_positions_with_value_error(request_: ByteRequest) -> None:
    with pytest.raises(ValueError, match="byte range"):
        Span.of(request_)


def test_span_of_reports_a_reversed_range_clearly() -> None:
    with pytest.raises(ValueError, match="end 2 is before its start 5"):
        Span.of(RangeByteRequest(5, 2))


@pytest.mark.parametrize(
    "request_", [(0, 4), slice(0, 4), None, "0-4"], ids=["tuple", "slice", "none", "str"]
)
def test_span_of_rejects_objects_that_are_not_byte_requests(request_: object) -> None:
    with pytest.raises(TypeError, match="RangeByteRequest, OffsetByteRequest or SuffixByteRequest"):
        Span.of(request_)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(value=st.binary(max_size=30), request_=requests())
def test_span_of_with_size_selects_exactly_what_a_store_returns(
    value: bytes, request_: ByteRequest
) -> None:
    span = Span.of(request_, len(value))
    assert span.stop is not None
    assert 0 <= span.start <= span.stop <= len(value)
    assert value[span.start : span.stop] == expected_bytes(value, request_)


# -- Span.within ------------------------------------------------------------------------------


def test_within_is_idempotent_on_a_normalized_span() -> None:
    span = Span(-4, None).within(10)
    assert span == Span(6, 10)
    assert span.within(10) == span


# -- Span.learned_size ------------------------------------------------------------------------


def test_learned_size_of_a_nonempty_offset_read_is_offset_plus_length() -> None:
    assert Span(4, None).learned_size(6) == 10
    assert Span(0, None).learned_size(1) == 1


def test_learned_size_of_a_short_range_read_is_start_plus_length() -> None:
    """A range cut short ended at the end of the value."""
    assert Span(2, 8).learned_size(4) == 6
    assert Span(0, 8).learned_size(7) == 7


def test_learned_size_of_a_full_range_read_is_unknown() -> None:
    assert Span(2, 8).learned_size(6) is None
    assert Span(0, 1).learned_size(1) is None


@pytest.mark.parametrize(("length", "size"), [(0, None), (2, None), (3, 3), (4, 4), (5, None)])
def test_a_suffix_read_reveals_the_size_only_when_at_least_half_came_back(
    length: int, size: int | None
) -> None:
    """zarr 3.1's MemoryStore answers a suffix of 5 on a 3-byte value with 2 bytes; an answer of
    fewer than half the bytes asked for may be that, so it reveals nothing."""
    assert Span(-5, None).learned_size(length) == size


@pytest.mark.parametrize(
    "span",
    [Span(0, None), Span(20, None), Span(0, 8), Span(20, 30)],
    ids=["offset-zero", "offset-past-end", "range-from-zero", "range-past-end"],
)
def test_learned_size_of_an_empty_read_is_unknown(span: Span) -> None:
    """A read returning nothing only bounds the size: at most ``start`` bytes."""
    assert span.learned_size(0) is None


def test_learned_size_of_an_empty_zero_length_suffix_read_is_unknown() -> None:
    assert Span.of(SuffixByteRequest(0)).learned_size(0) is None


@settings(max_examples=200, deadline=None)
@given(value=st.binary(max_size=30), request_=requests())
def test_learned_size_never_claims_a_wrong_size(value: bytes, request_: ByteRequest) -> None:
    learned = Span.of(request_).learned_size(len(expected_bytes(value, request_)))
    assert learned is None or learned == len(value)


# -- RangeKey.of ------------------------------------------------------------------------------


def test_range_key_of_an_absolute_span_covers_the_bytes_returned() -> None:
    assert RangeKey.of("k", Span(2, 8), 6) == RangeKey("k", 2, 8)
    assert RangeKey.of("k", Span(2, 8), 3) == RangeKey("k", 2, 5)


def test_range_key_of_an_offset_span_is_absolute() -> None:
    assert RangeKey.of("k", Span(4, None), 6) == RangeKey("k", 4, 10)


def test_range_key_of_a_suffix_span_records_the_length_returned() -> None:
    assert RangeKey.of("k", Span(-5, None), 5) == RangeKey("k", -5, None)
    assert RangeKey.of("k", Span(-5, None), 3) == RangeKey("k", -3, None)


def test_range_keys_are_hashable_values() -> None:
    assert RangeKey("k", 0, 4) == RangeKey("k", 0, 4)
    assert RangeKey("k", 0, 4) != RangeKey("j", 0, 4)
    assert len({RangeKey("k", 0, 4), RangeKey("k", 0, 4), RangeKey("k", -4, None)}) == 2


# -- InMemoryRangeCache -----------------------------------------------------------------------


def lookup_bytes(cache: InMemoryRangeCache, key: str, span: Span) -> tuple[RangeKey, bytes]:
    found = cache.lookup(key, span)
    assert found is not None, f"expected {span} of {key!r} to be served"
    return found[0], found[1].to_bytes()


def test_in_memory_range_cache_satisfies_the_range_cache_protocol() -> None:
    assert isinstance(InMemoryRangeCache(), RangeCache)


def test_put_returns_the_entry_key_and_holds_the_entry() -> None:
    cache = InMemoryRangeCache()
    entry = cache.put("k", Span(2, 6), buf(VALUE[2:6]))
    assert entry == RangeKey("k", 2, 6)
    assert len(cache) == 1
    assert lookup_bytes(cache, "k", Span(2, 6)) == (entry, b"2345")


def test_put_of_a_short_read_is_keyed_by_the_bytes_returned() -> None:
    cache = InMemoryRangeCache()
    assert cache.put("k", Span(6, 30), buf(VALUE[6:])) == RangeKey("k", 6, 10)
    assert cache.put("k", Span(-30, None), buf(VALUE)) == RangeKey("k", -10, None)


def test_putting_the_same_entry_twice_holds_it_once() -> None:
    cache = InMemoryRangeCache()
    cache.put("k", Span(0, 4), buf(b"0123"))
    cache.put("k", Span(0, 4), buf(b"0123"))
    assert len(cache) == 1
    assert cache.pop_key("k") == [RangeKey("k", 0, 4)]


def test_lookup_of_a_range_inside_a_held_range_is_sliced_from_it() -> None:
    cache = InMemoryRangeCache()
    entry = cache.put("k", Span(2, 9), buf(VALUE[2:9]))
    assert lookup_bytes(cache, "k", Span(3, 7)) == (entry, b"3456")
    assert lookup_bytes(cache, "k", Span(2, 3)) == (entry, b"2")
    assert lookup_bytes(cache, "k", Span(8, 9)) == (entry, b"8")
    assert lookup_bytes(cache, "k", Span(5, 5)) == (entry, b"")


@pytest.mark.parametrize("span", [Span(1, 5), Span(5, 10), Span(0, 10), Span(9, 12)], ids=str)
def test_lookup_of_a_range_not_inside_a_held_range_misses(span: Span) -> None:
    cache = InMemoryRangeCache()
    cache.put("k", Span(2, 9), buf(VALUE[2:9]))
    assert cache.lookup("k", span) is None


def test_lookup_does_not_stitch_adjacent_entries_together() -> None:
    cache = InMemoryRangeCache()
    cache.put("k", Span(0, 5), buf(VALUE[0:5]))
    cache.put("k", Span(5, 10), buf(VALUE[5:10]))
    assert cache.lookup("k", Span(3, 7)) is None


def test_lookup_finds_a_long_entry_behind_shorter_later_ones() -> None:
    cache = InMemoryRangeCache()
    whole = cache.put("k", Span(0, 10), buf(VALUE))
    cache.put("k", Span(4, 5), buf(VALUE[4:5]))
    cache.put("k", Span(6, 7), buf(VALUE[6:7]))
    assert lookup_bytes(cache, "k", Span(7, 9)) == (whole, b"78")


def test_lookup_is_per_store_key() -> None:
    cache = InMemoryRangeCache()
    cache.put("a/c/0", Span(0, 10), buf(VALUE))
    assert cache.lookup("a/c/1", Span(0, 4)) is None
    assert cache.lookup("a/c/1", Span(-2, None)) is None


def test_suffix_is_served_from_a_longer_held_suffix() -> None:
    cache = InMemoryRangeCache()
    entry = cache.put("k", Span(-6, None), buf(VALUE[-6:]))
    assert entry == RangeKey("k", -6, None)
    assert lookup_bytes(cache, "k", Span(-6, None)) == (entry, b"456789")
    assert lookup_bytes(cache, "k", Span(-2, None)) == (entry, b"89")


def test_suffix_longer_than_every_held_suffix_misses() -> None:
    cache = InMemoryRangeCache()
    cache.put("k", Span(-3, None), buf(VALUE[-3:]))
    assert cache.lookup("k", Span(-4, None)) is None


def test_suffix_lookup_uses_the_longest_held_suffix_when_several_cover_it() -> None:
    cache = InMemoryRangeCache()
    cache.put("k", Span(-3, None), buf(VALUE[-3:]))
    longest = cache.put("k", Span(-7, None), buf(VALUE[-7:]))
    cache.put("k", Span(-5, None), buf(VALUE[-5:]))
    assert lookup_bytes(cache, "k", Span(-2, None)) == (longest, b"89")


def test_pop_drops_one_entry_and_keeps_the_others() -> None:
    cache = InMemoryRangeCache()
    head = cache.put("k", Span(0, 4), buf(VALUE[:4]))
    tail = cache.put("k", Span(-3, None), buf(VALUE[-3:]))
    cache.pop(head)
    assert len(cache) == 1
    assert cache.lookup("k", Span(0, 4)) is None
    assert lookup_bytes(cache, "k", Span(-3, None)) == (tail, b"789")
    cache.pop(tail)
    assert len(cache) == 0
    assert cache.lookup("k", Span(-3, None)) is None


def test_pop_of_an_entry_not_held_is_ignored() -> None:
    cache = InMemoryRangeCache()
    entry = cache.put("k", Span(0, 4), buf(VALUE[:4]))
    cache.pop(RangeKey("k", 0, 5))
    cache.pop(RangeKey("k", -4, None))
    cache.pop(RangeKey("other", 0, 4))
    cache.pop(entry)
    cache.pop(entry)
    assert len(cache) == 0


def test_pop_key_drops_and_returns_every_entry_of_that_key() -> None:
    cache = InMemoryRangeCache()
    held = {
        cache.put("k", Span(0, 4), buf(VALUE[:4])),
        cache.put("k", Span(2, 8), buf(VALUE[2:8])),
        cache.put("k", Span(-3, None), buf(VALUE[-3:])),
        cache.put("k", Span(-5, None), buf(VALUE[-5:])),
    }
    other = cache.put("other", Span(0, 4), buf(b"abcd"))
    dropped = cache.pop_key("k")
    assert len(dropped) == len(held)
    assert set(dropped) == held
    assert len(cache) == 1
    assert cache.lookup("k", Span(0, 2)) is None
    assert cache.lookup("k", Span(-1, None)) is None
    assert lookup_bytes(cache, "other", Span(0, 4)) == (other, b"abcd")


def test_pop_key_of_a_key_without_entries_returns_nothing() -> None:
    cache = InMemoryRangeCache()
    cache.put("k", Span(0, 4), buf(VALUE[:4]))
    assert cache.pop_key("other") == []
    assert len(cache) == 1


def test_clear_drops_everything() -> None:
    cache = InMemoryRangeCache()
    cache.put("a", Span(0, 4), buf(VALUE[:4]))
    cache.put("b", Span(-3, None), buf(VALUE[-3:]))
    cache.clear()
    assert len(cache) == 0
    assert cache.lookup("a", Span(0, 4)) is None
    assert cache.lookup("b", Span(-3, None)) is None
    assert cache.pop_key("a") == []


def test_cache_is_usable_again_after_clear() -> None:
    cache = InMemoryRangeCache()
    cache.put("k", Span(0, 10), buf(VALUE))
    cache.clear()
    entry = cache.put("k", Span(4, 6), buf(VALUE[4:6]))
    assert lookup_bytes(cache, "k", Span(4, 6)) == (entry, b"45")
    assert cache.lookup("k", Span(0, 4)) is None


# -- InMemoryRangeCache against a model -------------------------------------------------------

STORE_KEYS = ("a", "b", "c")


class RangeCacheMachine(RuleBasedStateMachine):
    """Puts true bytes of random spans of a few random values and checks every lookup.

    The model is the bytes of each value and the entries the cache should hold. An absolute
    request is covered by an absolute entry around it, a suffix request by a suffix entry at
    least as long, and any request by an entry put with the value's size that reaches the end
    and starts no later than the request (its end placed at the value's end).
    """

    def __init__(self) -> None:
        super().__init__()
        self.cache = InMemoryRangeCache()
        self.values: dict[str, bytes] = {}
        self.entries: dict[RangeKey, bytes] = {}
        self.reaching_the_end: set[RangeKey] = set()

    @initialize(values=st.fixed_dictionaries({key: st.binary(max_size=24) for key in STORE_KEYS}))
    def choose_values(self, values: dict[str, bytes]) -> None:
        self.values = values

    # -- span generation --

    def draw_absolute(self, data: st.DataObject, key: str) -> Span:
        limit = len(self.values[key]) + 4
        start = data.draw(st.integers(0, limit), label="start")
        stop = data.draw(st.integers(start, limit + 2), label="stop")
        return Span(start, stop)

    def draw_suffix(self, data: st.DataObject, key: str) -> Span:
        length = data.draw(st.integers(1, len(self.values[key]) + 4), label="suffix")
        return Span(-length, None)

    def draw_offset(self, data: st.DataObject, key: str) -> Span:
        return Span(data.draw(st.integers(0, len(self.values[key]) + 4), label="offset"), None)

    def covered(self, key: str, span: Span) -> bool:
        for entry in self.entries:
            if entry.key != key:
                continue
            if span.is_suffix and entry.stop is None and -entry.start >= -span.start:
                return True
            if (
                span.stop is not None
                and entry.stop is not None
                and entry.start <= span.start
                and span.stop <= entry.stop
            ):
                return True
            if entry in self.reaching_the_end:
                inner = span.within(len(self.values[key]))
                if entry.start <= inner.start:
                    return True
        return False

    def check_lookup(self, key: str, span: Span) -> None:
        found = self.cache.lookup(key, span)
        if found is None:
            assert not self.covered(key, span), f"{span} of {key!r} is covered but missed"
            return
        entry, data = found
        assert entry in self.entries, f"lookup answered from {entry}, which is not held"
        assert entry.key == key
        assert data.to_bytes() == sliced(self.values[key], span)

    # -- rules --

    @rule(
        key=st.sampled_from(STORE_KEYS),
        kind=st.sampled_from(["absolute", "suffix", "offset"]),
        data=st.data(),
    )
    def put(self, key: str, kind: str, data: st.DataObject) -> None:
        draw = {
            "absolute": self.draw_absolute,
            "suffix": self.draw_suffix,
            "offset": self.draw_offset,
        }[kind]
        span = draw(data, key)
        true = sliced(self.values[key], span)
        size = len(self.values[key])
        tell_size = data.draw(st.booleans(), label="tell the size") and not span.is_suffix
        entry = self.cache.put(key, span, buf(true), size if tell_size else None)
        assert entry == RangeKey.of(key, span, len(true))
        self.entries[entry] = true
        if tell_size and entry.stop == size:
            self.reaching_the_end.add(entry)

    @rule(key=st.sampled_from(STORE_KEYS), data=st.data())
    def lookup_absolute(self, key: str, data: st.DataObject) -> None:
        self.check_lookup(key, self.draw_absolute(data, key))

    @rule(key=st.sampled_from(STORE_KEYS), data=st.data())
    def lookup_suffix(self, key: str, data: st.DataObject) -> None:
        self.check_lookup(key, self.draw_suffix(data, key))

    @rule(key=st.sampled_from(STORE_KEYS), data=st.data())
    def lookup_offset(self, key: str, data: st.DataObject) -> None:
        self.check_lookup(key, self.draw_offset(data, key))

    @precondition(lambda self: self.entries)
    @rule(data=st.data())
    def lookup_inside_a_held_entry(self, data: st.DataObject) -> None:
        """A request drawn inside a held entry, so lookups hit often."""
        entry = data.draw(st.sampled_from(sorted(self.entries, key=repr)), label="entry")
        if entry.stop is None:
            span = Span(-data.draw(st.integers(1, max(1, -entry.start)), label="suffix"), None)
        else:
            start = data.draw(st.integers(entry.start, entry.stop), label="start")
            span = Span(start, data.draw(st.integers(start, entry.stop), label="stop"))
        self.check_lookup(entry.key, span)

    @precondition(lambda self: self.entries)
    @rule(data=st.data())
    def pop(self, data: st.DataObject) -> None:
        entry = data.draw(st.sampled_from(sorted(self.entries, key=repr)), label="entry")
        self.cache.pop(entry)
        del self.entries[entry]
        self.reaching_the_end.discard(entry)

    @rule(key=st.sampled_from(STORE_KEYS), data=st.data())
    def pop_entry_not_held(self, key: str, data: st.DataObject) -> None:
        span = self.draw_absolute(data, key)
        entry = RangeKey(key, span.start, span.stop)
        if entry in self.entries:
            return
        self.cache.pop(entry)

    @rule(key=st.sampled_from(STORE_KEYS))
    def pop_key(self, key: str) -> None:
        expected = [entry for entry in self.entries if entry.key == key]
        assert Counter(self.cache.pop_key(key)) == Counter(expected)
        for entry in expected:
            del self.entries[entry]
            self.reaching_the_end.discard(entry)

    @rule()
    def clear(self) -> None:
        self.cache.clear()
        self.entries.clear()
        self.reaching_the_end.clear()

    @invariant()
    def holds_as_many_entries_as_the_model(self) -> None:
        assert len(self.cache) == len(self.entries)


TestRangeCacheAgainstModel = RangeCacheMachine.TestCase
TestRangeCacheAgainstModel.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None
)


@settings(max_examples=200, deadline=None)
@given(value=st.binary(min_size=1, max_size=30), suffix=st.integers(1, 70))
def test_a_suffix_answered_as_zarr_31s_memory_store_does_never_teaches_a_wrong_size(
    value: bytes, suffix: int
) -> None:
    """zarr 3.1 slices from ``len(value) - suffix`` without clamping it at 0."""
    answer = value[len(value) - suffix :]
    learned = Span.of(SuffixByteRequest(suffix)).learned_size(len(answer))
    assert learned is None or learned == len(value)
