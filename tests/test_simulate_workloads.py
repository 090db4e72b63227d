"""The zarr workload generators: seeded, chunk keys that parse, the access patterns promised."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from zarr_cachestore.chunks import parse_chunk_key
from zarr_cachestore.simulate import Trace, simulate
from zarr_cachestore.simulate.workloads import (
    WORKLOADS,
    panning,
    random_patches,
    sliding_windows,
    time_series,
    zipf_chunks,
)


def coords(trace: Trace) -> list[tuple[int, ...]]:
    assert trace.names is not None
    parsed = [parse_chunk_key(trace.names[k]) for k in trace.keys.tolist()]
    return [p.coords for p in parsed if p is not None]


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_seeded_named_by_chunk_keys_with_one_size_per_chunk(name: str) -> None:
    make = WORKLOADS[name]
    first, again, other = make(seed=1), make(seed=1), make(seed=2)
    assert first.keys.tolist() == again.keys.tolist()
    assert first.names == again.names
    assert first.keys.tolist() != other.keys.tolist()
    assert len(coords(first)) == len(first)  # every name is a chunk key
    sizes: dict[int, set[int]] = {}
    for key, size in first:
        sizes.setdefault(key, set()).add(size)
    assert all(len(s) == 1 for s in sizes.values())


def test_lognormal_chunk_sizes_vary_around_the_mean() -> None:
    trace = panning(seed=3, size_dist="lognormal", chunk_size=1000)
    sizes = trace.sizes
    assert len(set(sizes.tolist())) > 100
    assert 700 < sizes.mean() < 1300


def test_sliding_windows_overlap_and_move_forward() -> None:
    trace = sliding_windows(7, length=100, window=8, step=4, revisit_every=100)
    starts = [c[0] for c in coords(trace)][::8]
    assert starts == [0, 4, 8, 12, 16, 20, 24]
    assert coords(trace)[:9] == [(i, 0) for i in range(8)] + [(4, 0)]


def test_sliding_windows_jump_back_after_every_few_windows() -> None:
    trace = sliding_windows(14, length=200, window=8, step=4, revisit_every=4, revisit_length=3)
    starts = [c[0] for c in coords(trace)][::8]
    assert starts[:4] == [0, 4, 8, 12]
    assert starts[4] <= 12  # a jump back to a window seen before
    assert starts[5:7] == [starts[4] + 4, starts[4] + 8]
    assert starts[7] == 16  # the walk goes on


def test_panning_reads_whole_views_that_move_one_chunk() -> None:
    trace = panning(50, grid=(20, 20), view=(3, 3), jump=0.0, seed=4)
    views = [coords(trace)[i : i + 9] for i in range(0, len(trace), 9)]
    corners = [v[0] for v in views]
    for view, (y, x) in zip(views, corners, strict=True):
        assert view == [(y + i, x + j) for i in range(3) for j in range(3)]  # C order
    steps = {max(abs(a - b) for a, b in zip(p, q, strict=True)) for p, q in pairwise(corners)}
    assert steps <= {0, 1}


def test_random_patches_read_every_patch_once_per_epoch() -> None:
    trace = random_patches(3, patches=20, patch=(2, 2), seed=5)
    epochs = np.array_split(trace.keys, 3)
    assert all(sorted(e.tolist()) == sorted(epochs[0].tolist()) for e in epochs)
    assert epochs[0].tolist() != epochs[1].tolist()  # reshuffled


def test_time_series_drill_along_time_at_one_place() -> None:
    trace = time_series(30, grid=(20, 4, 4), min_length=5, seed=6)
    read = coords(trace)
    runs = [read[0]]
    for prev, cur in pairwise(read):
        if cur[1:] != prev[1:] or cur[0] != prev[0] + 1:
            runs.append(cur)
    assert len(runs) <= 30  # each query is one consecutive run along time


def test_zipf_chunks_popular_chunks_are_read_most() -> None:
    trace = zipf_chunks(5000, grid=(16, 16), alpha=1.2, seed=7)
    counts = np.bincount(trace.keys)
    assert counts.max() > 10 * np.median(counts)


def test_replay_hands_policies_the_chunk_keys() -> None:
    seen: list[object] = []

    class Spy:
        def __init__(self) -> None:
            self.keys: list[object] = []

        def on_insert(self, key: object, size: int) -> None:
            seen.append(key)
            self.keys.append(key)

        def on_hit(self, key: object) -> None:
            pass

        def on_remove(self, key: object) -> None:
            self.keys.remove(key)

        def evict(self) -> object:
            return self.keys.pop(0)

        def peek(self) -> object:
            return self.keys[0] if self.keys else None

        def clear(self) -> None:
            self.keys.clear()

        def __len__(self) -> int:
            return len(self.keys)

    trace = sliding_windows(3, revisit_every=100)
    simulate(trace, Spy, [0.5])
    assert seen[:3] == ["series/c/0/0", "series/c/1/0", "series/c/2/0"]


def test_bad_window_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="step <= window"):
        sliding_windows(step=9, window=8)
