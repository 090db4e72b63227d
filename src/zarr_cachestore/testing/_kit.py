"""What the checks share: fresh strategies from a spec, the keys they are driven with, and
running a state machine as one call."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from zarr_cachestore.ranges import RangeKey
from zarr_cachestore.registry import resolve

__all__ = ["ENTRY_KEYS", "Spec", "fresh", "run"]

Spec = str | type[Any] | Callable[[], Any]

# Entry keys as the store makes them: store keys, and byte ranges of some of those keys (a
# range and a suffix), so that a policy sees both kinds, and ranges that share a store key.
ENTRY_KEYS: tuple[Hashable, ...] = (
    "a",
    "a/zarr.json",
    "a/c/0/0",
    "a/c/0/1",
    "b/c/1",
    "",
    RangeKey("a/c/0/0", 0, 16),
    RangeKey("a/c/0/0", 16, 32),
    RangeKey("a/c/0/0", -8, None),
    RangeKey("b/c/1", 4, 4),
    RangeKey("shard", 0, 100),
    RangeKey("shard", -100, None),
)


def fresh(group: str, spec: Spec) -> Callable[[], Any]:
    """A maker of new strategy objects of ``group`` from a name, a class or a factory, each
    checked as the store checks it (``resolve``)."""
    if not isinstance(spec, str | type) and not callable(spec):
        raise TypeError(
            f"pass a factory, a class or a name of a {group} policy, not the object {spec!r}: "
            f"every example needs a new one (e.g. lambda: {type(spec).__name__}(...))"
        )

    def make() -> Any:
        return resolve(group, spec if isinstance(spec, str | type) else spec())

    return make


def examples(ci: int) -> int:
    """How many examples a state machine runs: ``ci`` by default, ten times more under the
    nightly hypothesis profile (``HYPOTHESIS_PROFILE=nightly``)."""
    return ci * 10 if os.environ.get("HYPOTHESIS_PROFILE") == "nightly" else ci


def run(machine: type[RuleBasedStateMachine], examples: int, steps: int) -> None:
    """Run ``machine`` for ``examples`` sequences of up to ``steps`` steps. A broken promise
    raises ``AssertionError`` (an exception the strategy raises propagates as it is), with
    the shortest sequence of calls found that shows it."""
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
