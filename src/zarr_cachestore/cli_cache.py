"""``zarr-cachestore cache``: look into or clear a disk tier's directory from the shell."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_cache_parser", "cache_command"]


def add_cache_parser(commands: Any) -> None:
    """Add the ``cache`` command to the subparsers ``commands``."""
    cache = commands.add_parser(
        "cache",
        help="show or clear what a disk tier holds",
        description="Show what a disk tier's directory holds (namespaces, entries, bytes, "
        "budget), or clear it, all of it or one namespace.",
    )
    actions = cache.add_subparsers(
        dest="cache_command", required=True, metavar="ACTION", help="info or clear"
    )
    info = actions.add_parser(
        "info",
        help="namespaces, entries and bytes held, and the budget",
        description="Print the namespaces, entries and bytes a disk tier holds, and its budget.",
    )
    info.add_argument("path", help="the disk tier's directory")
    clear = actions.add_parser(
        "clear",
        help="drop what the tier holds; processes using it drop their copies too",
        description="Drop what a disk tier holds, all of it or one namespace; processes using "
        "it drop their copies too.",
    )
    clear.add_argument("path", help="the disk tier's directory")
    clear.add_argument("--namespace", help="drop this namespace only")


def cache_command(args: argparse.Namespace) -> int:
    """Run ``cache info`` or ``cache clear``."""
    from zarr_cachestore.disk_tier import clear_directory, describe_directory

    try:
        if args.cache_command == "clear":
            clear_directory(args.path, args.namespace)
            dropped = f"namespace {args.namespace!r}" if args.namespace else "every namespace"
            print(f"cleared {dropped} of {args.path}")
            return 0
        print(format_info(describe_directory(args.path)))
        return 0
    except FileNotFoundError as error:
        raise SystemExit(f"zarr-cachestore cache: {error}") from None


def format_info(info: dict[str, Any]) -> str:
    """The report of ``cache info``: the budget, then one line per namespace."""
    from zarr_cachestore.simulate.report import format_bytes

    lines = [
        f"disk tier {info['path']} (eviction order {info['policy']})",
        f"budget {format_bytes(info['max_size'])}, held {format_bytes(info['bytes'])} "
        f"in {info['entries']} entries, {format_bytes(info['reserved'])} being written",
        f"{'namespace':<30} {'entries':>10} {'bytes':>12}",
    ]
    for namespace, held in info["namespaces"].items():
        lines.append(f"{namespace:<30} {held['entries']:>10} {format_bytes(held['bytes']):>12}")
    return "\n".join(lines)
