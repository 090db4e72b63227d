"""Where the time goes: pyinstrument profiles of a warm-cache read loop and a miss loop.

Each loop reads through ``zarr_cachestore.CacheStore`` in front of a ``MemoryStore`` (so the
source costs next to nothing); the report lists the functions with the most time of their own
(self time), summed over every call site, as shares of the loop.
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator

from pyinstrument import Profiler
from pyinstrument.frame import Frame

from benchmarks.stores import PROTO, keys_of, memory_source, our_cache


def _frames(frame: Frame) -> Iterator[Frame]:
    yield frame
    for child in frame.children:
        yield from _frames(child)


Costs = dict[str, list[tuple[str, float]]]


def top_costs(loop: Callable[[], Awaitable[None]], count: int) -> Costs:
    """The ``count`` functions, and the modules, with the largest self time in ``loop``:
    (where, share of the loop)."""
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    profiler.start()
    asyncio.run(_awaited(loop()))
    profiler.stop()
    root = profiler.last_session.root_frame() if profiler.last_session else None
    if root is None or root.time <= 0:
        return {"functions": [], "modules": []}
    functions: dict[str, float] = defaultdict(float)
    modules: dict[str, float] = defaultdict(float)
    for frame in _frames(root):
        if frame.is_synthetic:
            continue
        module = _module(frame.file_path or "?")
        functions[f"{frame.function} ({module})"] += frame.total_self_time
        modules[module] += frame.total_self_time
    return {
        kind: [(where, seconds / root.time) for where, seconds in _largest(found, count)]
        for kind, found in (("functions", functions), ("modules", modules))
    }


def _largest(seconds: dict[str, float], count: int) -> list[tuple[str, float]]:
    spent = [(where, own) for where, own in seconds.items() if own > 0]
    return sorted(spent, key=lambda item: item[1], reverse=True)[:count]


def _module(path: str) -> str:
    """``package/file.py`` for a file in a package, else the file's name."""
    parent, name = os.path.split(path)
    return f"{os.path.basename(parent)}/{name}" if parent else name


async def _awaited(work: Awaitable[None]) -> None:
    await work


def hit_loop(keys: int, passes: int) -> Callable[[], Awaitable[None]]:
    names = keys_of(keys)
    store = our_cache(memory_source(names, 1024))

    async def read(passes: int) -> None:
        for _ in range(passes):
            for key in names:
                await store.get(key, PROTO)

    asyncio.run(read(1))  # fill the cache before the profile starts
    return lambda: read(passes)


def miss_loop(keys: int, passes: int) -> Callable[[], Awaitable[None]]:
    names = keys_of(keys)
    source = memory_source(names, 1024)

    async def loop() -> None:
        for _ in range(passes):
            store = our_cache(source)  # a fresh cache: every read misses
            for key in names:
                await store.get(key, PROTO)

    return loop


def profiles(keys: int, passes: int, count: int = 10) -> dict[str, Costs]:
    """The top costs of the hit loop and of the miss loop."""
    return {
        "warm-cache hits": top_costs(hit_loop(keys, passes), count),
        "misses (source answers at once)": top_costs(miss_loop(keys, passes), count),
    }


def report(found: dict[str, Costs]) -> str:
    lines = []
    for loop, costs in found.items():
        for kind, ranked in costs.items():
            lines += ["", f"Self time by {kind[:-1]}, {loop} (pyinstrument, share of the loop):"]
            lines += ["", *(f"- {share:6.1%}  {where}" for where, share in ranked)]
    return "\n".join(lines)
