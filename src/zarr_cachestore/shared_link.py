"""One process's link to a shared tier: its namespace there, when to ask what other processes
invalidated, the invalidations it still owes the tier, and the tier's outages.

Every call answers even when the tier cannot be reached: the failure counts as an outage (warned
about once, until the tier answers again) and the caller goes on without the tier, from the
source. A tier that can announce invalidations (:class:`~zarr_cachestore.shared.Watchable`)
wakes the link to ask at once; polling every ``poll_every`` seconds stays the backstop.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from zarr_cachestore.shared import SharedTier, Watchable

if TYPE_CHECKING:
    from zarr.abc.store import ByteRequest

    from zarr_cachestore.stats import Faults

__all__ = ["SharedLink"]

T = TypeVar("T")
_ALL, _PREFIX = "\0all", "\0prefix"  # owed invalidations of a whole namespace, of a prefix


class SharedLink:
    """``namespace`` of ``tier``, as one process sees it."""

    def __init__(self, tier: SharedTier, namespace: str, poll_every: float, faults: Faults) -> None:
        self.tier = tier
        self.namespace = namespace
        self.poll_every = poll_every
        self.faults = faults
        self.poll_at = 0.0  # when (monotonic clock) to ask what other processes invalidated
        self._cursor: int | None = None  # how far this process read the invalidation log
        self._unsent: set[str] = set()  # invalidations the tier has not taken yet
        self._lock = threading.Lock()
        self.stop_watching = self._watch()  # ends the tier's wake-ups; polling goes on

    async def changes(self) -> list[str] | None:
        """The keys other processes invalidated since the last call; ``None`` when what was
        missed is unknown (the tier cannot say, or cannot be reached): drop everything."""
        self.poll_at = time.monotonic() + self.poll_every
        try:
            self._cursor, keys = await self.tier.changes(self.namespace, self._cursor)
        except Exception as error:
            self.faults.outage(error)
            self._cursor = None
            return None
        self.faults.recovered()
        return keys

    async def get(self, key: str, request: ByteRequest | None) -> bytes | None:
        """``request`` of ``key``'s value, if the tier holds it and answers."""
        return await self._ask(self.tier.get(self.namespace, key, request))

    async def begin(self, key: str) -> int | None:
        """The token of a source read of ``key`` that begins now, if the tier answers."""
        return await self._ask(self.tier.begin(self.namespace, key))

    async def put(self, key: str, value: bytes, token: int, deadline: float | None) -> None:
        """Offer ``key``'s value, read under ``token``, until ``deadline`` (wall clock)."""
        await self._ask(self.tier.put(self.namespace, key, value, token=token, deadline=deadline))

    async def invalidate(self, keys: str | None, *, prefix: bool = False) -> None:
        """Tell the tier, and so every process, that ``keys`` changed: one key, a prefix, or
        (``None``) the whole namespace. What the tier cannot take now is sent later."""
        with self._lock:
            self._unsent.add(_ALL if keys is None else (_PREFIX + keys if prefix else keys))
        await self.send()

    async def send(self) -> None:
        """Send the invalidations still owed, a whole namespace's first."""
        with self._lock:
            unsent, self._unsent = self._unsent, set()
        try:
            for item in sorted(unsent):
                if item == _ALL:
                    await self.tier.clear(self.namespace)
                elif item.startswith(_PREFIX):
                    await self.tier.invalidate_prefix(self.namespace, item[len(_PREFIX) :])
                else:
                    await self.tier.invalidate(self.namespace, item)
                unsent.discard(item)
        except Exception as error:
            self.faults.outage(error)
            with self._lock:
                self._unsent |= unsent

    async def aclose(self) -> None:
        """Stop the wake-ups and release the tier's connections and files."""
        self.stop_watching()
        await self.tier.aclose()

    async def _ask(self, call: Awaitable[T]) -> T | None:
        try:
            answer = await call
        except Exception as error:
            self.faults.outage(error)
            return None
        self.faults.recovered()
        return answer

    def _watch(self) -> Callable[[], object]:
        """Have the tier wake this link (``poll_at`` now) when another process invalidates
        values, where it can. The watch ends with the link, or when the function returned
        is called."""
        if not isinstance(self.tier, Watchable):
            return lambda: None
        link = weakref.ref(self)

        def wake() -> None:
            woken = link()
            if woken is not None:
                woken.poll_at = 0.0

        return weakref.finalize(self, self.tier.watch(self.namespace, wake).close)
