"""The contract of an expiry policy, as one call for a third party's test suite.

>>> from zarr_cachestore import TTI
>>> from zarr_cachestore.testing import check_expiry_policy
>>> check_expiry_policy(lambda: TTI(5))

A state machine drives the policy as the store does, with a clock that only moves forward from
an arbitrary reading, and keeps the model: the deadline of each held entry. It checks what
:class:`~zarr_cachestore.ExpiryPolicy` promises, and nothing about how long entries live:

- ``on_write(key, now)`` returns a deadline: a real number (``int`` or ``float``; ``math.inf``
  is never) that is not NaN, and not before ``now`` (an entry cannot expire before it enters);
- ``on_read(key, now, deadline)``, called only on a held entry before its deadline, as the
  store calls it on a hit, returns a deadline: a real number that is not NaN;
- neither raises, for store keys and range keys alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from zarr_cachestore.testing._kit import ENTRY_KEYS, Spec, fresh, run

__all__ = ["check_expiry_policy"]

KEYS = st.sampled_from(ENTRY_KEYS)


def check_expiry_policy(factory: Spec, *, examples: int = 100, steps: int = 50) -> None:
    """Assert that the expiry policies ``factory`` makes (a factory, class or name) keep the
    contract above, over ``examples`` sequences of up to ``steps`` calls."""
    maker = fresh("expiry", factory)

    class ExpiryContract(_ExpiryContract):
        make = staticmethod(maker)

    run(ExpiryContract, examples, steps)


def _check_deadline(deadline: object, call: str) -> float:
    is_real = isinstance(deadline, int | float) and not isinstance(deadline, bool)
    assert is_real, f"{call} returned {deadline!r}, not a deadline (a float, math.inf for never)"
    assert not math.isnan(deadline), f"{call} returned NaN, not a deadline"  # type: ignore[arg-type]
    return float(deadline)  # type: ignore[arg-type]


class _ExpiryContract(RuleBasedStateMachine):
    make: Callable[[], Any]

    def __init__(self) -> None:
        super().__init__()
        self.policy = self.make()
        self.deadlines: dict[Hashable, float] = {}  # the model: the held entries
        self.now = 0.0

    @initialize(start=st.sampled_from([0.0, 1.5, 1e6, 1.7e9]))
    def start_the_clock(self, start: float) -> None:
        self.now = start

    @rule(seconds=st.sampled_from([0.0, 0.25, 1.0, 7.0, 3600.0]))
    def tick(self, seconds: float) -> None:
        self.now += seconds

    @rule(key=KEYS)
    def write(self, key: Hashable) -> None:
        call = f"on_write({key!r}, now={self.now})"
        deadline = _check_deadline(self.policy.on_write(key, self.now), call)
        assert deadline >= self.now, f"{call} returned {deadline}, before now"
        self.deadlines[key] = deadline

    @rule(key=KEYS)
    def read(self, key: Hashable) -> None:
        deadline = self.deadlines.get(key)
        if deadline is None or not self.now < deadline:
            self.deadlines.pop(key, None)  # expired: the store drops it without a read
            return
        call = f"on_read({key!r}, now={self.now}, deadline={deadline})"
        self.deadlines[key] = _check_deadline(self.policy.on_read(key, self.now, deadline), call)

    @rule(key=KEYS)
    def remove(self, key: Hashable) -> None:
        self.deadlines.pop(key, None)
