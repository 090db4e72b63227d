"""Timing side by side: interleaved rounds, per-round ratios, medians, and one table.

Every comparison times its ways (the cache and its baseline) in the same round, one after the
other, for several rounds; the ratio of a round is taken within it, so load that a shared
machine puts on one round touches both ways alike. A row reports the median of those ratios
and the median time per operation of each way.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Sequence

import attrs

Timed = Callable[[], Awaitable[float]]  # runs a batch of operations, returns seconds per op


@attrs.frozen
class Row:
    """One line of the table: ``value`` is a ratio (``unit`` "x") or a measured quantity;
    ``detail`` backs it up, ``note`` qualifies it (and is kept in comparisons)."""

    section: str
    name: str
    value: float
    unit: str = "x"
    detail: str = ""
    note: str = ""

    def formatted(self) -> str:
        return f"{self.value:.2f}x" if self.unit == "x" else f"{self.value:,.1f} {self.unit}"


async def per_op(operations: int, batch: Callable[[], Awaitable[None]]) -> float:
    """Seconds per operation of one awaited ``batch`` of ``operations``."""
    start = time.perf_counter()
    await batch()
    return (time.perf_counter() - start) / operations


async def interleave(ways: dict[str, Timed], rounds: int) -> dict[str, list[float]]:
    """Each way's seconds per op, round by round; the ways take turns within each round (their
    order alternates, so neither always runs first)."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for index in range(rounds):
        for name in names if index % 2 == 0 else reversed(names):
            times[name].append(await ways[name]())
    return times


def median_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """The median of the per-round ratios ``numerator / denominator``."""
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


def duration(times: Sequence[float]) -> str:
    """The median of ``times`` (seconds), in ns, us or ms, for a row's detail."""
    seconds = statistics.median(times)
    for unit, scale in (("ns", 1e9), ("us", 1e6)):
        if seconds * scale < 1000:
            return f"{seconds * scale:.3g} {unit}"
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def ratio_row(
    section: str, name: str, times: dict[str, list[float]], ours: str, baseline: str
) -> Row:
    """``ours`` time per op over ``baseline``'s (below 1: ours is faster)."""
    return Row(
        section,
        name,
        median_ratio(times[ours], times[baseline]),
        detail=f"{duration(times[ours])} vs {duration(times[baseline])}",
    )


def table(title: str, rows: Sequence[Row]) -> str:
    """A markdown table of ``rows`` under a one-line ``title``."""
    lines = [title, "", "| measurement | value | detail |", "| --- | ---: | --- |"]
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines.append(f"| **{section}** | | |")
        detail = "; ".join(part for part in (row.detail, row.note) if part)
        lines.append(f"| {row.name} | {row.formatted()} | {detail} |")
    return "\n".join(lines)


def comparison(columns: dict[str, Sequence[Row]]) -> str:
    """One markdown table of the rows of several runs side by side (a column per run), in the
    order of the first run."""
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for column, rows in columns.items():
        for row in rows:
            cell = row.formatted() + (f" ({row.note})" if row.note else "")
            cells.setdefault((row.section, row.name), {})[column] = cell
    lines = [
        "| measurement | " + " | ".join(columns) + " |",
        "| --- |" + " ---: |" * len(columns),
    ]
    section = None
    for (row_section, name), by_column in cells.items():
        if row_section != section:
            section = row_section
            lines.append(f"| **{section}** |" + " |" * len(columns))
        values = " | ".join(by_column.get(column, "-") for column in columns)
        lines.append(f"| {name} | {values} |")
    return "\n".join(lines)
