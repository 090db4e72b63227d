"""The contract of an admission policy, as one call for a third party's test suite.

>>> from zarr_cachestore import MaxSize
>>> from zarr_cachestore.testing import check_admission_policy
>>> check_admission_policy(MaxSize)

A state machine interleaves accesses and admission questions, as the store does, for caches
of any capacity (``None``, unbounded, or a number of bytes). It checks what
:class:`~zarr_cachestore.AdmissionPolicy` promises, and no admission rule:

- ``on_access(key)`` accepts any store key (a ``str``; the store tells of every request);
- ``admit(key, size, capacity=..., victim=...)`` returns a ``bool`` for a store key or a range
  key of any size from 0 to the capacity (the store refuses larger entries itself), with a
  victim that is ``None`` or an entry key;
- neither raises.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from zarr_cachestore.testing._kit import ENTRY_KEYS, Spec, fresh, run

__all__ = ["check_admission_policy"]

KEYS = st.sampled_from(ENTRY_KEYS)
STORE_KEYS = st.sampled_from([key for key in ENTRY_KEYS if isinstance(key, str)])
SIZES = st.one_of(st.just(0), st.integers(1, 256), st.integers(0, 2**41))
CAPACITIES = st.sampled_from([None, 1, 100, 2**40])


def check_admission_policy(factory: Spec, *, examples: int = 100, steps: int = 50) -> None:
    """Assert that the admission policies ``factory`` makes (a factory, class or name) keep
    the contract above, over ``examples`` sequences of up to ``steps`` calls."""
    maker = fresh("admission", factory)

    class AdmissionContract(_AdmissionContract):
        make = staticmethod(maker)

    run(AdmissionContract, examples, steps)


class _AdmissionContract(RuleBasedStateMachine):
    make: Callable[[], Any]

    def __init__(self) -> None:
        super().__init__()
        self.policy = self.make()

    @rule(key=STORE_KEYS)
    def access(self, key: str) -> None:
        self.policy.on_access(key)

    @rule(key=KEYS, size=SIZES, capacity=CAPACITIES, victim=st.none() | KEYS)
    def admit(
        self, key: Hashable, size: int, capacity: int | None, victim: Hashable | None
    ) -> None:
        if capacity is not None:
            size = min(size, capacity)
        answer = self.policy.admit(key, size, capacity=capacity, victim=victim)
        assert isinstance(answer, bool), (
            f"admit({key!r}, {size}, capacity={capacity}, victim={victim!r}) returned "
            f"{answer!r}, not a bool"
        )
