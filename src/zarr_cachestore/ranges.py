"""Byte ranges: the normalized :class:`Span`, range-entry keys and the in-memory range cache."""

from __future__ import annotations

import bisect
import functools
import operator
from typing import TYPE_CHECKING, NamedTuple

import attrs
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest

if TYPE_CHECKING:
    from zarr.abc.store import ByteRequest
    from zarr.core.buffer import Buffer

__all__ = ["InMemoryRangeCache", "RangeKey", "Span", "WholeValuePromotion"]


@attrs.frozen
class Span:
    """A byte range of one value.

    ``Span(start, stop)`` is ``[start, stop)``; ``Span(start, None)`` runs from ``start`` to the
    end; ``Span(-n, None, from_end=True)`` is the last ``n`` bytes. Once the value's size is known
    every span becomes ``[start, stop)`` with ``stop <= size``.
    """

    start: int
    stop: int | None
    from_end: bool = attrs.field(
        default=attrs.Factory(lambda self: self.start < 0, takes_self=True)
    )  # explicit only for the empty suffix, ``Span(0, None, from_end=True)``

    @classmethod
    def of(cls, request: ByteRequest, size: int | None = None) -> Span:
        """Normalize a zarr byte request, using the value's ``size`` when it is known.

        Answers are memoized: sharded reads repeat the same few requests over and over.
        """
        if _plain(request):
            return _normalized(request, size)
        return cls._normalize(request, size)

    @classmethod
    def _normalize(cls, request: ByteRequest, size: int | None) -> Span:
        if isinstance(request, RangeByteRequest):
            start, stop = _nonnegative(request.start, "start"), _nonnegative(request.end, "end")
            if stop < start:
                raise ValueError(f"byte range end {stop} is before its start {start}")
            span = cls(start, stop)
        elif isinstance(request, OffsetByteRequest):
            span = cls(_nonnegative(request.offset, "offset"), None)
        elif isinstance(request, SuffixByteRequest):
            span = cls(-_nonnegative(request.suffix, "suffix"), None, from_end=True)
        else:
            raise TypeError(
                f"Unexpected byte_range, got {request!r}: pass a RangeByteRequest, "
                "OffsetByteRequest or SuffixByteRequest from zarr.abc.store"
            )
        return span if size is None else span.within(size)

    def within(self, size: int) -> Span:
        """This span as ``[start, stop)`` inside a value of ``size`` bytes."""
        if self.from_end:
            return Span(max(0, size + self.start), size)
        start = min(self.start, size)
        return Span(start, size if self.stop is None else max(start, min(self.stop, size)))

    def as_request(self) -> RangeByteRequest:
        """This span as zarr's request for it; the span must be ``[start, stop)``."""
        if self.stop is None:
            raise ValueError(f"{self} has no end yet: place it in a value first, with within()")
        return RangeByteRequest(self.start, self.stop)

    @property
    def is_suffix(self) -> bool:
        return self.from_end

    @property
    def is_absolute(self) -> bool:
        return self.stop is not None

    def learned_size(self, length: int) -> int | None:
        """The value's size, if a read of this span returning ``length`` bytes reveals it.

        Reads that reach the end of the value and return something tell: a read from an offset,
        a range cut short, a suffix cut short. For suffixes, zarr 3.1's MemoryStore answers a
        suffix ``n`` of a value of ``size < n < 2 * size`` bytes with only ``n - size`` bytes,
        fewer than half of ``n``; so a short suffix tells only when at least half came back.
        """
        if length == 0:
            return None
        if self.from_end:
            return length if length < -self.start <= 2 * length else None
        if self.stop is None or length < self.stop - self.start:
            return self.start + length
        return None


_normalized = functools.lru_cache(maxsize=4096)(Span._normalize)


def _plain(request: object) -> bool:
    """Whether ``request`` can key the memo: a request of ints (``True`` and ``2.0`` are equal
    to ``1`` and ``2`` as keys, but must be refused)."""
    if isinstance(request, RangeByteRequest):
        return type(request.start) is int and type(request.end) is int
    if isinstance(request, OffsetByteRequest):
        return type(request.offset) is int
    return isinstance(request, SuffixByteRequest) and type(request.suffix) is int


def _nonnegative(value: object, name: str) -> int:
    """``value`` as a non-negative int; integers of other types (numpy's) are accepted."""
    try:
        number = None if isinstance(value, bool) else operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        number = None
    if number is None or number < 0:
        raise ValueError(f"byte range {name} must be a non-negative integer, got {value!r}")
    return number


class RangeKey(NamedTuple):
    """The ledger key of a range entry: bytes ``[start, stop)`` of ``key``, or its last
    ``-start`` bytes when ``stop`` is ``None``. A tuple, as it is hashed on every hit."""

    key: str
    start: int
    stop: int | None

    @classmethod
    def of(cls, key: str, span: Span, length: int) -> RangeKey:
        """The entry holding the ``length`` bytes that a read of ``span`` returned."""
        if span.is_suffix:
            return cls(key, -length, None)
        return cls(key, span.start, span.start + length)


class InMemoryRangeCache:
    """Range entries in memory, per value, sorted by start.

    A request is answered by one held entry, sliced to the bytes asked for: a range by an entry
    around it, a suffix by a suffix entry at least as long, and a suffix, an offset or a range
    past the end by an entry that reaches the end of the value. Only an entry whose read
    revealed the value's size knows where that end is, and it knows it for the very version of
    the value it holds: a size remembered apart from the bytes could be stale.
    """

    def __init__(self) -> None:
        self._data: dict[RangeKey, Buffer] = {}
        self._absolute: dict[str, list[tuple[int, int]]] = {}  # key -> sorted [(start, stop)]
        self._longest: dict[str, int] = {}  # key -> longest absolute entry, bounds the scan
        self._suffixes: dict[str, list[int]] = {}  # key -> sorted lengths of held suffix entries
        self._ends: dict[str, dict[RangeKey, int]] = {}  # entries reaching the end -> value size

    def get(self, entry: RangeKey) -> Buffer | None:
        return self._data.get(entry)

    def lookup(self, key: str, span: Span) -> tuple[RangeKey, Buffer] | None:
        if span.stop is not None:
            exact = RangeKey(key, span.start, span.stop)
            held = self._data.get(exact)
            if held is not None:  # the common case: a repeated request, no slicing needed
                return exact, held
            around = self._around(key, span.start, span.stop)
            if around is not None:
                return around
        elif span.is_suffix:
            lengths = self._suffixes.get(key)
            if lengths and lengths[-1] >= -span.start:
                entry = RangeKey(key, -lengths[-1], None)
                data = self._data[entry]
                return entry, data[len(data) + span.start :]
        return self._at_end(key, span)

    def _around(self, key: str, start: int, stop: int) -> tuple[RangeKey, Buffer] | None:
        """An absolute entry holding all of ``[start, stop)``."""
        spans = self._absolute.get(key, ())
        floor = start - self._longest.get(key, 0)
        for i in range(bisect.bisect_right(spans, (start, float("inf"))) - 1, -1, -1):
            held_start, held_stop = spans[i]
            if held_start < floor:
                break
            if held_stop >= stop:
                entry = RangeKey(key, held_start, held_stop)
                return entry, self._data[entry][start - held_start : stop - held_start]
        return None

    def _at_end(self, key: str, span: Span) -> tuple[RangeKey, Buffer] | None:
        """An entry that reaches the end of its value and holds all of ``span`` of it."""
        for entry, size in self._ends.get(key, {}).items():
            inner = span.within(size)
            assert inner.stop is not None
            if entry.start <= inner.start:
                return entry, self._data[entry][
                    inner.start - entry.start : inner.stop - entry.start
                ]
        return None

    def put(self, key: str, span: Span, data: Buffer, size: int | None = None) -> RangeKey:
        entry = RangeKey.of(key, span, len(data))
        if entry not in self._data and entry.stop is None:
            bisect.insort(self._suffixes.setdefault(key, []), len(data))
        elif entry not in self._data and entry.stop is not None:
            bisect.insort(self._absolute.setdefault(key, []), (entry.start, entry.stop))
            self._longest[key] = max(self._longest.get(key, 0), len(data))
        if size is not None and entry.stop == size:
            self._ends.setdefault(key, {})[entry] = size
        self._data[entry] = data
        return entry

    def pop(self, entry: RangeKey) -> None:
        if self._data.pop(entry, None) is None:
            return
        ends = self._ends.get(entry.key)
        if ends is not None and ends.pop(entry, None) is not None and not ends:
            del self._ends[entry.key]
        if entry.stop is None:
            lengths = self._suffixes[entry.key]
            lengths.remove(-entry.start)
            if not lengths:
                del self._suffixes[entry.key]
            return
        spans = self._absolute[entry.key]
        spans.pop(bisect.bisect_left(spans, (entry.start, entry.stop)))
        if not spans:
            del self._absolute[entry.key], self._longest[entry.key]

    def pop_key(self, key: str) -> list[RangeKey]:
        entries = [RangeKey(key, start, stop) for start, stop in self._absolute.pop(key, ())]
        entries += [RangeKey(key, -n, None) for n in self._suffixes.pop(key, ())]
        self._longest.pop(key, None)
        self._ends.pop(key, None)
        for entry in entries:
            del self._data[entry]
        return entries

    def clear(self) -> None:
        for index in (self._data, self._absolute, self._longest, self._suffixes, self._ends):
            index.clear()

    def __len__(self) -> int:
        return len(self._data)


def _threshold(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"WholeValuePromotion.threshold must be in [0, 1], got {value!r}")


@attrs.frozen
class WholeValuePromotion:
    """Fetch and keep a whole value once the byte ranges read from it reach ``threshold`` of its
    size. For sharded arrays read shard by shard, this turns many range requests into one."""

    threshold: float = attrs.field(default=0.5, validator=_threshold)

    def should_promote(self, range_bytes: int, size: int) -> bool:
        return range_bytes >= self.threshold * size
