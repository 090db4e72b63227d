"""Every installed eviction policy against the offline references on the zarr workloads.

Prints the tables of docs/advise.md: for each workload of
:mod:`zarr_cachestore.simulate.workloads` (at its default parameters, plus panning over
compressed chunks of lognormal sizes), the source requests and the MiB fetched by every policy
(built in, plugins, the zarr-aware ``frontier``) at 10%, 30% and 50% of the working set, next
to Belady and the PFOO-L lower bound. Counts are summed over ``--seeds`` seeds (0, 1, ...);
the percentage is the excess over Belady, which is the optimum for chunks of one size.

    python benchmarks/advise_table.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable

from zarr_cachestore.registry import available
from zarr_cachestore.simulate import Result, Trace, simulate
from zarr_cachestore.simulate.bounds import belady, pfoo_lower
from zarr_cachestore.simulate.workloads import WORKLOADS

SIZES = [0.1, 0.3, 0.5]
MIB = 1 << 20

TRACES: dict[str, Callable[[int], Trace]] = {
    name: functools.partial(lambda make, seed: make(seed=seed), make)
    for name, make in WORKLOADS.items()
}
TRACES["panning, lognormal sizes"] = lambda seed: WORKLOADS["panning"](
    seed=seed, size_dist="lognormal"
)


Counts = list[tuple[int, int]]  # (source requests, bytes fetched) per size


def totals(make: Callable[[int], Trace], seeds: int, policies: list[str]) -> dict[str, Counts]:
    """Per policy (and reference), its counts at each size, summed over the seeds."""
    summed: dict[str, Counts] = {}
    for seed in range(seeds):
        trace = make(seed)
        by_policy: dict[str, list[Result]] = {}
        for r in belady(trace, SIZES) + pfoo_lower(trace, SIZES) + simulate(trace, policies, SIZES):
            by_policy.setdefault(r.policy, []).append(r)  # in the order of SIZES
        for policy, results in by_policy.items():
            acc = summed.get(policy, [(0, 0)] * len(SIZES))
            summed[policy] = [
                (n + r.misses, b + r.miss_bytes) for (n, b), r in zip(acc, results, strict=True)
            ]
    return summed


def table(summed: dict[str, Counts]) -> str:
    """A markdown table: requests (excess over Belady) and MiB fetched, per size."""
    header = ["policy", *(f"requests {s:.0%}" for s in SIZES), *(f"MiB {s:.0%}" for s in SIZES)]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    references = ["pfoo-l", "belady"]
    order = references + sorted(set(summed) - set(references), key=lambda p: summed[p][1][0])
    for policy in order:
        counts = summed[policy]
        cells = [f"*{policy}*" if policy in references else policy]
        for (n, _), (best, _) in zip(counts, summed["belady"], strict=True):
            cells.append(f"{n} ({n / best - 1:+.0%})")
        cells += [f"{b / MIB:,.0f}" for _, b in counts]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per workload (default 5)")
    args = parser.parse_args()
    policies = list(available("eviction"))
    for name, make in TRACES.items():
        sample = make(0)
        ws = sample.working_set()
        print(
            f"\n#### {name}: {sample.name}\n\n{len(sample)} requests, {ws.objects} chunks, "
            f"working set {ws.bytes / MIB:,.0f} MiB (seed 0); sums over {args.seeds} seeds\n"
        )
        print(table(totals(make, args.seeds, policies)))


if __name__ == "__main__":
    main()
