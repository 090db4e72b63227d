"""The SQLite index of a disk tier: what is held, the budget, the eviction order, and the log of
invalidations, shared by every process that opens the directory.

Every change runs in one ``BEGIN IMMEDIATE`` transaction, so the processes of a host take turns
and each sees the others' changes whole. A file is created before its entry is listed, and
removed (by the ``remove`` function the index is given) inside the transaction that unlists
it, before the commit: the bytes an entry frees are on no disk by the time another process may
take them. A crash between the removal and the commit leaves an entry without a file, which
the next reader or sweep drops.

Tokens for coherence are positions in the log: :meth:`DiskIndex.token` is the last position,
and a value read from the source after it may enter only if no invalidation logged since then
matches its key. The log keeps its last ``log_size`` rows; a token older than that is refused,
which is always safe for a cache.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from zarr_cachestore.base import EntryInfo
from zarr_cachestore.disk_order import SharedOrder

__all__ = ["DiskIndex", "Entry", "IndexUnreadable"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    max_size INTEGER NOT NULL,
    policy TEXT NOT NULL,
    held INTEGER NOT NULL DEFAULT 0,       -- bytes of entries and reservations
    clock INTEGER NOT NULL DEFAULT 0,      -- logical time: inserts and hits so far
    inflation REAL NOT NULL DEFAULT 0,     -- the priority of the last victim (GDSF's L)
    log_floor INTEGER NOT NULL DEFAULT 0,  -- the log holds every invalidation after this
    swept_at REAL NOT NULL DEFAULT 0,      -- time.time() of the last sweep
    boot TEXT NOT NULL DEFAULT ''          -- the boot whose files have all been checked
);
CREATE TABLE IF NOT EXISTS entries (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    file TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    checksum INTEGER NOT NULL,             -- CRC-32C of the value
    deadline REAL,                         -- time.time() seconds, NULL for never
    hits INTEGER NOT NULL,
    inserted_at INTEGER NOT NULL,
    last_access INTEGER NOT NULL,
    priority REAL NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS entries_by_priority ON entries (priority, last_access);
CREATE INDEX IF NOT EXISTS entries_by_deadline ON entries (deadline) WHERE deadline IS NOT NULL;
CREATE TABLE IF NOT EXISTS reservations (  -- room taken by values being written
    file TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    writer INTEGER NOT NULL,               -- the writing process's pid
    reserved_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT,                        -- NULL: every namespace
    kind TEXT NOT NULL CHECK (kind IN ('key', 'prefix', 'clear')),
    key TEXT                               -- the key, the prefix, or NULL for a clear
);
"""

_MATCHES = """
    seq > :token AND (namespace IS NULL OR namespace = :namespace) AND (
        kind = 'clear' OR (kind = 'key' AND key = :key)
        OR (kind = 'prefix' AND substr(:key, 1, length(key)) = key))
"""

_IN_PREFIX = (
    "namespace = :namespace AND key >= :prefix AND substr(key, 1, length(:prefix)) = :prefix"
)


class IndexUnreadable(RuntimeError):
    """The index cannot be opened as it is."""


@attrs.frozen
class Entry:
    """What the index records of one held value."""

    file: str
    size: int
    checksum: int
    deadline: float | None


def _close_all(connections: list[sqlite3.Connection]) -> None:
    for conn in connections:
        conn.close()
    connections.clear()


class DiskIndex:
    """The index file at ``path``; one SQLite connection per thread."""

    def __init__(
        self,
        path: Path,
        remove: Callable[[str], None],
        order: SharedOrder | None = None,
        *,
        busy_timeout: float = 30.0,
        log_size: int = 10_000,
        hit_interval: float = 1.0,
    ) -> None:
        if log_size < 1:
            raise ValueError(f"log_size must be at least 1, got {log_size}")
        self.path = path
        self._remove = remove
        self._order = order
        self.hit_interval = hit_interval
        self._hits: list[tuple[str, str, str]] = []  # (namespace, key, file), oldest first
        self._written = time.monotonic()
        self.busy_timeout = busy_timeout
        self.log_size = log_size
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        # An index dropped without close() closes its connections all the same.
        weakref.finalize(self, _close_all, self._connections)

    # -- connections and transactions

    def _connection(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:  # forked: the parent's connections are not ours to use
            self._pid, self._local = os.getpid(), threading.local()
            self._connections.clear()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)  # closed with the others, even if the next fails
            conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; it first counts the hits this process noted since the last."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        with self._lock:
            hits, self._hits = self._hits, []
        try:
            self._apply_hits(conn, hits)
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            with self._lock:
                self._hits[:0] = hits
            raise
        conn.execute("COMMIT")
        self._written = time.monotonic()

    def close(self) -> None:
        with self._lock:
            _close_all(self._connections)
        self._local = threading.local()

    # -- opening

    def open(self, max_size: int, policy: str, *, reset: bool) -> None:
        """Create the index or check it: a tier keeps one order, so a different ``policy``
        is refused unless ``reset``; ``max_size`` becomes the budget."""
        try:
            conn = self._connection()
            conn.execute("PRAGMA journal_mode = WAL")
            with self._write() as conn:
                for statement in _SCHEMA.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO meta (id, max_size, policy) VALUES (0, ?, ?)",
                    (max_size, policy),
                )
                (recorded,) = conn.execute("SELECT policy FROM meta").fetchone()
                if recorded != policy and not reset:
                    raise ValueError(
                        f"the disk tier at {self.path.parent} orders its entries by {recorded!r}, "
                        f"not {policy!r}: open it with policy={recorded!r}, or with warm=False "
                        "to drop what it holds and start anew"
                    )
                conn.execute("UPDATE meta SET max_size = ?, policy = ?", (max_size, policy))
        except sqlite3.DatabaseError as error:
            self.close()
            raise IndexUnreadable(f"cannot open the index {self.path}: {error}") from error

    def checked_boot(self) -> str:
        """The boot of the machine after which every value file was last checked."""
        return str(self._connection().execute("SELECT boot FROM meta").fetchone()[0])

    def set_checked_boot(self, boot: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE meta SET boot = ?", (boot,))

    def listing(self) -> list[tuple[str, str, Entry]]:
        """Every entry: (namespace, key, entry)."""
        rows = self._connection().execute(
            "SELECT namespace, key, file, size, checksum, deadline FROM entries"
        )
        return [(ns, key, Entry(*entry)) for ns, key, *entry in rows]

    # -- coherence

    def token(self) -> int:
        """The position of the last invalidation logged."""
        row = self._connection().execute("SELECT seq FROM sqlite_sequence WHERE name = 'log'")
        found = row.fetchone()
        return int(found[0]) if found else 0

    def _invalidated(self, conn: sqlite3.Connection, namespace: str, key: str, token: int) -> bool:
        (floor,) = conn.execute("SELECT log_floor FROM meta").fetchone()
        if not floor <= token <= self.token():  # trimmed, or from an index since recreated
            return True
        args = {"token": token, "namespace": namespace, "key": key}
        match = conn.execute(f"SELECT 1 FROM log WHERE {_MATCHES} LIMIT 1", args)
        return match.fetchone() is not None

    def _log(
        self, conn: sqlite3.Connection, namespace: str | None, kind: str, key: str | None
    ) -> None:
        cursor = conn.execute(
            "INSERT INTO log (namespace, kind, key) VALUES (?, ?, ?)", (namespace, kind, key)
        )
        assert cursor.lastrowid is not None
        floor = cursor.lastrowid - self.log_size
        if floor > 0:
            conn.execute("DELETE FROM log WHERE seq <= ?", (floor,))
            conn.execute("UPDATE meta SET log_floor = max(log_floor, ?)", (floor,))

    def changes(self, namespace: str, cursor: int | None) -> tuple[int, list[str] | None]:
        """See :meth:`zarr_cachestore.shared.SharedTier.changes`."""
        conn = self._connection()
        conn.execute("BEGIN")  # one snapshot for the floor, the rows and the new cursor
        try:
            now = self.token()
            (floor,) = conn.execute("SELECT log_floor FROM meta").fetchone()
            if cursor is None or not floor <= cursor <= now:
                return now, None
            rows = conn.execute(
                "SELECT kind, key FROM log WHERE seq > ? AND seq <= ? "
                "AND (namespace IS NULL OR namespace = ?) ORDER BY seq",
                (cursor, now, namespace),
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        if any(kind != "key" for kind, _ in rows):
            return now, None
        return now, list(dict.fromkeys(key for _, key in rows))

    # -- reading

    def lookup(self, namespace: str, key: str) -> Entry | None:
        """The entry of ``key`` as last committed, read without a lock."""
        row = self._connection().execute(
            "SELECT file, size, checksum, deadline FROM entries WHERE namespace = ? AND key = ?",
            (namespace, key),
        )
        found = row.fetchone()
        return None if found is None else Entry(*found)

    def count_hit(self, namespace: str, key: str, file: str) -> None:
        """Note a hit on the entry in ``file``; it reaches the shared order with this
        process's next write, or at :meth:`flush_hits`."""
        with self._lock:
            self._hits.append((namespace, key, file))

    def hits_due(self) -> bool:
        """Whether hits wait to be written and the last write is ``hit_interval`` old."""
        return bool(self._hits) and time.monotonic() - self._written >= self.hit_interval

    def flush_hits(self) -> None:
        if self._hits:
            with self._write():
                pass

    def _apply_hits(self, conn: sqlite3.Connection, hits: list[tuple[str, str, str]]) -> None:
        """Count ``hits`` in the order they happened: each ticks the clock and sets the
        entry's priority anew, unless its entry left or was replaced since."""
        if self._order is None:
            return
        for namespace, key, file in hits:
            row = conn.execute(
                "SELECT size, hits, inserted_at FROM entries "
                "WHERE namespace = ? AND key = ? AND file = ?",
                (namespace, key, file),
            ).fetchone()
            if row is None:
                continue
            clock, inflation = self._tick(conn)
            info = EntryInfo(row[0], row[1] + 1, row[2], clock)
            conn.execute(
                "UPDATE entries SET hits = ?, last_access = ?, priority = ? "
                "WHERE namespace = ? AND key = ?",
                (info.hits, clock, self._order.priority(key, info, inflation), namespace, key),
            )

    def drop(self, namespace: str, key: str, file: str) -> None:
        """Unlist ``key`` if its entry is still the one in ``file`` (found damaged or gone)."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT size FROM entries WHERE namespace = ? AND key = ? AND file = ?",
                (namespace, key, file),
            ).fetchone()
            if row is not None:
                self._delete(conn, [(namespace, key, file, row[0])])

    # -- writing

    def reserve(
        self, namespace: str, key: str, size: int, token: int, file: str, now: float
    ) -> bool:
        """Take ``size`` bytes of the budget for ``file``, dropping expired entries first and
        then evicting by priority. Refused (nothing dropped) if ``key`` was invalidated since
        ``token`` or the value cannot fit."""
        try:
            with self._write() as conn:
                if self._invalidated(conn, namespace, key, token):
                    return False
                self._make_room(conn, size, now)
                conn.execute(
                    "INSERT INTO reservations (file, size, writer, reserved_at) "
                    "VALUES (?, ?, ?, ?)",
                    (file, size, os.getpid(), now),
                )
                conn.execute("UPDATE meta SET held = held + ?", (size,))
                return True
        except _NoRoom:
            return False

    def _make_room(self, conn: sqlite3.Connection, size: int, now: float) -> None:
        max_size, held = conn.execute("SELECT max_size, held FROM meta").fetchone()
        if size > max_size:
            raise _NoRoom
        if held + size > max_size:
            expired = conn.execute(
                "SELECT namespace, key, file, size FROM entries WHERE deadline <= ?", (now,)
            ).fetchall()
            self._delete(conn, expired)
            held -= sum(row[3] for row in expired)
        while held + size > max_size:
            victim = conn.execute(
                "SELECT namespace, key, file, size, priority FROM entries "
                "ORDER BY priority, last_access LIMIT 1"
            ).fetchone()
            if victim is None:  # the rest of the budget is being written by others
                raise _NoRoom
            self._delete(conn, [victim[:4]])
            conn.execute("UPDATE meta SET inflation = ?", (victim[4],))
            held -= victim[3]

    def admit(self, namespace: str, key: str, entry: Entry, token: int, order: SharedOrder) -> bool:
        """List the value written to ``entry.file`` under its reservation, replacing the one
        held for ``key``; refused, and its file removed, if ``key`` was invalidated since
        ``token`` or the reservation was swept as abandoned."""
        with self._write() as conn:
            reserved = conn.execute(
                "DELETE FROM reservations WHERE file = ?", (entry.file,)
            ).rowcount
            if not reserved:  # swept as abandoned: the room is no longer ours
                self._remove(entry.file)
                return False
            if self._invalidated(conn, namespace, key, token):
                self._remove(entry.file)
                conn.execute("UPDATE meta SET held = held - ?", (entry.size,))
                return False
            old = conn.execute(
                "SELECT namespace, key, file, size FROM entries WHERE namespace = ? AND key = ?",
                (namespace, key),
            ).fetchall()
            self._delete(conn, old)
            clock, inflation = self._tick(conn)
            info = EntryInfo(entry.size, 0, clock, clock)
            conn.execute(
                "INSERT INTO entries (namespace, key, file, size, checksum, deadline, hits, "
                "inserted_at, last_access, priority) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                (
                    namespace,
                    key,
                    entry.file,
                    entry.size,
                    entry.checksum,
                    entry.deadline,
                    clock,
                    clock,
                    order.priority(key, info, inflation),
                ),
            )
        return True

    def release(self, file: str) -> None:
        """Give back the reservation of a value that could not be written."""
        with self._write() as conn:
            self._remove(file)
            reserved = conn.execute("SELECT size FROM reservations WHERE file = ?", (file,))
            row = reserved.fetchone()
            if row is not None:
                conn.execute("DELETE FROM reservations WHERE file = ?", (file,))
                conn.execute("UPDATE meta SET held = held - ?", (row[0],))

    # -- invalidation

    def invalidate(self, namespace: str, key: str) -> None:
        with self._write() as conn:
            self._log(conn, namespace, "key", key)
            rows = conn.execute(
                "SELECT namespace, key, file, size FROM entries WHERE namespace = ? AND key = ?",
                (namespace, key),
            ).fetchall()
            self._delete(conn, rows)

    def invalidate_prefix(self, namespace: str, prefix: str) -> None:
        with self._write() as conn:
            self._log(conn, namespace, "prefix", prefix)
            rows = conn.execute(
                f"SELECT namespace, key, file, size FROM entries WHERE {_IN_PREFIX}",
                {"namespace": namespace, "prefix": prefix},
            ).fetchall()
            self._delete(conn, rows)

    def clear(self, namespace: str | None) -> None:
        with self._write() as conn:
            self._log(conn, namespace, "clear", None)
            rows = conn.execute(
                "SELECT namespace, key, file, size FROM entries WHERE ?1 IS NULL OR namespace = ?1",
                (namespace,),
            ).fetchall()
            self._delete(conn, rows)

    # -- upkeep

    def sweep_due(self, now: float, interval: float) -> bool:
        """Claim the periodic sweep if it is due; only one process gets it."""
        with self._write() as conn:
            claimed = conn.execute(
                "UPDATE meta SET swept_at = ? WHERE swept_at <= ?", (now, now - interval)
            )
            return claimed.rowcount == 1

    def sweep(
        self,
        listing: Iterable[str],
        exists: Callable[[str], bool],
        alive: Callable[[int], bool],
        now: float,
        lease: float,
    ) -> None:
        """Reconcile the index with a listing of the files taken just before: drop
        reservations of dead writers and entries whose file is gone, remove the files no row
        lists, and recount the bytes held."""
        with self._write() as conn:
            abandoned = [
                file
                for file, writer, reserved_at in conn.execute(
                    "SELECT file, writer, reserved_at FROM reservations"
                )
                if not alive(writer) or reserved_at < now - lease
            ]
            for file in abandoned:
                self._remove(file)
                conn.execute("DELETE FROM reservations WHERE file = ?", (file,))
            rows = conn.execute("SELECT namespace, key, file, size FROM entries").fetchall()
            self._delete(conn, [row for row in rows if not exists(row[2])])
            listed = {row[0] for row in conn.execute("SELECT file FROM entries")}
            listed |= {row[0] for row in conn.execute("SELECT file FROM reservations")}
            for file in set(listing) - listed:
                self._remove(file)
            conn.execute(
                "UPDATE meta SET swept_at = ?, held = "
                "(SELECT total(size) FROM entries) + (SELECT total(size) FROM reservations)",
                (now,),
            )

    # -- reporting

    def stats(self) -> dict[str, Any]:
        """The budget, the bytes held and reserved, and entries and bytes per namespace."""
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            max_size, policy, held, clock = conn.execute(
                "SELECT max_size, policy, held, clock FROM meta"
            ).fetchone()
            (reserved,) = conn.execute("SELECT total(size) FROM reservations").fetchone()
            namespaces = {
                namespace: {"entries": entries, "bytes": int(nbytes)}
                for namespace, entries, nbytes in conn.execute(
                    "SELECT namespace, count(*), total(size) FROM entries "
                    "GROUP BY namespace ORDER BY namespace"
                )
            }
        finally:
            conn.execute("COMMIT")
        return {
            "max_size": max_size,
            "policy": policy,
            "bytes": held - int(reserved),
            "reserved": int(reserved),
            "entries": sum(ns["entries"] for ns in namespaces.values()),
            "clock": clock,
            "namespaces": namespaces,
        }

    # -- helpers

    @staticmethod
    def _tick(conn: sqlite3.Connection) -> tuple[int, float]:
        row = conn.execute("UPDATE meta SET clock = clock + 1 RETURNING clock, inflation")
        clock, inflation = row.fetchone()
        return int(clock), float(inflation)

    def _delete(self, conn: sqlite3.Connection, rows: Iterable[tuple[Any, ...]]) -> None:
        """Unlist entries given as (namespace, key, file, size) and remove their files."""
        rows = list(rows)
        for row in rows:
            self._remove(row[2])
        conn.executemany(
            "DELETE FROM entries WHERE namespace = ? AND key = ?", [row[:2] for row in rows]
        )
        conn.execute("UPDATE meta SET held = held - ?", (sum(row[3] for row in rows),))


class _NoRoom(Exception):
    """The value cannot fit: the transaction rolls back."""
