"""``zarr-cachestore advise``: which eviction policy and budget suit a recorded workload.

Every installed policy is replayed at every size next to the offline references of
:mod:`~zarr_cachestore.simulate.bounds`. The recommendation follows two stated rules:

* **policy**: the one whose source requests are closest to the lower bound (PFOO-L), on
  average over the sizes tried (mean of ``misses / bound``); ties go to the earlier listed;
* **budget**: the smallest size at which that policy makes at most ``1 + within`` times the
  fewest source requests any policy makes at any size tried (``within`` defaults to 10%).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from zarr_cachestore.registry import available
from zarr_cachestore.simulate.bounds import belady, pfoo_lower
from zarr_cachestore.simulate.readers import read_trace
from zarr_cachestore.simulate.replay import CacheSize, Result, simulate
from zarr_cachestore.simulate.report import format_bytes, format_table, plot_curves
from zarr_cachestore.simulate.trace import Trace
from zarr_cachestore.simulate.workloads import WORKLOADS

__all__ = ["Advice", "add_advise_parser", "advise", "advise_command"]


@attrs.frozen
class Advice:
    """The replays, the references and the recommendation drawn from them."""

    results: list[Result]  # every policy at every size
    belady: list[Result]  # one per size
    bound: list[Result]  # PFOO-L, one per size
    policy: str
    cache_size: int
    within: float
    reached: bool  # whether the policy gets within ``within`` of the best at some size

    def gap(self, result: Result) -> float:
        """How many more source requests ``result`` makes than the bound, as a fraction."""
        bound = self._at(self.bound, result.cache_size).misses
        return result.misses / bound - 1 if bound else 0.0

    def summary(self) -> str:
        """The recommendation, with the rule it follows and the numbers behind it."""
        chosen = self._at(self.results, self.cache_size, self.policy)
        size = f"{format_bytes(self.cache_size)} ({chosen.fraction:.0%} of the working set)"
        if self.reached:
            rule = (
                f"the smallest size tried where it makes at most {1 + self.within:.0%} of "
                "the fewest source requests seen at any size"
            )
        else:
            rule = (
                f"the largest tried; no size came within {self.within:.0%} of the fewest "
                "source requests seen, so try larger sizes"
            )
        return (
            f"recommended eviction policy: {self.policy!r}, closest to the lower bound on "
            f"average ({self.mean_gap(self.policy):+.1%})\n"
            f"recommended budget: {size}, {rule}; there it makes {chosen.misses} source "
            f"requests (lower bound {self._at(self.bound, self.cache_size).misses}, "
            f"Belady {self._at(self.belady, self.cache_size).misses})"
        )

    @staticmethod
    def _at(results: list[Result], cache_size: int, policy: str | None = None) -> Result:
        return next(
            r
            for r in results
            if r.cache_size == cache_size and (policy is None or r.policy == policy)
        )

    def mean_gap(self, policy: str) -> float:
        """The policy's :meth:`gap` averaged over the sizes."""
        gaps = [self.gap(r) for r in self.results if r.policy == policy]
        return sum(gaps) / len(gaps)


def advise(
    trace: Trace,
    cache_sizes: Sequence[CacheSize],
    policies: Sequence[Any] | None = None,
    *,
    within: float = 0.10,
    progress: Callable[[int], object] | None = None,
) -> Advice:
    """Replay ``trace`` through ``policies`` (default: every available one) at each size."""
    if not cache_sizes:
        raise ValueError("give at least one cache size")
    if within < 0:
        raise ValueError(f"within must be >= 0, got {within!r}")
    specs = list(policies) if policies is not None else list(available("eviction"))
    results = simulate(trace, specs, cache_sizes, progress=progress)
    refs_belady, refs_bound = belady(trace, cache_sizes), pfoo_lower(trace, cache_sizes)
    advice = Advice(results, refs_belady, refs_bound, "", 0, within, False)
    names = list(dict.fromkeys(r.policy for r in results))
    policy = min(names, key=advice.mean_gap)
    fewest = min(r.misses for r in results)
    own = sorted((r for r in results if r.policy == policy), key=lambda r: r.cache_size)
    good = [r for r in own if r.misses <= (1 + within) * fewest]
    chosen = good[0] if good else own[-1]
    return attrs.evolve(advice, policy=policy, cache_size=chosen.cache_size, reached=bool(good))


def add_advise_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``advise`` subcommand to ``commands`` (an argparse subparsers object)."""
    p: argparse.ArgumentParser = commands.add_parser(
        "advise",
        help="recommend an eviction policy and a budget for a trace",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("trace", nargs="?", help="a trace file, e.g. written by TraceRecorder")
    p.add_argument(
        "--format",
        choices=["zarr-csv", "csv", "oraclegeneral"],
        default="zarr-csv",
        help="the trace file's format (default: %(default)s)",
    )
    p.add_argument("--limit", type=int, help="read at most this many requests of the file")
    p.add_argument(
        "--synthetic", choices=sorted(WORKLOADS), help="a generated zarr workload instead"
    )
    p.add_argument("--seed", type=int, default=0, help="synthetic: random seed")
    p.add_argument(
        "--sizes",
        nargs="+",
        default=["10%,30%,50%"],
        help="cache sizes: fractions of the working set (0.1, 10%%) or bytes (64MiB, 1GiB)",
    )
    p.add_argument(
        "--policy", action="append", help="a policy name, repeatable (default: all available)"
    )
    p.add_argument(
        "--within",
        type=float,
        default=10.0,
        help="budget rule: percent above the fewest source requests seen (default 10)",
    )
    p.add_argument("--plot", metavar="PNG", help="write the miss-ratio curves with the bounds")
    p.add_argument(
        "--metric",
        choices=["miss_ratio", "byte_miss_ratio"],
        default="miss_ratio",
        help="what the plot shows (default: %(default)s)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(command_parser=p)
    return p


def _trace(args: argparse.Namespace) -> Trace:
    if args.synthetic:
        return WORKLOADS[args.synthetic](seed=args.seed)
    if args.trace is None:
        from zarr_cachestore.cli import UsageError

        raise UsageError("give a trace file or --synthetic NAME")
    return read_trace(args.trace, args.format, limit=args.limit)


def advise_command(args: argparse.Namespace) -> int:
    """Run ``advise``: replay, print the table and the recommendation, optionally plot."""
    from zarr_cachestore.cli import _cache_sizes, _progress

    trace = _trace(args)
    sizes = [size for value in args.sizes for size in _cache_sizes(value)]
    specs = args.policy or list(available("eviction"))
    ws = trace.working_set()
    print(
        f"trace {trace.name}: {len(trace)} requests, {ws.objects} objects, "
        f"working set {format_bytes(ws.bytes)}"
    )
    bar, update = _progress(len(trace) * len(specs) * len(sizes), not args.no_progress)
    with bar:
        advice = advise(trace, sizes, specs, within=args.within / 100, progress=update)
    rows = sorted(
        advice.results + advice.belady + advice.bound, key=lambda r: (r.cache_size, r.misses)
    )
    extra: dict[str, Sequence[str]] = {
        "source requests": [str(r.misses) for r in rows],
        "vs bound": [f"{advice.gap(r):+.1%}" for r in rows],
    }
    print(format_table(rows, extra))
    print(advice.summary())
    if args.plot:
        plot_curves(rows, args.plot, metric=args.metric, title=trace.name)
        print(f"plot written to {args.plot}")
    return 0
