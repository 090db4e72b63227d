"""Seeded zarr workloads: the chunk reads of typical array access patterns, as traces.

Each generator returns a :class:`Trace` whose names are zarr v3 chunk keys (``array/c/i/j``),
so a replay hands policies the keys ``CacheStore`` would see. Chunks are read in C order
within each selection, as zarr does. Every chunk keeps one size for the whole trace: all
``chunk_size``, or lognormal with mean ``chunk_size`` (compressed chunks) with
``size_dist="lognormal"``.

* :func:`sliding_windows`: windows moving along one axis, overlapping, with jumps back.
* :func:`panning`: a viewport panned across a 2-D grid, with jumps to bookmarks.
* :func:`random_patches`: epochs of ML training over a fixed set of patches, reshuffled.
* :func:`time_series`: time series drilled at popular locations of a (time, y, x) grid.
* :func:`zipf_chunks`: independent reads of chunks with Zipf popularity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from zarr_cachestore.simulate.synthetic import SizeDist, _zipf_ranks, object_sizes
from zarr_cachestore.simulate.trace import Trace

__all__ = [
    "WORKLOADS",
    "panning",
    "random_patches",
    "sliding_windows",
    "time_series",
    "zipf_chunks",
]

Coords = tuple[int, ...]


def _box(corner: Sequence[int], shape: Sequence[int]) -> list[Coords]:
    """The chunks of a box, in C order."""
    axes = [range(c, c + s) for c, s in zip(corner, shape, strict=True)]
    grids = np.meshgrid(*axes, indexing="ij")
    return list(zip(*(g.ravel().tolist() for g in grids), strict=True))


def _trace(
    reads: list[Coords],
    grid: Sequence[int],
    *,
    array: str,
    name: str,
    rng: np.random.Generator,
    chunk_size: int,
    size_dist: SizeDist,
    sigma: float,
) -> Trace:
    """The trace of ``reads`` (chunk coordinates in ``grid``) of the array at ``array``."""
    flat = np.ravel_multi_index(np.array(reads, dtype=np.int64).T, tuple(grid))
    used, ids = np.unique(flat, return_inverse=True)
    sizes = object_sizes(int(np.prod(grid)), rng, size=chunk_size, size_dist=size_dist, sigma=sigma)
    coords = np.stack(np.unravel_index(used, tuple(grid)), axis=1).tolist()
    names = ["/".join([array, "c", *map(str, c)]) for c in coords]
    return Trace(ids.astype(np.int64), sizes[flat], name=name, names=names)


def _clamp(corner: Sequence[int], shape: Sequence[int], grid: Sequence[int]) -> list[int]:
    return [min(max(c, 0), g - s) for c, s, g in zip(corner, shape, grid, strict=True)]


def sliding_windows(
    n_windows: int = 72,
    *,
    length: int = 192,
    window: int = 8,
    step: int = 4,
    revisit_every: int = 4,
    revisit_length: int = 3,
    hotspots: int = 4,
    hot_share: float = 0.8,
    seed: int = 0,
    chunk_size: int = 1 << 20,
    size_dist: SizeDist = "fixed",
    sigma: float = 0.5,
) -> Trace:
    """Windows of ``window`` chunks moving forward ``step`` chunks at a time along a series of
    ``length`` chunks (wrapping round), as a viewer of a long time series reads it.

    After every ``revisit_every`` windows the reader jumps back to a window already seen and
    reads ``revisit_length`` windows from there: with probability ``hot_share`` to one of
    ``hotspots`` fixed places (the first favoured most, weights 1, 1/2, 1/3, ...), else
    anywhere seen. Keys are ``series/c/i/0``.
    """
    if not 1 <= step <= window <= length:
        raise ValueError("need 1 <= step <= window <= length")
    rng = np.random.default_rng(seed)
    starts = list(range(0, length - window + 1, step))
    hot = rng.choice(len(starts), size=min(hotspots, len(starts)), replace=False).tolist()
    weights = 1 / np.arange(1, len(hot) + 1)
    order: list[int] = []
    walk = seen = 0
    while len(order) < n_windows:
        order.append(walk)
        seen = max(seen, walk)
        walk = (walk + 1) % len(starts)
        if len(order) % (revisit_every + revisit_length) == revisit_every:
            known = [h for h in hot if h <= seen]
            if known and rng.random() < hot_share:
                w = weights[: len(known)]
                target = int(rng.choice(known, p=w / w.sum()))
            else:
                target = int(rng.integers(0, seen + 1))
            order += [min(target + i, len(starts) - 1) for i in range(revisit_length)]
    reads: list[Coords] = [
        (i, 0) for w in order[:n_windows] for i in range(starts[w], starts[w] + window)
    ]
    return _trace(
        reads,
        (length, 1),
        array="series",
        name=f"sliding_windows(window={window}, step={step}, length={length})",
        rng=rng,
        chunk_size=chunk_size,
        size_dist=size_dist,
        sigma=sigma,
    )


_MOVES = ((0, 1), (0, -1), (1, 0), (-1, 0))


def panning(
    n_views: int = 300,
    *,
    grid: tuple[int, int] = (32, 32),
    view: tuple[int, int] = (4, 4),
    keep_direction: float = 0.8,
    bookmarks: int = 4,
    jump: float = 0.05,
    seed: int = 0,
    chunk_size: int = 1 << 20,
    size_dist: SizeDist = "fixed",
    sigma: float = 0.5,
) -> Trace:
    """A ``view`` of chunks panned one chunk at a time across a 2-D ``grid``, as a map viewer.

    Each move keeps the previous direction with probability ``keep_direction`` (else a random
    one of four; at an edge the view stops there). With probability ``jump`` a move instead
    jumps to one of ``bookmarks`` fixed places, the first favoured most. Keys are
    ``map/c/y/x``.
    """
    rng = np.random.default_rng(seed)
    places = [
        [int(rng.integers(0, g - v + 1)) for g, v in zip(grid, view, strict=True)]
        for _ in range(bookmarks)
    ]
    weights = 1 / np.arange(1, bookmarks + 1)
    corner = list(places[0]) if places else [0, 0]
    direction = _MOVES[0]
    reads: list[Coords] = []
    for _ in range(n_views):
        reads += _box(corner, view)
        if places and rng.random() < jump:
            corner = list(places[int(rng.choice(bookmarks, p=weights / weights.sum()))])
            continue
        if rng.random() >= keep_direction:
            direction = _MOVES[int(rng.integers(0, 4))]
        moved = [c + d for c, d in zip(corner, direction, strict=True)]
        corner = _clamp(moved, view, grid)
    return _trace(
        reads,
        grid,
        array="map",
        name=f"panning(view={view[0]}x{view[1]}, grid={grid[0]}x{grid[1]})",
        rng=rng,
        chunk_size=chunk_size,
        size_dist=size_dist,
        sigma=sigma,
    )


def random_patches(
    epochs: int = 4,
    *,
    patches: int = 150,
    grid: tuple[int, int] = (32, 32),
    patch: tuple[int, int] = (2, 2),
    seed: int = 0,
    chunk_size: int = 1 << 20,
    size_dist: SizeDist = "fixed",
    sigma: float = 0.5,
) -> Trace:
    """``epochs`` passes over a training set of ``patches`` patches of ``patch`` chunks.

    Patch corners are drawn once, uniformly over a 2-D ``grid`` (patches may overlap); every
    epoch reads all of them in a fresh random order. Keys are ``images/c/y/x``.
    """
    rng = np.random.default_rng(seed)
    corners = [
        [int(rng.integers(0, g - p + 1)) for g, p in zip(grid, patch, strict=True)]
        for _ in range(patches)
    ]
    reads: list[Coords] = []
    for _ in range(epochs):
        for i in rng.permutation(patches).tolist():
            reads += _box(corners[i], patch)
    return _trace(
        reads,
        grid,
        array="images",
        name=f"random_patches(patches={patches}, patch={patch[0]}x{patch[1]})",
        rng=rng,
        chunk_size=chunk_size,
        size_dist=size_dist,
        sigma=sigma,
    )


def time_series(
    n_queries: int = 200,
    *,
    grid: tuple[int, int, int] = (48, 16, 16),
    alpha: float = 0.8,
    min_length: int = 12,
    seed: int = 0,
    chunk_size: int = 1 << 20,
    size_dist: SizeDist = "fixed",
    sigma: float = 0.5,
) -> Trace:
    """Time series at locations of a ``(time, y, x)`` chunk grid, as pixel drills read them.

    Each query picks a location (y, x) with Zipf(``alpha``) popularity and reads a random span
    of at least ``min_length`` time chunks there, oldest first. Keys are ``cube/c/t/y/x``.
    """
    n_time, ny, nx = grid
    if not 1 <= min_length <= n_time:
        raise ValueError("need 1 <= min_length <= the time chunks of the grid")
    rng = np.random.default_rng(seed)
    places = rng.permutation(ny * nx)[_zipf_ranks(n_queries, ny * nx, alpha, rng)]
    reads: list[Coords] = []
    for place in places.tolist():
        y, x = divmod(place, nx)
        span = int(rng.integers(min_length, n_time + 1))
        first = int(rng.integers(0, n_time - span + 1))
        reads += [(t, y, x) for t in range(first, first + span)]
    return _trace(
        reads,
        grid,
        array="cube",
        name=f"time_series(grid={'x'.join(map(str, grid))}, alpha={alpha})",
        rng=rng,
        chunk_size=chunk_size,
        size_dist=size_dist,
        sigma=sigma,
    )


def zipf_chunks(
    n_requests: int = 5000,
    *,
    grid: tuple[int, int] = (64, 64),
    alpha: float = 0.9,
    seed: int = 0,
    chunk_size: int = 1 << 20,
    size_dist: SizeDist = "fixed",
    sigma: float = 0.5,
) -> Trace:
    """Independent reads of single chunks of a 2-D ``grid``, with Zipf(``alpha``) popularity
    over chunks placed at random (popularity has no spatial pattern). Keys are ``tiles/c/y/x``.
    """
    rng = np.random.default_rng(seed)
    n = grid[0] * grid[1]
    chunks = rng.permutation(n)[_zipf_ranks(n_requests, n, alpha, rng)]
    reads: list[Coords] = [divmod(c, grid[1]) for c in chunks.tolist()]
    return _trace(
        reads,
        grid,
        array="tiles",
        name=f"zipf_chunks(alpha={alpha}, grid={grid[0]}x{grid[1]})",
        rng=rng,
        chunk_size=chunk_size,
        size_dist=size_dist,
        sigma=sigma,
    )


#: Every generator by name, at its default parameters (``seed`` may be given).
WORKLOADS: dict[str, Callable[..., Trace]] = {
    "windows": sliding_windows,
    "panning": panning,
    "patches": random_patches,
    "timeseries": time_series,
    "zipf-chunks": zipf_chunks,
}
