"""What recording costs the caller: ``TraceRecorder.record`` against the floor and a cache hit.

Measured side by side in one run, best of 5: the time per call of ``record()`` (writer thread
running, buffer large enough that nothing is dropped), of appending the same tuple to a deque
(the least any buffered recorder can do), and of a dict lookup plus ``OrderedDict.move_to_end``
(about what an LRU hit costs in memory). Prints nanoseconds per call and the ratios.

    python benchmarks/record_overhead.py [--calls 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import timeit
from collections import OrderedDict, deque
from pathlib import Path

from zarr_cachestore.simulate.record import TraceRecorder

KEY = "temperature/c/12/3"


def best(stmt: object, calls: int) -> float:
    """Seconds per call, best of 5."""
    return min(timeit.repeat(stmt, number=calls, repeat=5)) / calls  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    calls = parser.parse_args().calls
    with tempfile.TemporaryDirectory() as tmp:
        recorder = TraceRecorder(Path(tmp) / "t.csv", buffer=10 * calls)
        record = recorder.record
        pending: deque[tuple[float, str, None, int, bool]] = deque()
        lru: OrderedDict[str, int] = OrderedDict({KEY: 1})
        clock = time.monotonic

        def floor() -> None:
            pending.append((clock(), KEY, None, 4096, True))

        def lru_hit() -> None:
            if KEY in lru:
                lru.move_to_end(KEY)

        timings = {
            "TraceRecorder.record": best(lambda: record(KEY, 4096, True), calls),
            "deque.append of the event (floor)": best(floor, calls),
            "LRU hit bookkeeping (dict + move_to_end)": best(lru_hit, calls),
        }
        recorder.close()
        assert recorder.dropped == 0
    base = timings["TraceRecorder.record"]
    for name, seconds in timings.items():
        print(f"{name:42s} {seconds * 1e9:7.0f} ns   record/this {base / seconds:5.2f}x")


if __name__ == "__main__":
    main()
