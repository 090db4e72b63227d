"""The ``zarr-cachestore`` command line; ``zarr-cachestore simulate --help`` for the simulator."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from importlib.metadata import version
from typing import Any, NoReturn

from zarr_cachestore.cli_cache import add_cache_parser, cache_command
from zarr_cachestore.registry import PluginError, available, load
from zarr_cachestore.simulate.advise import add_advise_parser, advise_command
from zarr_cachestore.units import parse_fraction, parse_size

__all__ = ["UsageError", "cache_size", "main"]

_FRACTION = re.compile(r"\d*\.\d+")
DEFAULT_SIZES = "0.001,0.01,0.05,0.1,0.2"


class UsageError(Exception):
    """A command was given arguments it cannot use; the message says which and why."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr, with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def cache_size(text: str) -> int | float:
    """A cache size: a fraction of the working set (``'5%'``, ``'0.05'``) as a ``float``, or
    bytes (``'4096'``, ``'64MiB'``, ``'2GB'``) as an ``int``."""
    stripped = text.strip()
    try:
        if stripped.endswith("%") or _FRACTION.fullmatch(stripped):
            return parse_fraction(stripped)
        return parse_size(stripped)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a cache size: {text!r}; write a fraction of the working set ('5%', '0.05') "
            "or a size in bytes ('4096', '64MiB', '2GB')"
        ) from None


def _cache_sizes(text: str) -> list[int | float]:
    """A comma-separated list of :func:`cache_size` values."""
    return [cache_size(part) for part in text.split(",") if part.strip()]


def _add_trace_args(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("trace", "a trace file, or --synthetic to generate one")
    src.add_argument("trace", nargs="?", help="trace file (see --format)")
    src.add_argument(
        "--format",
        choices=["csv", "oraclegeneral"],
        default="oraclegeneral",
        help="format of the trace file: CSV with a header row, or libCacheSim's binary "
        "oracleGeneral (default: %(default)s)",
    )
    src.add_argument("--limit", type=int, help="replay at most this many requests of the file")
    src.add_argument("--synthetic", choices=["zipf", "scan", "loop"], help="generate a trace")
    src.add_argument(
        "--requests", type=int, default=100_000, help="synthetic: requests (default: %(default)s)"
    )
    src.add_argument(
        "--objects",
        type=int,
        default=10_000,
        help="synthetic: objects, or the loop length for loop (default: %(default)s)",
    )
    src.add_argument(
        "--alpha", type=float, default=1.0, help="zipf, scan: Zipf skew (default: %(default)s)"
    )
    src.add_argument(
        "--size",
        type=int,
        default=4096,
        help="synthetic: object size, or the mean size for lognormal (default: %(default)s)",
    )
    src.add_argument(
        "--size-dist",
        choices=["fixed", "lognormal"],
        default="fixed",
        help="synthetic: every object of --size bytes, or lognormal sizes of mean --size "
        "(default: %(default)s)",
    )
    src.add_argument(
        "--sigma", type=float, default=1.0, help="lognormal sizes: sigma (default: %(default)s)"
    )
    src.add_argument(
        "--scan-length",
        type=int,
        default=1000,
        help="scan: requests per scan (default: %(default)s)",
    )
    src.add_argument(
        "--scan-every",
        type=int,
        default=10_000,
        help="scan: Zipf requests between two scans (default: %(default)s)",
    )
    src.add_argument("--seed", type=int, default=0, help="synthetic: random seed (default: 0)")


def _add_simulate_args(p: argparse.ArgumentParser) -> None:
    _add_trace_args(p)
    p.add_argument(
        "--policy",
        action="append",
        metavar="NAME",
        help="eviction policy name, repeatable (default: every available one: "
        "zarr_cachestore.available('eviction'))",
    )
    p.add_argument(
        "--policy-class",
        action="append",
        default=[],
        metavar="MODULE:CLASS",
        help="a policy class to import and replay, repeatable",
    )
    p.add_argument(
        "--sizes",
        nargs="+",
        type=_cache_sizes,
        default=[_cache_sizes(DEFAULT_SIZES)],
        metavar="SIZE[,SIZE...]",
        help="cache sizes: fractions of the working set (0.1, 10%%) or bytes (4096, 64MiB, "
        f"2GB) (default: {DEFAULT_SIZES})",
    )
    p.add_argument("--plot", metavar="PNG", help="write a miss-ratio-curve plot to this file")
    p.add_argument(
        "--metric",
        choices=["miss_ratio", "byte_miss_ratio"],
        default="miss_ratio",
        help="what the plot shows: misses per request, or missed bytes per requested byte "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--compare-libcachesim",
        action="store_true",
        help="add libCacheSim's miss ratio for the policies it also implements",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="zarr-cachestore",
        description="Tools for zarr-cachestore, a policy-pluggable read cache for zarr v3 stores.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version('zarr-cachestore')}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sim = commands.add_parser(
        "simulate",
        help="replay a trace through eviction policies at several cache sizes",
        description="Replay a request trace (a file, or a generated one) through eviction "
        "policies at several cache sizes, and print their miss ratios; optionally plot "
        "miss-ratio curves. The policies are the very objects CacheStore uses.",
    )
    sim.set_defaults(command_parser=sim)
    _add_simulate_args(sim)
    add_advise_parser(commands)
    add_cache_parser(commands)
    return parser


def _trace(args: argparse.Namespace) -> Any:
    from zarr_cachestore.simulate import loop, read_trace, scan, zipf

    sizes = {"seed": args.seed, "size": args.size, "size_dist": args.size_dist}
    sizes["sigma"] = args.sigma
    if args.synthetic == "zipf":
        return zipf(args.requests, args.objects, args.alpha, **sizes)
    if args.synthetic == "scan":
        return scan(
            args.requests,
            args.objects,
            args.alpha,
            scan_length=args.scan_length,
            scan_every=args.scan_every,
            **sizes,
        )
    if args.synthetic == "loop":
        return loop(args.requests, args.objects, **sizes)
    if args.trace is None:
        raise UsageError("give a trace file or --synthetic")
    try:
        open(args.trace, "rb").close()  # a missing file, a folder or no permission: one error
        return read_trace(args.trace, args.format, limit=args.limit)
    except OSError as exc:
        reason = exc.strerror or exc
        raise UsageError(f"cannot read the trace file {args.trace!r}: {reason}") from exc
    except ValueError as exc:
        raise UsageError(f"cannot use the trace file: {exc}") from exc


def _check_policies(names: Sequence[str]) -> None:
    """Fail early, before any replay, on a policy name that is unknown or cannot load."""
    for name in names:
        try:
            load("eviction", name)
        except (ValueError, PluginError) as exc:
            raise UsageError(str(exc)) from exc


def _import_class(path: str) -> Any:
    module, _, name = path.partition(":")
    if not module or not name:
        raise UsageError(f"--policy-class needs MODULE:CLASS, got {path!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"--policy-class {path}: {exc}") from exc


def _progress(total: int, enabled: bool) -> tuple[AbstractContextManager[Any], Callable[..., Any]]:
    """A tqdm bar and its update function, or a no-op if disabled or tqdm is missing."""
    if enabled:
        try:
            tqdm: Any = importlib.import_module("tqdm").tqdm
        except ImportError:
            pass
        else:
            bar = tqdm(total=total, unit="req", unit_scale=True, file=sys.stderr)
            return bar, bar.update
    return nullcontext(), lambda n: None


def _compare_column(trace: Any, results: Sequence[Any], sizes: list[int | float]) -> list[str]:
    from zarr_cachestore.simulate.reference import LIBCACHESIM_CLASSES, libcachesim_simulate

    names = [n for n in dict.fromkeys(r.policy for r in results) if n in LIBCACHESIM_CLASSES]
    theirs = {(r.policy, r.cache_size): r for r in libcachesim_simulate(trace, names, sizes)}
    cells = []
    for r in results:
        ref = theirs.get((r.policy, r.cache_size))
        cells.append(f"{ref.miss_ratio:.4f}" if ref else "-")
    return cells


def simulate_command(args: argparse.Namespace) -> int:
    """Run ``simulate``: replay, print the table, optionally plot.

    Raises
    ------
    UsageError
        The arguments name an unknown policy or an unreadable trace.
    """
    from zarr_cachestore.simulate import format_table, plot_curves, simulate
    from zarr_cachestore.simulate.report import format_bytes

    _check_policies(args.policy or [])
    specs: list[Any] = list(args.policy or ([] if args.policy_class else available("eviction")))
    specs += [_import_class(path) for path in args.policy_class]
    sizes = [size for group in args.sizes for size in group]
    trace = _trace(args)
    ws = trace.working_set()
    print(
        f"trace {trace.name}: {len(trace)} requests, {ws.objects} objects, "
        f"working set {format_bytes(ws.bytes)}"
    )
    bar, update = _progress(len(trace) * len(specs) * len(sizes), not args.no_progress)
    with bar:
        results = simulate(trace, specs, sizes, progress=update)
    extra: dict[str, Sequence[str]] | None = None
    if args.compare_libcachesim:
        extra = {"libCacheSim": _compare_column(trace, results, sizes)}
    print(format_table(results, extra))
    if args.plot:
        plot_curves(results, args.plot, metric=args.metric, title=trace.name)
        print(f"plot written to {args.plot}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zarr-cachestore`` command."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "simulate":
            return simulate_command(args)
        if args.command == "advise":
            return advise_command(args)
        if args.command == "cache":
            return cache_command(args)
    except UsageError as exc:
        args.command_parser.error(str(exc))
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
