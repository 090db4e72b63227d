"""ARC: Megiddo and Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST 2003."""

from __future__ import annotations

from collections.abc import Hashable

from zarr_cachestore_policies._common import Budget, Budgeted, SizedQueue

__all__ = ["ARC"]


class ARC(Budgeted):
    """Adaptive Replacement Cache, measured in bytes.

    T1 holds entries seen once recently, T2 entries seen at least twice; the ghost lists B1 and B2
    remember keys (and sizes) recently evicted from each. A ghost hit moves the target size ``p``
    of T1 towards the list that would have kept the key. As in libCacheSim's ``ARC``, every list
    length of the paper is a byte count and ``capacity`` is the byte budget, so with one-byte
    entries this is the paper's algorithm over ``capacity`` pages. Without ``capacity`` the budget
    is learned as the peak of bytes tracked (see :class:`~zarr_cachestore_policies.Budget`).

    The paper picks victims knowing the missed key. A store that calls the optional
    :meth:`before_insert` before evicting gets exactly that. Otherwise a ghost hit is only seen by
    :meth:`on_insert`, after the evictions it caused, and the incoming size is taken as 1.
    """

    def __init__(self, capacity: int | None = None) -> None:
        self._budget = Budget(capacity)
        self._t1, self._t2 = SizedQueue(), SizedQueue()
        self._b1, self._b2 = SizedQueue(), SizedQueue()
        self._p = 0.0
        self._incoming: tuple[Hashable, int] | None = None  # announced by before_insert
        self._ghost_hit = False  # the incoming key was a ghost (of B1 or B2)
        self._in_b2 = False  # ... of B2, which breaks REPLACE's tie towards T1

    @property
    def target(self) -> float:
        """``p``, the bytes T1 aims to hold."""
        return self._p

    def before_insert(self, key: Hashable, size: int) -> None:
        """``key`` missed and will be inserted once :meth:`evict` has made room (optional hook)."""
        self._in_b2 = key in self._b2
        self._ghost_hit = self._adapt(key)
        self._incoming = (key, size)

    def on_insert(self, key: Hashable, size: int) -> None:
        announced = self._incoming is not None and self._incoming[0] == key
        ghost_hit = self._ghost_hit if announced else self._adapt(key)
        (self._t2 if ghost_hit else self._t1).push(key, size)
        self._budget.add(size)
        self._incoming = None
        self._ghost_hit = self._in_b2 = False

    def on_hit(self, key: Hashable) -> None:
        if key in self._t1:
            self._t2.push(key, self._t1.pop(key))
        else:
            self._t2.touch(key)

    def on_remove(self, key: Hashable) -> None:
        self._budget.sub((self._t1 if key in self._t1 else self._t2).pop(key))

    def evict(self) -> Hashable:
        if not self._t1 and not self._t2:
            raise LookupError("ARC: no entry to evict")
        if self._ghost_hit:  # cases II and III: REPLACE
            pass
        elif self._case_a():  # case IV.A: L1 is full
            if self._b1:
                self._b1.pop(self._b1.oldest())
            elif self._t1:  # T1 alone fills L1 (with empty entries, T1 may be empty too)
                return self._drop(self._t1)[0]
        elif self._all_bytes() >= 2 * self._budget.capacity and self._b2:  # case IV.B
            self._b2.pop(self._b2.oldest())
        source, ghosts = (self._t1, self._b1) if self._replace_takes_t1() else (self._t2, self._b2)
        key, size = self._drop(source)
        ghosts.push(key, size)
        return key

    def peek(self) -> Hashable | None:
        if not self._t1 and not self._t2:
            return None
        if not self._ghost_hit and self._case_a() and not self._b1 and self._t1:
            return self._t1.oldest()
        return (self._t1 if self._replace_takes_t1() else self._t2).oldest()

    def clear(self) -> None:
        self.__init__(self._budget.fixed)  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self._t1) + len(self._t2)

    def _adapt(self, key: Hashable) -> bool:
        """Apply a ghost hit of ``key`` to ``p`` and forget the ghost; return whether it was one.

        A list that holds only empty ghosts counts as one byte, as a page of the paper's does.
        """
        b1, b2 = max(self._b1.bytes, 1), max(self._b2.bytes, 1)
        if key in self._b1:
            self._p = min(self._p + _ratio(b2, b1), self._budget.capacity)
            self._b1.pop(key)
        elif key in self._b2:
            self._p = max(self._p - _ratio(b1, b2), 0.0)
            self._b2.pop(key)
        else:
            return False
        return True

    def _case_a(self) -> bool:
        """Whether T1 + B1 and the incoming entry (1 byte if unknown) overflow the budget."""
        incoming = 1 if self._incoming is None else self._incoming[1]
        return self._t1.bytes + self._b1.bytes + incoming > self._budget.capacity

    def _replace_takes_t1(self) -> bool:
        """REPLACE takes T1's LRU entry when T1 is above its target (or at it, for a B2 hit)."""
        t1 = self._t1.bytes
        return (bool(self._t1) and (t1 > self._p or (t1 == self._p and self._in_b2))) or (
            not self._t2
        )

    def _drop(self, source: SizedQueue) -> tuple[Hashable, int]:
        key = source.oldest()
        size = source.pop(key)
        self._budget.sub(size)
        return key, size

    def _all_bytes(self) -> int:
        return self._t1.bytes + self._t2.bytes + self._b1.bytes + self._b2.bytes


def _ratio(other: int, own: int) -> float:
    """ARC's adaptation step, ``max(other / own, 1)``; a ghost list of zero-byte entries (empty
    values, remembered absences) steps by 1."""
    return max(other / own, 1.0) if own else 1.0
