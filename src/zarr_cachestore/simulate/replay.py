"""Replaying a trace through eviction policies at several cache sizes.

The semantics follow libCacheSim's ``cache_get_base``: every request is a lookup. A hit calls
``on_hit``. On a miss the object is inserted, after ``evict()`` has removed entries until it
fits, unless it is larger than the cache, in which case nothing is inserted or evicted. A held
object keeps the size it was inserted with, even if a later request names another size; byte
miss ratios count each request at its own size.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import attrs

from zarr_cachestore.protocols import CapacityAware, EvictionPolicy
from zarr_cachestore.registry import available, resolve
from zarr_cachestore.simulate.trace import Trace

__all__ = ["Result", "label_of", "resolve_sizes", "simulate"]

CacheSize = int | float
Progress = Callable[[int], object]


@attrs.frozen
class Result:
    """Outcome of one replay: one policy at one cache size."""

    policy: str
    cache_size: int
    fraction: float  # cache size / working-set bytes
    requests: int
    bytes_requested: int
    misses: int
    miss_bytes: int

    @property
    def miss_ratio(self) -> float:
        return self.misses / self.requests if self.requests else 0.0

    @property
    def byte_miss_ratio(self) -> float:
        return self.miss_bytes / self.bytes_requested if self.bytes_requested else 0.0


@attrs.define
class _Run:
    """The live state of one replay."""

    label: str
    policy: EvictionPolicy
    capacity: int
    held: dict[Hashable, int] = attrs.Factory(dict)
    used: int = 0
    misses: int = 0
    miss_bytes: int = 0


def _replay(run: _Run, keys: list[int], sizes: list[int]) -> None:
    """Advance ``run`` over one chunk of requests (the hot loop)."""
    held = run.held
    pop = held.pop
    policy = run.policy
    on_hit, on_insert, evict = policy.on_hit, policy.on_insert, policy.evict
    before_insert = getattr(policy, "before_insert", None)
    capacity, used, misses, miss_bytes = run.capacity, run.used, 0, 0
    for key, size in zip(keys, sizes):  # noqa: B905 (equal lengths by construction)
        if key in held:
            on_hit(key)
            continue
        misses += 1
        miss_bytes += size
        if size > capacity:
            continue
        if before_insert is not None:
            before_insert(key, size)
        used += size
        while used > capacity:
            used -= pop(evict())
        held[key] = size
        on_insert(key, size)
    run.used, run.misses, run.miss_bytes = used, run.misses + misses, run.miss_bytes + miss_bytes


def _advance(run: _Run, keys: list[int], sizes: list[int]) -> None:
    try:
        _replay(run, keys, sizes)
    except LookupError as exc:
        raise RuntimeError(
            f"eviction policy {run.label!r} lost track of its entries "
            f"(evict() failed or returned a key it does not hold): {exc!r}"
        ) from exc


def label_of(spec: Any) -> str:
    """A display name for a policy spec: the name itself, or the class name."""
    if isinstance(spec, str):
        return spec
    return spec.__name__ if isinstance(spec, type) else type(spec).__name__


def _fresh(spec: Any, capacity: int) -> EvictionPolicy:
    """A new, empty policy object for ``spec``, told its capacity; instances are deep-copied."""
    if not isinstance(spec, str | type):
        spec = copy.deepcopy(spec)
    policy: EvictionPolicy = resolve("eviction", spec)
    if isinstance(policy, CapacityAware):
        policy.set_capacity(capacity)
    return policy


def resolve_sizes(sizes: Iterable[CacheSize], working_set_bytes: int) -> list[int]:
    """Cache sizes in bytes: ints are bytes, floats fractions of the working set (truncated)."""
    resolved = []
    for size in sizes:
        if isinstance(size, bool) or size < 0:
            raise ValueError(f"invalid cache size {size!r}")
        if isinstance(size, float):
            if size <= 0:
                raise ValueError(f"a cache size fraction must be > 0, got {size!r}")
            size = int(size * working_set_bytes)
        resolved.append(int(size))
    return resolved


def simulate(
    trace: Trace | Iterable[tuple[Hashable, int]],
    policy_spec: Any | Sequence[Any] | None,
    cache_sizes: Iterable[CacheSize],
    *,
    progress: Progress | None = None,
    chunk: int = 1 << 16,
) -> list[Result]:
    """Replay ``trace`` through each policy at each cache size; one :class:`Result` per pair.

    ``policy_spec`` is a policy name, class or instance (as ``CacheStore`` accepts), a list of
    them, or ``None`` for every available policy. Each replay starts from a fresh policy: names
    and classes are built anew, instances deep-copied. ``cache_sizes`` are bytes (``int``) or
    fractions of the trace's working-set bytes (``float``). ``progress`` is called with the
    number of requests replayed, chunk by chunk.
    """
    if not isinstance(trace, Trace):
        trace = Trace.from_records(trace)
    specs = _specs(policy_spec)
    working_set = trace.working_set().bytes
    capacities = resolve_sizes(cache_sizes, working_set)
    runs = [_Run(label_of(s), _fresh(s, c), c) for s in specs for c in capacities]
    for keys, sizes in trace.chunks(chunk, named=True):
        for run in runs:
            _advance(run, keys, sizes)
            if progress is not None:
                progress(len(keys))
    requests, total = len(trace), trace.total_bytes
    return [
        Result(
            run.label,
            run.capacity,
            run.capacity / working_set if working_set else 0.0,
            requests,
            total,
            run.misses,
            run.miss_bytes,
        )
        for run in runs
    ]


def _specs(policy_spec: Any | Sequence[Any] | None) -> list[Any]:
    if policy_spec is None:
        return list(available("eviction"))
    if isinstance(policy_spec, str) or not isinstance(policy_spec, Sequence):
        return [policy_spec]
    return list(policy_spec)
