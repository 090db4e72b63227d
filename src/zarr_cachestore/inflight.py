"""Reads in flight: the tickets that writes make stale, and single flight for misses."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["RETRY", "Flight", "Ticket", "Tickets"]

Keys = str | Callable[[str], bool]  # one key, or the keys a predicate matches

RETRY = object()  # a shared miss whose read was cancelled: each waiter reads for itself


@attrs.define(eq=False)
class Ticket:
    """One read of ``key`` in flight since ``began`` (a clock reading); turned stale when
    ``key`` is written meanwhile, so that its answer is not cached."""

    key: str
    began: float
    stale: bool = False


class Tickets:
    """Open tickets by key."""

    def __init__(self) -> None:
        self._open: dict[str, set[Ticket]] = {}

    def open(self, key: str, began: float) -> Ticket:
        ticket = Ticket(key, began)
        self._open.setdefault(key, set()).add(ticket)
        return ticket

    def close(self, ticket: Ticket) -> None:
        tickets = self._open.get(ticket.key)
        if tickets is not None:
            tickets.discard(ticket)
            if not tickets:
                del self._open[ticket.key]

    def touch(self, keys: Keys, keep: Ticket | None = None) -> None:
        """Make stale every ticket of ``keys``, except ``keep``."""
        if isinstance(keys, str):
            groups = [self._open.get(keys, set())]
        else:
            groups = [tickets for key, tickets in self._open.items() if keys(key)]
        for tickets in groups:
            for ticket in tickets:
                if ticket is not keep:
                    ticket.stale = True

    def __len__(self) -> int:
        return sum(map(len, self._open.values()))


@attrs.define(eq=False)
class Flight:
    """One source read that concurrent identical misses share.

    Its ``waiters`` future is made when the first other read joins (most misses are never
    joined). It is thread-safe, so waiters on other event loops can share it, and it is marked
    running at once, so a cancelled waiter cannot cancel it for the others.
    """

    ticket: Ticket
    waiters: concurrent.futures.Future[Any] | None = None

    @property
    def joined(self) -> bool:
        """Whether another read waited for it."""
        return self.waiters is not None

    def join(self) -> concurrent.futures.Future[Any]:
        """The future a joining read waits on. Under the engine's lock."""
        if self.waiters is None:
            self.waiters = concurrent.futures.Future()
            self.waiters.set_running_or_notify_cancel()
        return self.waiters
