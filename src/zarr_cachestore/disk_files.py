"""The value files of a disk tier: one file per entry, named by a version token.

A value is written to ``<token>.tmp`` and renamed to ``<token>``; the index lists the entry
only after that. The file is fsynced first only where the machine's boot cannot be told apart
from the last one (see :func:`boot_id`): the kernel keeps a killed process's writes, so only a
crash of the whole machine can tear a file, and the tier checks every file after a reboot.

A token is never reused, so a file name always means one value: a reader that finds the file
finds the bytes the index describes, or (after an eviction) no file at all.
Files live in 256 subdirectories by the token's first two hex digits.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import google_crc32c

__all__ = ["TEMP_SUFFIX", "ValueFiles", "boot_id", "checksum"]

TEMP_SUFFIX = ".tmp"


def boot_id() -> str | None:
    """An identifier of this boot of the machine, or ``None`` where the system has none."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def checksum(data: bytes) -> int:
    """CRC-32C of ``data``: catches torn and damaged files, in hardware where the CPU has it
    (about ten times the speed of ``zlib.crc32``)."""
    return int(google_crc32c.value(data))


class ValueFiles:
    """The directory of value files under ``root``; ``fsync`` each file before it is named."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = root
        self.fsync = fsync
        self._made: set[str] = set()

    @staticmethod
    def new_token() -> str:
        """A file name never used before, by any process."""
        return uuid.uuid4().hex

    def path(self, token: str) -> Path:
        return self.root / token[:2] / token

    def write(self, token: str, value: bytes) -> None:
        """Write ``value`` under ``token``: a temp file (fsynced if asked), then renamed."""
        final = self.path(token)
        if final.parent.name not in self._made:
            final.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(final.parent.name)
        temp = final.with_name(token + TEMP_SUFFIX)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(value)
            while view:
                view = view[os.write(fd, view) :]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final)

    def read(self, token: str, start: int, stop: int, size: int) -> bytes | None:
        """Bytes ``start:stop`` of the file, or ``None`` if it is gone or not ``size`` long."""
        try:
            fd = os.open(self.path(token), os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            if os.fstat(fd).st_size != size:
                return None
            data = os.pread(fd, stop - start, start)
        finally:
            os.close(fd)
        return data if len(data) == stop - start else None

    def exists(self, token: str) -> bool:
        return self.path(token).exists()

    def remove(self, token: str) -> None:
        """Remove the value file of ``token`` and its temp file, whichever exist."""
        final = self.path(token)
        for path in (final, final.with_name(token + TEMP_SUFFIX)):
            path.unlink(missing_ok=True)

    def listing(self) -> Iterator[tuple[str, int]]:
        """Every file in the directory: its token (temp files under their entry's token) and
        size. Files that vanish while listing are skipped."""
        if not self.root.is_dir():
            return
        for sub in os.scandir(self.root):
            if not sub.is_dir():
                continue
            for entry in os.scandir(sub.path):
                try:
                    size = entry.stat().st_size
                except FileNotFoundError:
                    continue
                yield entry.name.removesuffix(TEMP_SUFFIX), size

    def remove_all(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self._made.clear()
