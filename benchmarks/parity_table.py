"""Miss ratios against libCacheSim on the parity traces, for the policies not required to match.

Prints the table in docs/simulator.md: ours / libCacheSim (difference in misses), at 1%, 5% and
20% of each trace's working set. LRU, FIFO, LFU, SIEVE, CLOCK and ARC are not listed: the test
suite requires them to match exactly.

    python benchmarks/parity_table.py
"""

from __future__ import annotations

from collections.abc import Callable

from zarr_cachestore.simulate import Trace, loop, scan, simulate, zipf
from zarr_cachestore.simulate.reference import libcachesim_simulate

TRACES: dict[str, Callable[[], Trace]] = {  # the traces of tests/test_simulate_parity.py
    "zipf": lambda: zipf(20_000, 2_000, 1.0, seed=11),
    "zipf-lognormal": lambda: zipf(20_000, 2_000, 0.8, seed=12, size=1000, size_dist="lognormal"),
    "scan": lambda: scan(20_000, 1_500, 1.1, scan_length=400, scan_every=2_000, seed=13),
    "loop": lambda: loop(12_000, 900, seed=14, size=1000, size_dist="lognormal", sigma=0.5),
}
SIZES = [0.01, 0.05, 0.2]
POLICIES = ["s3fifo", "wtinylfu", "gdsf"]


def main() -> None:
    print("| trace | policy | 1% | 5% | 20% |")
    print("| --- | --- | --- | --- | --- |")
    for trace_name, make in TRACES.items():
        trace = make()
        for name in POLICIES:
            ours = simulate(trace, name, SIZES)
            theirs = libcachesim_simulate(trace, [name], SIZES)
            cells = [
                f"{a.miss_ratio:.4f} / {b.miss_ratio:.4f} ({a.misses - b.misses:+d})"
                for a, b in zip(ours, theirs, strict=True)
            ]
            print(f"| {trace_name} | {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
