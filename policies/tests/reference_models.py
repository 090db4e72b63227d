"""Slow, list-based reference versions of every policy, written to be checked by eye.

Each keeps its queues as Python lists ordered oldest (or least recently used) first and does
the obvious linear-time thing. They share the policies' capacity rule: the fixed capacity if
given, else the peak of bytes tracked.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from zarr_cachestore_policies import CountMinSketch


class Learned:
    """Bytes tracked and the capacity: fixed, or the peak of bytes tracked."""

    def __init__(self, capacity: int | None) -> None:
        self.fixed, self.used, self.peak = capacity, 0, 0
        self.full = False  # an eviction happened: a learned capacity is known

    @property
    def known(self) -> bool:
        return self.fixed is not None or self.full

    def add(self, size: int) -> None:
        self.used += size
        self.peak = max(self.peak, self.used)

    @property
    def capacity(self) -> int:
        return self.peak if self.fixed is None else self.fixed


def index(queue: list[Any], key: Hashable) -> int:
    return [entry[0] for entry in queue].index(key)


class RefSieve:
    def __init__(self) -> None:
        self.queue: list[list[Any]] = []  # [key, visited], oldest first
        self.hand: int | None = None  # None: start at the oldest

    def on_insert(self, key: Hashable, size: int) -> None:
        self.queue.append([key, False])

    def on_hit(self, key: Hashable) -> None:
        self.queue[index(self.queue, key)][1] = True

    def on_remove(self, key: Hashable) -> None:
        i = index(self.queue, key)
        del self.queue[i]
        if self.hand is not None and self.hand > i:
            self.hand -= 1
        if self.hand is not None and self.hand >= len(self.queue):
            self.hand = None

    def peek(self) -> Hashable | None:
        if not self.queue:
            return None
        i = 0 if self.hand is None else self.hand
        while self.queue[i][1]:
            self.queue[i][1] = False
            i = (i + 1) % len(self.queue)
        self.hand = i
        return self.queue[i][0]  # type: ignore[no-any-return]

    def evict(self) -> Hashable:
        key = self.peek()
        self.on_remove(key)
        return key

    def __len__(self) -> int:
        return len(self.queue)


class RefClock:
    def __init__(self) -> None:
        self.queue: list[list[Any]] = []  # [key, referenced], oldest first

    def on_insert(self, key: Hashable, size: int) -> None:
        self.queue.append([key, False])

    def on_hit(self, key: Hashable) -> None:
        self.queue[index(self.queue, key)][1] = True

    def on_remove(self, key: Hashable) -> None:
        del self.queue[index(self.queue, key)]

    def peek(self) -> Hashable | None:
        while self.queue and self.queue[0][1]:
            entry = self.queue.pop(0)
            entry[1] = False
            self.queue.append(entry)
        return self.queue[0][0] if self.queue else None

    def evict(self) -> Hashable:
        key = self.peek()
        self.queue.pop(0)
        return key

    def __len__(self) -> int:
        return len(self.queue)


def total(queue: list[tuple[Hashable, int]]) -> int:
    return sum(size for _, size in queue)


class RefARC:
    def __init__(self, capacity: int | None = None) -> None:
        self.budget = Learned(capacity)
        self.t1: list[tuple[Hashable, int]] = []  # LRU first
        self.t2: list[tuple[Hashable, int]] = []
        self.b1: list[tuple[Hashable, int]] = []
        self.b2: list[tuple[Hashable, int]] = []
        self.p = 0.0
        self.incoming: tuple[Hashable, int] | None = None
        self.ghost_hit = self.in_b2 = False

    def ghost(self, key: Hashable) -> bool:
        c = self.budget.capacity
        if key in [k for k, _ in self.b1]:
            self.p = min(self.p + max(total(self.b2) / max(total(self.b1), 1), 1), c)
            del self.b1[index(self.b1, key)]
            return True
        if key in [k for k, _ in self.b2]:
            self.p = max(self.p - max(total(self.b1) / max(total(self.b2), 1), 1), 0)
            del self.b2[index(self.b2, key)]
            return True
        return False

    def before_insert(self, key: Hashable, size: int) -> None:
        self.in_b2 = key in [k for k, _ in self.b2]
        self.ghost_hit = self.ghost(key)
        self.incoming = (key, size)

    def on_insert(self, key: Hashable, size: int) -> None:
        hit = self.ghost_hit if self.incoming and self.incoming[0] == key else self.ghost(key)
        (self.t2 if hit else self.t1).append((key, size))
        self.budget.add(size)
        self.incoming, self.ghost_hit, self.in_b2 = None, False, False

    def on_hit(self, key: Hashable) -> None:
        for queue in (self.t1, self.t2):
            if key in [k for k, _ in queue]:
                self.t2.append(queue.pop(index(queue, key)))
                return

    def on_remove(self, key: Hashable) -> None:
        queue = self.t1 if key in [k for k, _ in self.t1] else self.t2
        self.budget.used -= queue.pop(index(queue, key))[1]

    def takes_t1(self) -> bool:
        t1 = total(self.t1)
        return (bool(self.t1) and (t1 > self.p or (t1 == self.p and self.in_b2))) or not self.t2

    def l1_full(self) -> bool:
        incoming = self.incoming[1] if self.incoming else 1
        return total(self.t1) + total(self.b1) + incoming > self.budget.capacity

    def peek(self) -> Hashable | None:
        if not self.t1 and not self.t2:
            return None
        if not self.ghost_hit and self.l1_full() and not self.b1 and self.t1:
            return self.t1[0][0]
        return (self.t1 if self.takes_t1() else self.t2)[0][0]

    def evict(self) -> Hashable:
        c = self.budget.capacity
        if not self.ghost_hit and self.l1_full():
            if self.b1:
                self.b1.pop(0)
            elif self.t1:
                key, size = self.t1.pop(0)
                self.budget.used -= size
                return key
        elif (
            self.b2 and not self.ghost_hit and total(self.t1 + self.t2 + self.b1 + self.b2) >= 2 * c
        ):
            self.b2.pop(0)
        source, ghosts = (self.t1, self.b1) if self.takes_t1() else (self.t2, self.b2)
        key, size = source.pop(0)
        ghosts.append((key, size))
        self.budget.used -= size
        return key

    def __len__(self) -> int:
        return len(self.t1) + len(self.t2)


class RefS3FIFO:
    def __init__(self, capacity: int | None = None, *, sized: bool = False) -> None:
        self.budget = Learned(capacity)
        self.sized = sized
        self.small: list[list[Any]] = []  # [key, size, freq], oldest first
        self.main: list[list[Any]] = []
        self.ghost: list[tuple[Hashable, int]] = []
        self.large: list[list[Any]] = []  # not kept: the next victims

    def small_cap(self) -> int:
        return int(self.budget.capacity * 0.1)

    def find(self, key: Hashable) -> list[Any]:
        return next(e for e in self.small + self.main + self.large if e[0] == key)

    def on_insert(self, key: Hashable, size: int) -> None:
        self.budget.add(size)
        if key in [k for k, _ in self.ghost]:
            del self.ghost[index(self.ghost, key)]
            self.main.append([key, size, 0])
        elif self.budget.known and size > self.small_cap():
            (self.main if self.sized else self.large).append([key, size, 0])
        else:
            self.small.append([key, size, 0])

    def on_hit(self, key: Hashable) -> None:
        entry = self.find(key)
        entry[2] = min(entry[2] + 1, 3)

    def on_remove(self, key: Hashable) -> None:
        entry = self.find(key)
        next(q for q in (self.small, self.main, self.large) if entry in q).remove(entry)
        self.budget.used -= entry[1]

    def small_first(self) -> bool:
        return bool(self.small) and (total_s(self.small) >= self.small_cap() or not self.main)

    def peek(self) -> Hashable | None:
        if not len(self):
            return None
        if self.large:
            return self.large[0][0]  # type: ignore[no-any-return]
        if self.small_first():
            return self.small[0][0] if self.small[0][2] <= 1 else None
        return self.main[0][0] if self.main[0][2] == 0 else None

    def evict(self) -> Hashable:
        self.budget.full = True
        if self.large:
            key, size, _ = self.large.pop(0)
            self.budget.used -= size
            return key  # type: ignore[no-any-return]
        if self.small_first():
            while self.small:
                key, size, freq = self.small.pop(0)
                if freq > 1:
                    self.main.append([key, size, 0])
                    continue
                self.budget.used -= size
                self.ghost.append((key, size))
                while total(self.ghost) > self.budget.capacity - self.small_cap():
                    self.ghost.pop(0)
                return key  # type: ignore[no-any-return]
        while self.main[0][2] > 0:
            entry = self.main.pop(0)
            entry[2] -= 1
            self.main.append(entry)
        key, size, _ = self.main.pop(0)
        self.budget.used -= size
        return key  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return len(self.small) + len(self.main) + len(self.large)


def total_s(queue: list[list[Any]]) -> int:
    return sum(entry[1] for entry in queue)


class RefWTinyLFU:
    def __init__(
        self, capacity: int | None, sketch: CountMinSketch, *, share: float, sized: bool
    ) -> None:
        self.budget = Learned(capacity)
        self.sketch, self.share, self.sized = sketch, share, sized
        self.window: list[tuple[Hashable, int]] = []  # LRU first
        self.probation: list[tuple[Hashable, int]] = []
        self.protected: list[tuple[Hashable, int]] = []
        self.largest = [0, 0]  # this sketch period, the one before
        self.large: list[tuple[Hashable, int]] = []  # not kept: the next victims

    def window_cap(self) -> int:
        cap = int(self.budget.capacity * self.share)
        if self.sized:
            cap = min(max(cap, *self.largest), self.budget.capacity)
        return cap

    def count(self, key: Hashable, size: int) -> None:
        self.largest[0] = max(self.largest[0], size)
        if self.sketch.increment(key):
            self.largest = [0, self.largest[0]]

    def where(self, key: Hashable) -> list[tuple[Hashable, int]]:
        queues = (self.window, self.probation, self.protected, self.large)
        return next(q for q in queues if key in dict(q))

    def on_insert(self, key: Hashable, size: int) -> None:
        self.budget.add(size)
        self.count(key, size)
        large = self.budget.known and size > self.window_cap()
        (self.large if large else self.window).append((key, size))

    def on_hit(self, key: Hashable) -> None:
        self.count(key, 0)
        queue = self.where(key)
        if queue is self.large:
            return
        entry = queue.pop(index(queue, key))
        if queue is not self.probation:  # window and protected: move to the MRU end
            queue.append(entry)
            return
        self.protected.append(entry)
        main = self.budget.capacity - self.window_cap()
        while total(self.protected) > int(main * 0.8):
            self.probation.append(self.protected.pop(0))

    def on_remove(self, key: Hashable) -> None:
        queue = self.where(key)
        self.budget.used -= queue.pop(index(queue, key))[1]

    def decide(self) -> tuple[Hashable | None, Hashable | None]:
        if self.large:
            return self.large[0][0], None
        main = self.probation + self.protected
        main_victim = main[0][0] if main else None
        cap = self.window_cap()
        if not self.window or total(self.window) <= cap:
            return (main_victim if main else self.window[0][0]), None
        candidate, size = self.window[0]
        if size <= self.budget.capacity - cap - total(main):
            return None, candidate
        if main_victim is None:
            return candidate, None
        if self.sketch.estimate(candidate) > self.sketch.estimate(main_victim):
            return main_victim, candidate
        return candidate, None

    def peek(self) -> Hashable | None:
        return self.decide()[0] if len(self) else None

    def evict(self) -> Hashable:
        self.budget.full = True
        while True:
            victim, candidate = self.decide()
            if candidate is not None:
                self.probation.append(self.window.pop(0))
            if victim is not None:
                self.on_remove(victim)
                return victim

    def __len__(self) -> int:
        return len(self.window) + len(self.probation) + len(self.protected) + len(self.large)


class RefGDSF:
    def __init__(self) -> None:
        self.inflation = 0.0
        self.entries: dict[Hashable, list[Any]] = {}  # key -> [priority, order, freq, size]
        self.order = 0

    def set_priority(self, key: Hashable) -> None:
        entry = self.entries[key]
        entry[0] = self.inflation + entry[2] / entry[3]
        entry[1] = self.order
        self.order += 1

    def on_insert(self, key: Hashable, size: int) -> None:
        self.entries[key] = [0.0, 0, 1, max(size, 1)]
        self.set_priority(key)

    def on_hit(self, key: Hashable) -> None:
        self.entries[key][2] += 1
        self.set_priority(key)

    def on_remove(self, key: Hashable) -> None:
        del self.entries[key]

    def peek(self) -> Hashable | None:
        if not self.entries:
            return None
        return min(self.entries, key=lambda k: tuple(self.entries[k][:2]))

    def evict(self) -> Hashable:
        key = self.peek()
        self.inflation = self.entries.pop(key)[0]
        return key

    def __len__(self) -> int:
        return len(self.entries)


def chunk_of(key: Hashable) -> tuple[str | None, tuple[int, ...]]:
    from zarr_cachestore.chunks import parse_chunk_key

    store_key = key if isinstance(key, str) else getattr(key, "key", None)
    chunk = parse_chunk_key(store_key) if isinstance(store_key, str) else None
    return (None, ()) if chunk is None else (chunk.array, chunk.coords)


class RefFrontier:
    """Lists oldest first; every reader is [last coords, heading, run]."""

    def __init__(self, capacity: int | None = None, *, reach: int = 4, scan: int = 8) -> None:
        self.budget = Learned(capacity)
        self.reach, self.scan = reach, scan
        self.probation: list[Hashable] = []
        self.protected: list[Hashable] = []
        self.ghosts: list[Hashable] = []
        self.entries: dict[Hashable, list[Any]] = {}  # key -> [size, array, coords, run]
        self.readers: dict[str, list[Any]] = {}

    def move(self, array: str | None, coords: tuple[int, ...]) -> int:
        if array is None:
            return 0
        if array not in self.readers or len(self.readers[array][0]) != len(coords):
            self.readers[array] = [coords, [0.0] * len(coords), 0]
        reader = self.readers[array]
        step = [c - a for c, a in zip(coords, reader[0], strict=True)]
        if step and max(abs(s) for s in step) > self.reach:
            reader[2] += 1  # a jump: a new run
        else:
            reader[1] = [0.9 * h + 0.1 * s for h, s in zip(reader[1], step, strict=True)]
        reader[0] = coords
        return reader[2]  # type: ignore[no-any-return]

    def protect(self, key: Hashable) -> None:
        self.protected.append(key)
        while (
            self.budget.known
            and sum(self.entries[k][0] for k in self.protected) > 0.5 * self.budget.capacity
            and len(self.protected) > 1
        ):
            self.probation.append(self.protected.pop(0))

    def on_insert(self, key: Hashable, size: int) -> None:
        array, coords = chunk_of(key)
        self.entries[key] = [size, array, coords, self.move(array, coords)]
        self.budget.add(size)
        if key in self.ghosts:
            self.ghosts.remove(key)
            self.protect(key)
        else:
            self.probation.append(key)

    def on_hit(self, key: Hashable) -> None:
        entry = self.entries[key]
        run = self.move(entry[1], entry[2])
        returned = entry[1] is None or run != entry[3]
        entry[3] = run
        if key in self.protected:
            self.protected.remove(key)
            self.protected.append(key)
        elif returned:
            self.probation.remove(key)
            self.protect(key)
        else:
            self.probation.remove(key)
            self.probation.append(key)

    def on_remove(self, key: Hashable) -> None:
        self.budget.used -= self.entries.pop(key)[0]
        (self.protected if key in self.protected else self.probation).remove(key)

    def remoteness(self, key: Hashable) -> float:
        _, array, coords, _ = self.entries[key]
        if array is None or len(self.readers[array][0]) != len(coords):
            return 0.0
        at, heading, _ = self.readers[array]
        offset = [c - a for c, a in zip(coords, at, strict=True)]
        distance = float(max(abs(o) for o in offset)) if offset else 0.0
        behind = sum(o * h for o, h in zip(offset, heading, strict=True)) < 0
        return 2 * distance if behind else distance

    def peek(self) -> Hashable | None:
        if self.probation:
            candidates = self.probation[: self.scan]
            best = max(self.remoteness(k) for k in candidates)
            return next(k for k in candidates if self.remoteness(k) == best)
        return self.protected[0] if self.protected else None

    def evict(self) -> Hashable:
        key = self.peek()
        from_probation = key in self.probation
        self.on_remove(key)
        if from_probation:
            self.ghosts.append(key)
            self.ghosts = self.ghosts[-max(len(self.entries), 1) :]
        self.budget.full = True
        return key

    def __len__(self) -> int:
        return len(self.entries)
