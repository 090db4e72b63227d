"""S3-FIFO: Yang, Zhang, Qiu, Yue and Rashmi, "FIFO queues are all you need for cache eviction",
SOSP 2023."""

from __future__ import annotations

from collections.abc import Hashable

from zarr_cachestore_policies._common import Budget, Budgeted, SizedQueue

__all__ = ["S3FIFO", "SizedS3FIFO"]


class S3FIFO(Budgeted):
    """Three static FIFO queues: small (10% of the bytes), main (the rest) and a ghost queue.

    New entries join the small queue, or the main queue if their key is a ghost. Hits raise a
    frequency capped at 3. Eviction works on the small queue while it holds at least its share:
    its oldest entry moves to main if hit more than once (frequency reset), else leaves and its key
    joins the ghost queue (bounded, by the sizes it remembers, to the main queue's share). On the
    main queue the oldest entry leaves if its frequency is 0, else is reinserted with it lowered.

    ``capacity`` is the byte budget; by default it is learned (see :class:`Budget`). As published
    (libCacheSim does not insert them), an entry larger than the small queue is not kept: it is
    the next victim. Until a learned capacity is known (the first eviction) no entry is large.
    """

    small_share = 0.1
    keeps_large = False

    def __init__(self, capacity: int | None = None) -> None:
        self._budget = Budget(capacity)
        self._small, self._main, self._ghost = SizedQueue(), SizedQueue(), SizedQueue()
        self._large = SizedQueue()  # entries the published algorithm does not keep
        self._freq: dict[Hashable, int] = {}

    @property
    def small_capacity(self) -> int:
        return int(self._budget.capacity * self.small_share)

    def on_insert(self, key: Hashable, size: int) -> None:
        self._budget.add(size)
        self._freq[key] = 0
        if key in self._ghost:
            self._ghost.pop(key)
            self._main.push(key, size)
        elif self._budget.known and size > self.small_capacity:
            (self._main if self.keeps_large else self._large).push(key, size)
        else:
            self._small.push(key, size)

    def on_hit(self, key: Hashable) -> None:
        self._freq[key] = min(self._freq[key] + 1, 3)

    def on_remove(self, key: Hashable) -> None:
        del self._freq[key]
        self._budget.sub(self._queue(key).pop(key))

    def evict(self) -> Hashable:
        if not self._freq:
            raise LookupError("S3FIFO: no entry to evict")
        self._budget.full = True
        if self._large:
            key = self._large.oldest()
            self._forget(key, self._large.pop(key))
            return key
        if self._small_first():
            while self._small:
                key = self._small.oldest()
                size = self._small.pop(key)
                if self._freq[key] > 1:
                    self._freq[key] = 0
                    self._main.push(key, size)
                    continue
                self._forget(key, size)
                self._ghost.push(key, size)
                while self._ghost.bytes > self._budget.capacity - self.small_capacity:
                    self._ghost.pop(self._ghost.oldest())
                return key
        while True:
            key = self._main.oldest()
            if not self._freq[key]:
                self._forget(key, self._main.pop(key))
                return key
            self._freq[key] -= 1
            self._main.touch(key)

    def peek(self) -> Hashable | None:
        """The next victim when known without moving entries, else ``None``."""
        if not self._freq:
            return None
        if self._large:
            return self._large.oldest()
        if self._small_first():
            key = self._small.oldest()
            return key if self._freq[key] <= 1 else None
        key = self._main.oldest()
        return key if not self._freq[key] else None

    def clear(self) -> None:
        self.__init__(self._budget.fixed)  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self._freq)

    def _small_first(self) -> bool:
        return bool(self._small) and (self._small.bytes >= self.small_capacity or not self._main)

    def _queue(self, key: Hashable) -> SizedQueue:
        if key in self._small:
            return self._small
        return self._main if key in self._main else self._large

    def _forget(self, key: Hashable, size: int) -> None:
        del self._freq[key]
        self._budget.sub(size)


class SizedS3FIFO(S3FIFO):
    """S3-FIFO for large objects: an entry larger than the small queue goes straight to main.

    The published algorithm filters every new object through the small queue, so objects over
    10% of the cache (large zarr chunks) are evicted before they can be hit twice. Here they
    bypass the filter and compete in the main queue's CLOCK like promoted entries.
    """

    keeps_large = True
