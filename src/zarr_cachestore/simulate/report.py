"""Presenting results: a plain-text miss-ratio table and a miss-ratio-curve plot."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from zarr_cachestore.simulate.replay import Result

__all__ = ["curves", "format_bytes", "format_table", "plot_curves"]

Metric = Literal["miss_ratio", "byte_miss_ratio"]


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units, e.g. ``'1.5 MiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def format_table(results: Sequence[Result], extra: dict[str, Sequence[str]] | None = None) -> str:
    """One row per result: policy, cache size, share of working set, miss ratios.

    ``extra`` adds columns, each a header and one cell per result.
    """
    header = ["policy", "cache size", "bytes", "of WSS", "miss ratio", "byte miss ratio"]
    rows = [
        [
            r.policy,
            format_bytes(r.cache_size),
            str(r.cache_size),
            f"{r.fraction:.2%}",
            f"{r.miss_ratio:.4f}",
            f"{r.byte_miss_ratio:.4f}",
        ]
        for r in results
    ]
    for name, cells in (extra or {}).items():
        header.append(name)
        for row, cell in zip(rows, cells, strict=True):
            row.append(cell)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def curves(results: Iterable[Result], metric: Metric = "miss_ratio") -> dict[str, list[Any]]:
    """Per policy, the ``(cache size, ratio)`` points in increasing cache size."""
    points: dict[str, list[Any]] = {}
    for r in results:
        points.setdefault(r.policy, []).append((r.cache_size, getattr(r, metric)))
    return {policy: sorted(p) for policy, p in points.items()}


def plot_curves(
    results: Sequence[Result],
    path: str | os.PathLike[str],
    *,
    metric: Metric = "miss_ratio",
    title: str = "",
    references: Sequence[str] = ("belady", "pfoo-l"),
) -> None:
    """Write a PNG of miss-ratio curves, one line per policy (needs matplotlib).

    Curves named in ``references`` (the offline bounds) are drawn dashed, in shades of grey.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    sizes = [r.cache_size for r in results if r.cache_size > 0]
    tab20 = plt.get_cmap("tab20")
    colors = iter([tab20(i) for i in range(20)])
    greys = iter(["black", "dimgrey", "darkgrey"] * 4)
    for policy, points in curves(results, metric).items():
        xs, ys = zip(*points, strict=True)
        if policy in references:
            ax.plot(xs, ys, linestyle="--", color=next(greys), label=policy)
        else:
            ax.plot(xs, ys, marker="o", color=next(colors, None), label=policy)
    if sizes and max(sizes) >= 10 * min(sizes):
        ax.set_xscale("log")
    ax.set_xlabel("cache size (bytes)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    fig.tight_layout()
    fig.savefig(os.fspath(path), format="png", dpi=120)
    plt.close(fig)
