"""Prefetchers: what each built-in asks for after a sequence of chunk reads, and why."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

import hypothesis.strategies as st
import pytest
from hypothesis import given
from zarr.abc.store import RangeByteRequest

from zarr_cachestore import (
    Access,
    ChunkGrid,
    ChunkPrefetcher,
    Fetch,
    Neighbors,
    NoPrefetch,
    PrefetchPolicy,
    Sequential,
)
from zarr_cachestore.testing.prefetch import check_prefetch_policy

GRID = ChunkGrid("a", (80, 60), (10, 10))  # an 8 x 6 grid of chunks
V2 = ChunkGrid("old", (80, 60), (10, 10), encoding="v2", separator=".")
Coords = tuple[int, ...]


def read(policy: PrefetchPolicy, coords: Iterable[Coords], grid: ChunkGrid = GRID) -> list[Coords]:
    """Read ``coords`` in order; the coordinates asked for after the last read."""
    answer: Sequence[Fetch] = []
    for c in coords:
        answer = policy.on_access(Access.of(grid.key_for(c), grid))
    return [coords_of(fetch, grid) for fetch in answer]


def coords_of(fetch: Fetch, grid: ChunkGrid = GRID) -> Coords:
    assert fetch.byte_range is None
    chunk = grid.chunk_of(fetch.key)
    assert chunk is not None, f"{fetch.key} is not a key of {grid.path}"
    return chunk.coords


# -- Sequential -------------------------------------------------------------------------------


def test_sequential_reads_ahead_once_two_steps_agree() -> None:
    policy = Sequential(n=3)
    assert read(policy, [(0, 2)]) == []
    assert read(policy, [(1, 2)]) == []  # one step is no direction yet
    assert read(policy, [(2, 2)]) == [(3, 2), (4, 2), (5, 2)]
    assert read(policy, [(3, 2)]) == [(6, 2)]  # (4, 2) and (5, 2) were asked already


def test_sequential_backward_along_axis_1() -> None:
    assert read(Sequential(n=2), [(4, 5), (4, 4), (4, 3)]) == [(4, 2), (4, 1)]


def test_sequential_follows_a_window_sliding_along_axis_0() -> None:
    policy = Sequential(n=2)
    window = [(i, j) for i in range(3) for j in (2, 3)]  # rows 0-2 of columns 2-3, in C order
    assert read(policy, window[:4]) == []
    assert read(policy, [window[4]]) == [(3, 2), (4, 2)]
    assert read(policy, [window[5]]) == [(3, 3), (4, 3)]
    assert read(policy, [(1, 2), (1, 3), (2, 2), (2, 3), (3, 2)]) == [(5, 2)]  # slid one row


def test_the_run_read_last_wins() -> None:
    policy = Sequential(n=1)
    read(policy, [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0)])
    assert read(policy, [(2, 1), (2, 2)]) == [(2, 3)]  # not (3, 2): (2, 1) was read after (1, 2)


def test_sequential_stops_at_the_edge_of_the_grid() -> None:
    assert read(Sequential(n=4), [(0, 2), (0, 3), (0, 4)]) == [(0, 5)]
    assert read(Sequential(n=4), [(5, 3), (6, 3), (7, 3)]) == []


@pytest.mark.parametrize(
    "reads",
    [
        [(0, 0), (0, 1), (1, 1)],  # the direction turned
        [(0, 0), (1, 1), (2, 2)],  # diagonal: more than one axis moves
        [(0, 0), (1, 0), (3, 0)],  # a gap
    ],
)
def test_sequential_asks_nothing_without_a_direction(reads: list[Coords]) -> None:
    assert read(Sequential(), reads) == []


def test_sequential_keeps_interleaved_arrays_apart() -> None:
    policy = Sequential(n=1)
    other = ChunkGrid("b", (80, 60), (10, 10))
    for i in range(2):
        read(policy, [(i, 0)])
        read(policy, [(0, 5 - i)], other)
    assert read(policy, [(2, 0)]) == [(3, 0)]
    assert read(policy, [(0, 3)], other) == [(0, 2)]


def test_sequential_on_v2_keys() -> None:
    policy = Sequential(n=2)
    answer = [policy.on_access(Access.of(f"old/{i}.1", V2)) for i in range(3)][-1]
    assert answer == [Fetch("old/3.1"), Fetch("old/4.1")]


def test_reads_of_other_ranges_of_the_same_shard_do_not_break_a_run() -> None:
    sharded = ChunkGrid("s", (40, 40), (5, 5), (10, 10))  # a 4 x 4 grid of shards
    policy = Sequential(n=1)
    for i, r in [(0, None), (1, RangeByteRequest(0, 8)), (1, RangeByteRequest(8, 16))]:
        assert policy.on_access(Access.of(sharded.key_for((i, 0)), sharded, r)) == []
    assert policy.on_access(Access.of("s/c/2/0", sharded)) == [Fetch("s/c/3/0")]


def test_sequential_asks_nothing_without_a_grid() -> None:
    policy = Sequential()
    assert [policy.on_access(Access.of(f"a/c/{i}/0")) for i in range(4)] == [[]] * 4


# -- Neighbors --------------------------------------------------------------------------------


def test_neighbors_nearest_first() -> None:
    assert read(Neighbors(), [(3, 3)]) == [
        (2, 3), (3, 2), (3, 4), (4, 3),  # sharing a face
        (2, 2), (2, 4), (4, 2), (4, 4),  # sharing a corner
    ]  # fmt: skip


def test_neighbors_stay_inside_the_grid() -> None:
    assert read(Neighbors(), [(0, 0)]) == [(0, 1), (1, 0), (1, 1)]
    assert read(Neighbors(), [(7, 5)]) == [(6, 5), (7, 4), (6, 4)]


def test_neighbors_ask_only_for_what_the_window_has_not_asked() -> None:
    policy = Neighbors()
    read(policy, [(3, 3)])  # asked for (2..4, 2..4)
    assert read(policy, [(3, 4)]) == [(3, 5), (2, 5), (4, 5)]


def test_neighbors_radius_and_limit() -> None:
    assert len(read(Neighbors(radius=2, limit=100), [(3, 3)])) == 5 * 5 - 1
    assert read(Neighbors(radius=2, limit=4), [(3, 3)]) == [(2, 3), (3, 2), (3, 4), (4, 3)]


def test_a_key_is_asked_again_once_it_left_the_memory() -> None:
    policy = Neighbors(memory=4)
    assert read(policy, [(0, 0)]) == [(0, 1), (1, 0), (1, 1)]
    read(policy, [(7, 5)])  # four keys: the read and its three neighbours
    assert read(policy, [(0, 0)]) == [(0, 1), (1, 0), (1, 1)]


def test_clear_forgets_history_and_memory() -> None:
    policy = Sequential(n=1)
    assert read(policy, [(0, 0), (1, 0), (2, 0)]) == [(3, 0)]
    policy.clear()
    assert read(policy, [(2, 0)]) == []
    assert read(policy, [(0, 0), (1, 0), (2, 0)]) == [(3, 0)]


# -- the base class, NoPrefetch, bad input ----------------------------------------------------


class TwoRowsDown(ChunkPrefetcher):
    """Everything it yields but one chunk is dropped by the base class."""

    def next_coords(
        self, chunk: Coords, grid: ChunkGrid, history: Mapping[Coords, int]
    ) -> list[Coords]:
        i, j = chunk
        return [chunk, (i + 1, j), (i + 1, j), (i + 2, j), (-1, j), (i, 99)]


def test_the_base_class_drops_the_read_chunk_repeats_and_coordinates_outside_the_grid() -> None:
    assert read(TwoRowsDown(), [(5, 0)]) == [(6, 0), (7, 0)]
    assert read(TwoRowsDown(limit=1), [(5, 0)]) == [(6, 0)]
    assert read(TwoRowsDown(), [(6, 0)]) == [(7, 0)]


def test_no_prefetch_asks_for_nothing() -> None:
    assert read(NoPrefetch(), [(0, 0), (1, 0), (2, 0)]) == []


def test_an_access_with_the_grid_of_another_array_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk of array 'b', not of 'a'"):
        Access.of("b/c/0/0", GRID)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Sequential(n=0), "need n >= 1 and history >= 3, got 0 and 16"),
        (lambda: Sequential(history=2), "need n >= 1 and history >= 3, got 4 and 2"),
        (lambda: Neighbors(radius=0), "radius must be >= 1, got 0"),
    ],
)
def test_bad_settings_are_refused(make: type, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


# -- properties -------------------------------------------------------------------------------

grids = st.lists(st.tuples(st.integers(1, 40), st.integers(1, 7)), min_size=1, max_size=3).map(
    lambda dims: ChunkGrid("x", tuple(n for n, _ in dims), tuple(c for _, c in dims))
)
policies = st.sampled_from(
    [Sequential(), Sequential(n=1), Neighbors(), Neighbors(radius=2, limit=7)]
)


@given(grid=grids, policy=policies, data=st.data())
def test_answers_are_keys_of_the_grid_never_the_read_one_and_bounded(
    grid: ChunkGrid, policy: ChunkPrefetcher, data: st.DataObject
) -> None:
    policy.clear()
    coords = st.tuples(*(st.integers(0, n - 1) for n in grid.grid_shape))
    for c in data.draw(st.lists(coords, max_size=30)):
        answer = policy.on_access(Access.of(grid.key_for(c), grid))
        assert len(answer) <= policy.limit
        assert len(set(answer)) == len(answer)
        assert all(grid.chunk_of(f.key) is not None and f.byte_range is None for f in answer)
        assert Fetch(grid.key_for(c)) not in answer


@given(
    grid=grids,
    n=st.integers(1, 5),
    data=st.data(),
)
def test_a_straight_scan_asks_for_the_line_ahead_once(
    grid: ChunkGrid, n: int, data: st.DataObject
) -> None:
    axis = data.draw(st.integers(0, grid.ndim - 1))
    sign = data.draw(st.sampled_from([1, -1]))
    start = data.draw(st.tuples(*(st.integers(0, g - 1) for g in grid.grid_shape)))

    def point(k: int) -> Coords:
        return tuple(c + (k * sign if i == axis else 0) for i, c in enumerate(start))

    line = list(itertools.takewhile(grid.contains, map(point, itertools.count())))
    policy = Sequential(n=n)
    answers = [read(policy, [p], grid) for p in line]
    # The model: the third read shows the direction and asks for the n chunks after it; each
    # later read p_k asks only for p_(k+n), the one chunk not asked yet; never past the edge.
    expected = [
        [],
        [],
        line[3 : 3 + n],
        *([line[k + n]] if k + n < len(line) else [] for k in range(3, len(line))),
    ]
    assert answers == expected[: len(line)]


# -- the contract, as a third party checks it -------------------------------------------------


@pytest.mark.parametrize(
    "factory",
    [NoPrefetch, Sequential, Neighbors, lambda: Sequential(n=1), lambda: Neighbors(2, limit=50)],
)
def test_the_built_ins_keep_the_contract(factory: type[PrefetchPolicy]) -> None:
    check_prefetch_policy(factory)


class FetchesItself(NoPrefetch):
    def on_access(self, access: Access) -> list[Fetch]:
        return [Fetch(access.key)]


class BeyondTheEdge(ChunkPrefetcher):
    def on_access(self, access: Access) -> list[Fetch]:
        grid = access.grid
        if grid is None or grid.encoding != "default":
            return []
        name = "c" + "".join(f"{grid.separator}{n}" for n in grid.grid_shape)
        return [Fetch(f"{grid.path}/{name}")]


class NeverForgets(Sequential):
    def clear(self) -> None:
        pass


class NoClear:
    def on_access(self, access: Access) -> list[Fetch]:
        return []


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (FetchesItself, "fetches the key just read"),
        (BeyondTheEdge, "outside the grid"),
        (NeverForgets, r"after clear\(\)"),
        (NoClear, "lacks clear"),
    ],
)
def test_the_contract_check_catches_a_broken_prefetcher(factory: type, message: str) -> None:
    with pytest.raises((AssertionError, TypeError), match=message):
        check_prefetch_policy(factory)
