"""What a store key says about a zarr chunk: the array it belongs to and its grid coordinates.

zarr v3's default chunk key encoding writes ``c/1/2`` (or ``c.1.2``) below the array's path;
the v2 encoding writes ``1.2`` (or ``1/2``). A key is read without the array's metadata, so one
case stays ambiguous: under the v2 encoding with ``/`` separators, ``a/1/2`` may be chunk
``(1, 2)`` of ``a`` or chunk ``(2,)`` of ``a/1``. Give ``ndim`` when the array's rank is known.
"""

from __future__ import annotations

import attrs

__all__ = ["ChunkKey", "parse_chunk_key"]

_METADATA = frozenset({"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"})


@attrs.frozen
class ChunkKey:
    """Chunk ``coords`` of the array at ``array`` (``""`` for an array at the root)."""

    array: str
    coords: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.coords)


def _ints(parts: list[str]) -> tuple[int, ...] | None:
    if not all(part.isdigit() and part.isascii() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def parse_chunk_key(key: str, *, ndim: int | None = None) -> ChunkKey | None:
    """The chunk ``key`` names, or ``None`` for a metadata key or any key that names no chunk.

    >>> parse_chunk_key("temperature/c/3/0")
    ChunkKey(array='temperature', coords=(3, 0))
    >>> parse_chunk_key("temperature/3.0")
    ChunkKey(array='temperature', coords=(3, 0))
    """
    parts = key.split("/")
    if parts[-1] in _METADATA:
        return None
    array, _, last = key.rpartition("/")
    # zarr v3, "." separator: ".../c.1.2"; a 0-d array's only chunk is ".../c".
    if last == "c" or last.startswith("c."):
        coords = _ints(last.split(".")[1:])
        if coords is not None and (ndim is None or len(coords) == ndim):
            return ChunkKey(array, coords)
    # zarr v3, "/" separator: ".../c/1/2".
    for marker in range(len(parts) - 2, -1, -1):
        if parts[marker] == "c":
            coords = _ints(parts[marker + 1 :])
            if coords is not None and (ndim is None or len(coords) == ndim):
                return ChunkKey("/".join(parts[:marker]), coords)
            break
    # zarr v2, "." separator: ".../1.2".
    coords = _ints(last.split("."))
    if coords is not None and "." in last and (ndim is None or len(coords) == ndim):
        return ChunkKey(array, coords)
    # zarr v2, "/" separator (or one dimension): ".../1/2", as many trailing numbers as known.
    trailing = 0
    while trailing < len(parts) and _ints([parts[-1 - trailing]]) is not None:
        trailing += 1
    if ndim is not None:
        trailing = ndim if ndim <= trailing and ndim > 0 else 0
    if trailing:
        coords = _ints(parts[len(parts) - trailing :])
        assert coords is not None
        return ChunkKey("/".join(parts[: len(parts) - trailing]), coords)
    return None
