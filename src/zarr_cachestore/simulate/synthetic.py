"""Seeded synthetic traces: Zipf popularity, Zipf with sequential scans, and loops.

Every object keeps one size for the whole trace, drawn by :func:`object_sizes`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from zarr_cachestore.simulate.trace import Trace

__all__ = ["SizeDist", "loop", "object_sizes", "scan", "zipf"]

SizeDist = Literal["fixed", "lognormal"]
MAX_SIZE = 0xFFFFFFFF  # what oracleGeneral can hold


def object_sizes(
    n_objects: int,
    rng: np.random.Generator,
    *,
    size: int = 4096,
    size_dist: SizeDist = "fixed",
    sigma: float = 1.0,
) -> np.ndarray:
    """Sizes of ``n_objects`` objects: all ``size``, or lognormal with mean ``size``."""
    if size < 1:
        raise ValueError("size must be >= 1")
    if size_dist == "fixed":
        return np.full(n_objects, size, dtype=np.int64)
    if size_dist == "lognormal":
        mu = np.log(size) - sigma**2 / 2
        drawn = np.rint(rng.lognormal(mu, sigma, n_objects))
        clipped: np.ndarray = np.clip(drawn, 1, MAX_SIZE).astype(np.int64)
        return clipped
    raise ValueError(f"unknown size distribution {size_dist!r}; use 'fixed' or 'lognormal'")


def _zipf_ranks(n: int, n_objects: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of ranks ``0..n_objects-1`` with P(rank r) proportional to (r+1)^-alpha."""
    if n_objects < 1:
        raise ValueError("n_objects must be >= 1")
    cdf = np.cumsum(np.arange(1, n_objects + 1, dtype=np.float64) ** -alpha)
    ranks = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    capped: np.ndarray = np.minimum(ranks, n_objects - 1)
    return capped


def zipf(
    n_requests: int,
    n_objects: int,
    alpha: float = 1.0,
    *,
    seed: int = 0,
    size: int = 4096,
    size_dist: SizeDist = "fixed",
    sigma: float = 1.0,
) -> Trace:
    """Independent requests to ``n_objects`` objects with Zipf(``alpha``) popularity."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n_objects).astype(np.int64)  # rank -> object id
    sizes = object_sizes(n_objects, rng, size=size, size_dist=size_dist, sigma=sigma)
    keys = ids[_zipf_ranks(n_requests, n_objects, alpha, rng)]
    return Trace(keys, sizes[keys], name=f"zipf(alpha={alpha}, objects={n_objects})")


def scan(
    n_requests: int,
    n_objects: int,
    alpha: float = 1.0,
    *,
    scan_length: int = 1000,
    scan_every: int = 10_000,
    seed: int = 0,
    size: int = 4096,
    size_dist: SizeDist = "fixed",
    sigma: float = 1.0,
) -> Trace:
    """A Zipf workload interrupted by sequential scans of objects never requested again.

    The trace repeats ``scan_every`` Zipf requests over ids ``0..n_objects-1`` followed by a
    scan of ``scan_length`` fresh consecutive ids (from ``n_objects`` upwards).
    """
    rng = np.random.default_rng(seed)
    position = np.arange(n_requests) % (scan_every + scan_length)
    in_scan = position >= scan_every
    n_scanned = int(in_scan.sum())
    keys = np.empty(n_requests, dtype=np.int64)
    keys[in_scan] = n_objects + np.arange(n_scanned)
    ids = rng.permutation(n_objects).astype(np.int64)
    keys[~in_scan] = ids[_zipf_ranks(n_requests - n_scanned, n_objects, alpha, rng)]
    total = n_objects + n_scanned
    sizes = object_sizes(total, rng, size=size, size_dist=size_dist, sigma=sigma)
    return Trace(keys, sizes[keys], name=f"scan(alpha={alpha}, scan={scan_length}/{scan_every})")


def loop(
    n_requests: int,
    loop_length: int,
    *,
    seed: int = 0,
    size: int = 4096,
    size_dist: SizeDist = "fixed",
    sigma: float = 1.0,
) -> Trace:
    """The same ``loop_length`` objects requested cyclically, in a seeded random order."""
    if loop_length < 1:
        raise ValueError("loop_length must be >= 1")
    rng = np.random.default_rng(seed)
    order = rng.permutation(loop_length).astype(np.int64)
    sizes = object_sizes(loop_length, rng, size=size, size_dist=size_dist, sigma=sigma)
    keys = order[np.arange(n_requests) % loop_length]
    return Trace(keys, sizes[keys], name=f"loop(length={loop_length})")
