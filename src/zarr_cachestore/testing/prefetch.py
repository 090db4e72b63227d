"""The contract of a prefetcher, as one call for a third party's test suite.

>>> from zarr_cachestore import Sequential
>>> from zarr_cachestore.testing.prefetch import check_prefetch_policy
>>> check_prefetch_policy(Sequential)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence

from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest

from zarr_cachestore.chunks import parse_chunk_key
from zarr_cachestore.grid import ChunkGrid
from zarr_cachestore.prefetch import Access, Fetch, PrefetchPolicy
from zarr_cachestore.registry import resolve

__all__ = ["GRIDS", "access_scripts", "check_prefetch_policy"]

GRIDS = (
    ChunkGrid("a", (64, 48), (8, 8)),
    ChunkGrid("group/b", (40, 40, 40), (5, 5, 5), (10, 10, 10), "default", "."),
    ChunkGrid("v2dot", (30, 30), (3, 3), encoding="v2", separator="."),
    ChunkGrid("v2/slash", (30, 30), (3, 3), encoding="v2", separator="/"),
)


def _along(grid: ChunkGrid, axis: int, step: int, start: tuple[int, ...]) -> Iterator[Access]:
    coords = list(start)
    while grid.contains(tuple(coords)):
        yield Access.of(grid.key_for(tuple(coords)), grid)
        coords[axis] += step


def access_scripts(seed: int = 0) -> dict[str, list[Access]]:
    """Named sequences of accesses that every prefetcher must answer correctly."""
    rng = random.Random(seed)
    a, sharded, v2dot, v2slash = GRIDS
    last = tuple(n - 1 for n in sharded.grid_shape)
    scripts = {
        "forward along axis 0": list(_along(a, 0, 1, (0, 2))),
        "backward along axis 1": list(_along(a, 1, -1, (3, a.grid_shape[1] - 1))),
        "sharded, backward from the last shard": list(_along(sharded, 2, -1, last)),
        "v2 keys, both separators": [*_along(v2dot, 1, 1, (4, 0)), *_along(v2slash, 0, 1, (0, 9))],
        "random": [
            Access.of(g.key_for(tuple(rng.randrange(n) for n in g.grid_shape)), g)
            for g in rng.choices(GRIDS, k=60)
        ],
        "ranges of one shard": [
            Access.of(sharded.key_for((1, 1, 1)), sharded, r)
            for r in (SuffixByteRequest(16), RangeByteRequest(0, 10), OffsetByteRequest(10))
        ],
        "keys without a grid or chunk": [
            Access.of(key) for key in ("a/zarr.json", "a/c/0/0", "x/1.2", "", "group/zarr.json")
        ],
    }
    scans = [list(_along(a, 0, 1, (0, 0))), list(_along(v2dot, 1, 1, (0, 0)))]
    scripts["two arrays interleaved"] = [x for pair in zip(*scans, strict=False) for x in pair]
    return scripts


def _check_answer(name: str, access: Access, answer: Sequence[Fetch]) -> None:
    where = f"{name!r}, after {access.key!r}"
    assert isinstance(answer, Sequence), f"{where}: answered {answer!r}, not a sequence"
    assert len(set(answer)) == len(answer), f"{where}: the same fetch twice in {answer}"
    for fetch in answer:
        assert isinstance(fetch, Fetch), f"{where}: {fetch!r} is not a Fetch"
        assert isinstance(fetch.key, str), f"{where}: {fetch!r} has a key that is not a str"
        ranges = (RangeByteRequest, OffsetByteRequest, SuffixByteRequest)
        assert fetch.byte_range is None or isinstance(fetch.byte_range, ranges), where
        assert fetch != Fetch(access.key), f"{where}: fetches the key just read"
        grid = access.grid
        if grid is not None and access.chunk is not None:
            chunk = parse_chunk_key(fetch.key, ndim=grid.ndim)
            if chunk is not None and chunk.array == grid.path:
                assert grid.chunk_of(fetch.key) is not None, (
                    f"{where}: {fetch.key!r} is outside the grid {grid.grid_shape}"
                )


def check_prefetch_policy(policy_factory: Callable[[], PrefetchPolicy]) -> None:
    """Assert that the policies ``policy_factory`` makes keep the contract of a prefetcher.

    Over :func:`access_scripts`, every answer is a sequence of distinct :class:`Fetch`, never
    the whole key just read, and never a chunk of the read array outside its grid; after
    ``clear()`` a policy answers as a new one does (so answers must depend on accesses only).
    The policy is found by ``resolve("prefetch", ...)`` as the store finds it.
    """
    scripts = access_scripts()
    policy = resolve("prefetch", policy_factory())
    assert isinstance(policy, PrefetchPolicy)
    first: list[list[Fetch]] = []
    for name, accesses in scripts.items():
        for access in accesses:
            answer = policy.on_access(access)
            _check_answer(name, access, answer)
            first.append(list(answer))
    policy.clear()
    again = [list(policy.on_access(a)) for accesses in scripts.values() for a in accesses]
    assert again == first, "after clear() the policy answers otherwise than a new one"
