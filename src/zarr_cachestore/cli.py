"""The ``zarr-cachestore`` command line; ``zarr-cachestore simulate --help`` for the simulator."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from zarr_cachestore.cli_cache import add_cache_parser, cache_command
from zarr_cachestore.registry import available

__all__ = ["main", "parse_size"]

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"^(\d+)\s*([KMGT]?)(?:I?B)?$", re.IGNORECASE)


def parse_size(text: str) -> int | float:
    """``'0.05'`` or ``'5%'`` -> fraction of the working set; ``'4096'``, ``'64MiB'`` -> bytes."""
    text = text.strip()
    if text.endswith("%"):
        return float(text[:-1]) / 100
    match = _SIZE.match(text)
    if match:
        return int(match[1]) * _UNITS[match[2].upper()]
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a cache size: {text!r}") from None


def _sizes(values: Sequence[str]) -> list[int | float]:
    return [parse_size(part) for value in values for part in value.split(",") if part.strip()]


def _add_trace_args(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("trace")
    src.add_argument("trace", nargs="?", help="trace file (see --format)")
    src.add_argument("--format", choices=["csv", "oraclegeneral"], default="oraclegeneral")
    src.add_argument("--limit", type=int, help="replay at most this many requests of the file")
    src.add_argument("--synthetic", choices=["zipf", "scan", "loop"], help="generate a trace")
    src.add_argument("--requests", type=int, default=100_000, help="synthetic: requests")
    src.add_argument(
        "--objects", type=int, default=10_000, help="synthetic: objects (loop: loop length)"
    )
    src.add_argument("--alpha", type=float, default=1.0, help="zipf, scan: Zipf skew")
    src.add_argument("--size", type=int, default=4096, help="synthetic: (mean) object size")
    src.add_argument("--size-dist", choices=["fixed", "lognormal"], default="fixed")
    src.add_argument("--sigma", type=float, default=1.0, help="lognormal sizes: sigma")
    src.add_argument("--scan-length", type=int, default=1000, help="scan: requests per scan")
    src.add_argument("--scan-every", type=int, default=10_000, help="scan: requests between")
    src.add_argument("--seed", type=int, default=0, help="synthetic: random seed")


def _add_simulate_args(p: argparse.ArgumentParser) -> None:
    _add_trace_args(p)
    p.add_argument(
        "--policy",
        action="append",
        help="eviction policy name, repeatable (default: all available)",
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
        default=["0.001,0.01,0.05,0.1,0.2"],
        help="cache sizes: fractions of the working set (0.1, 10%%) or bytes (4096, 64MiB)",
    )
    p.add_argument("--plot", metavar="PNG", help="write a miss-ratio-curve plot")
    p.add_argument("--metric", choices=["miss_ratio", "byte_miss_ratio"], default="miss_ratio")
    p.add_argument("--compare-libcachesim", action="store_true", help="add libCacheSim's ratio")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zarr-cachestore")
    commands = parser.add_subparsers(dest="command", required=True)
    sim = commands.add_parser(
        "simulate", help="replay a trace through eviction policies at several cache sizes"
    )
    _add_simulate_args(sim)
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
        raise SystemExit("zarr-cachestore simulate: give a trace file or --synthetic")
    return read_trace(args.trace, args.format, limit=args.limit)


def _import_class(path: str) -> Any:
    module, _, name = path.partition(":")
    if not name:
        raise SystemExit(f"--policy-class needs MODULE:CLASS, got {path!r}")
    return getattr(importlib.import_module(module), name)


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
    """Run ``simulate``: replay, print the table, optionally plot."""
    from zarr_cachestore.simulate import format_table, plot_curves, simulate
    from zarr_cachestore.simulate.report import format_bytes

    trace = _trace(args)
    specs: list[Any] = list(args.policy or ([] if args.policy_class else available("eviction")))
    specs += [_import_class(path) for path in args.policy_class]
    sizes = _sizes(args.sizes)
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
    if args.command == "simulate":
        return simulate_command(args)
    if args.command == "cache":
        return cache_command(args)
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
