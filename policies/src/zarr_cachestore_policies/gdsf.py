"""GDSF: Cherkasova, "Improving WWW Proxies Performance with Greedy-Dual-Size-Frequency Caching
Policy", HP Laboratories report HPL-98-69R1, 1998."""

from __future__ import annotations

from collections.abc import Hashable

from zarr_cachestore import EntryInfo, PriorityPolicy

__all__ = ["GDSF"]


class GDSF(PriorityPolicy):
    """Greedy-Dual-Size-Frequency with cost 1: the entry of lowest priority leaves.

    An entry's priority is ``L + frequency / size``, set when it enters and at every hit, where
    the inflation value ``L`` is the priority of the last victim; small, often read entries stay.
    Ties go to the entry whose priority was set first; each operation is O(log n).
    """

    def __init__(self) -> None:
        super().__init__()
        self.inflation = 0.0

    def priority(self, key: Hashable, info: EntryInfo) -> float:
        return self.inflation + (info.hits + 1) / max(info.size, 1)

    def on_victim(self, key: Hashable, info: EntryInfo) -> None:
        self.inflation = info.priority

    def clear(self) -> None:
        super().clear()
        self.inflation = 0.0
