"""The chunk grid of a zarr array, read from its metadata: which store keys hold its chunks.

A :class:`ChunkGrid` is built once per array from its ``zarr.json`` (zarr v3) or ``.zarray``
(zarr v2) document; :func:`metadata_keys` names the documents to try for a chunk's store key.
Shapes are named as zarr's ``Array`` names them: ``chunk_shape`` is the unit of reading (the
inner chunks of a sharded array) and ``shard_shape`` the unit of storage, or ``None`` for an
unsharded array. Store keys, and the coordinates below, are those of the storage unit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import attrs

from zarr_cachestore.chunks import ChunkKey, parse_chunk_key

__all__ = ["ChunkGrid", "metadata_keys"]

Encoding = Literal["default", "v2"]
Separator = Literal["/", "."]
_DEFAULT_SEPARATOR: dict[str, Separator] = {"default": "/", "v2": "."}


def _shape(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value
    ):
        raise ValueError(f"{what} must be a list of non-negative integers, got {value!r}")
    return tuple(value)


def _named(value: Any) -> tuple[Any, Mapping[str, Any]]:
    """A v3 extension point, ``"name"`` or ``{"name": ..., "configuration": {...}}``."""
    if isinstance(value, str):
        return value, {}
    return value["name"], value.get("configuration") or {}


@attrs.frozen
class ChunkGrid:
    """The regular chunk grid of the array at ``path`` (``""`` at the root of the store)."""

    path: str
    shape: tuple[int, ...]
    chunk_shape: tuple[int, ...]
    shard_shape: tuple[int, ...] | None = None
    encoding: Encoding = "default"
    separator: Separator = "/"

    def __attrs_post_init__(self) -> None:
        stored = self.stored_shape
        if not len(self.shape) == len(self.chunk_shape) == len(stored):
            raise ValueError(f"array {self.path!r}: shape, chunk and shard ranks differ")
        if 0 in self.chunk_shape or 0 in stored:
            raise ValueError(f"array {self.path!r}: chunk and shard sizes must be positive")
        if self.encoding not in _DEFAULT_SEPARATOR or self.separator not in ("/", "."):
            raise ValueError(
                f"array {self.path!r}: unknown chunk key encoding {self.encoding!r} with "
                f"separator {self.separator!r}; use 'default' or 'v2' with '/' or '.'"
            )

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def stored_shape(self) -> tuple[int, ...]:
        """The shape of the block one store key holds: a shard, or a chunk if unsharded."""
        return self.chunk_shape if self.shard_shape is None else self.shard_shape

    @property
    def grid_shape(self) -> tuple[int, ...]:
        """How many store keys there are along each axis."""
        return tuple(-(-n // s) for n, s in zip(self.shape, self.stored_shape, strict=True))

    def contains(self, coords: tuple[int, ...]) -> bool:
        """Whether ``coords`` are grid coordinates of one of the array's store keys."""
        grid = self.grid_shape
        if len(coords) != len(grid):
            return False
        return all(0 <= c < n for c, n in zip(coords, grid, strict=True))

    def key_for(self, coords: tuple[int, ...]) -> str:
        """The store key of the chunk (or shard) at grid ``coords``."""
        if not self.contains(coords):
            raise ValueError(f"{coords} is outside the grid {self.grid_shape} of {self.path!r}")
        if self.encoding == "default":
            name = "c" + "".join(f"{self.separator}{c}" for c in coords)
        else:
            name = self.separator.join(map(str, coords)) or "0"
        return f"{self.path}/{name}" if self.path else name

    def chunk_of(self, key: str) -> ChunkKey | None:
        """The grid coordinates ``key`` names, if it is one of this array's keys."""
        chunk = parse_chunk_key(key, ndim=self.ndim)
        if chunk is None or chunk.array != self.path or not self.contains(chunk.coords):
            return None
        return chunk

    @classmethod
    def from_metadata(cls, document: bytes | str | Mapping[str, Any], path: str) -> ChunkGrid:
        """The grid described by an array's ``zarr.json`` (v3) or ``.zarray`` (v2) document."""
        meta = json.loads(document) if isinstance(document, bytes | str) else document
        try:
            if meta.get("zarr_format") == 3:
                return cls._from_v3(meta, path)
            if meta.get("zarr_format") == 2:
                return cls(
                    path,
                    _shape(meta["shape"], "shape"),
                    _shape(meta["chunks"], "chunks"),
                    encoding="v2",
                    separator=meta.get("dimension_separator") or ".",
                )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"array {path!r}: malformed metadata ({exc!r})") from exc
        raise ValueError(
            f"{path!r}: not zarr array metadata (zarr_format {meta.get('zarr_format')!r}); "
            "pass the contents of the array's zarr.json or .zarray"
        )

    @classmethod
    def _from_v3(cls, meta: Mapping[str, Any], path: str) -> ChunkGrid:
        if meta.get("node_type") != "array":
            raise ValueError(f"{path!r} is a {meta.get('node_type')!r} node, not an array")
        grid, grid_config = _named(meta["chunk_grid"])
        if grid != "regular":
            raise ValueError(f"array {path!r}: chunk grid {grid!r} is not supported, only regular")
        encoding, encoding_config = _named(meta.get("chunk_key_encoding", "default"))
        separator = encoding_config.get("separator", _DEFAULT_SEPARATOR.get(encoding))
        stored = _shape(grid_config["chunk_shape"], "chunk_grid chunk_shape")
        shape = _shape(meta["shape"], "shape")
        for codec in meta.get("codecs", []):
            name, config = _named(codec)
            if name == "sharding_indexed":
                inner = _shape(config["chunk_shape"], "sharding chunk_shape")
                return cls(path, shape, inner, stored, encoding, separator)
        return cls(path, shape, stored, None, encoding, separator)


def _arrays(key: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every array ``key`` may be a chunk of, most likely first, with its metadata names."""
    chunk = parse_chunk_key(key)
    if chunk is None:
        return
    name = key[len(chunk.array) + 1 :] if chunk.array else key
    if name == "c" or name.startswith(("c/", "c.")):
        yield chunk.array, ("zarr.json",)  # only v3 arrays write "c" keys
        return
    for ndim in range(chunk.ndim, 0, -1):  # "a/1/2" is chunk (1, 2) of "a" or (2,) of "a/1"
        shorter = parse_chunk_key(key, ndim=ndim)
        if shorter is not None:
            yield shorter.array, (".zarray", "zarr.json")


def metadata_keys(key: str) -> tuple[str, ...]:
    """The metadata keys that may describe the array of chunk ``key``, to try in order.

    ``()`` if ``key`` names no chunk. A key with a ``c`` marker is a zarr v3 chunk; others may
    belong to a v2 array or to a v3 array with the v2 encoding, and under ``/`` separators to
    arrays of several ranks. The first document that exists and is array metadata is the one.

    >>> metadata_keys("temperature/c/3/0")
    ('temperature/zarr.json',)
    >>> metadata_keys("temperature/3.0")
    ('temperature/.zarray', 'temperature/zarr.json')
    """
    return tuple(
        f"{array}/{name}" if array else name for array, names in _arrays(key) for name in names
    )
