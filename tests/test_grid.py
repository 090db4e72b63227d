"""Chunk grids read from the metadata real zarr arrays write, and the keys they name."""

from __future__ import annotations

import itertools
import json
from typing import Any, Literal

import pytest
import zarr
from zarr.storage import MemoryStore

from zarr_cachestore import ChunkGrid, metadata_keys
from zarr_cachestore.chunks import ChunkKey

SHAPE = (10, 7)


def written(
    zarr_format: Literal[2, 3], chunks: Any, shards: Any = None, **kwargs: Any
) -> MemoryStore:
    """A store holding array ``g/a`` of ``SHAPE``, every chunk written."""
    store = MemoryStore()
    array = zarr.create_array(
        store,
        name="g/a",
        shape=SHAPE,
        chunks=chunks,
        shards=shards,
        dtype="i4",
        zarr_format=zarr_format,
        **kwargs,
    )
    array[:] = 1
    return store


def chunk_keys(store: MemoryStore) -> set[str]:
    """The keys below ``g/a`` that are not metadata."""
    metadata = {"zarr.json", ".zarray", ".zattrs"}
    return {k for k in store._store_dict if k.startswith("g/a/") and k[4:] not in metadata}


def grid_of(store: MemoryStore, name: str) -> ChunkGrid:
    return ChunkGrid.from_metadata(store._store_dict[f"g/a/{name}"].to_bytes(), "g/a")


def every_key(grid: ChunkGrid) -> set[str]:
    return {grid.key_for(c) for c in itertools.product(*map(range, grid.grid_shape))}


@pytest.mark.parametrize("separator", ["/", "."])
def test_v3_unsharded(separator: Literal["/", "."]) -> None:
    store = written(3, (4, 3), chunk_key_encoding={"name": "default", "separator": separator})
    grid = grid_of(store, "zarr.json")
    assert grid == ChunkGrid("g/a", SHAPE, (4, 3), None, "default", separator)
    assert grid.grid_shape == (3, 3)
    assert every_key(grid) == chunk_keys(store)


@pytest.mark.parametrize("separator", ["/", "."])
def test_v3_sharded_keys_name_shards(separator: str) -> None:
    store = written(
        3, (2, 3), (4, 6), chunk_key_encoding={"name": "default", "separator": separator}
    )
    grid = grid_of(store, "zarr.json")
    assert (grid.chunk_shape, grid.shard_shape, grid.stored_shape) == ((2, 3), (4, 6), (4, 6))
    assert grid.grid_shape == (3, 2)
    assert every_key(grid) == chunk_keys(store)


def test_v3_array_with_the_v2_key_encoding() -> None:
    store = written(3, (4, 3), chunk_key_encoding={"name": "v2", "separator": "."})
    grid = grid_of(store, "zarr.json")
    assert (grid.encoding, grid.separator) == ("v2", ".")
    assert every_key(grid) == chunk_keys(store)


@pytest.mark.parametrize("separator", ["/", "."])
def test_v2(separator: Literal["/", "."]) -> None:
    store = written(2, (4, 3), chunk_key_encoding={"name": "v2", "separator": separator})
    grid = grid_of(store, ".zarray")
    assert grid == ChunkGrid("g/a", SHAPE, (4, 3), None, "v2", separator)
    assert every_key(grid) == chunk_keys(store)


def test_a_v2_document_without_a_separator_means_dots() -> None:
    document = {"zarr_format": 2, "shape": [4], "chunks": [2]}
    assert ChunkGrid.from_metadata(document, "").key_for((1,)) == "1"


def test_the_only_chunk_of_a_zero_dimensional_array() -> None:
    assert ChunkGrid("s", (), ()).key_for(()) == "s/c"
    assert ChunkGrid("", (), (), encoding="v2").key_for(()) == "0"


def test_keys_read_back_to_their_coordinates() -> None:
    grid = ChunkGrid("a/1", (9, 9), (3, 3), encoding="v2", separator="/")
    assert grid.chunk_of("a/1/2/0") == ChunkKey("a/1", (2, 0))
    assert grid.chunk_of("a/1/3/0") is None  # outside the grid
    assert grid.chunk_of("b/2/0") is None  # another array


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"zarr_format": 3, "node_type": "group"}, "not an array"),
        ({"zarr_format": 3, "node_type": "array", "shape": [4]}, "malformed metadata"),
        (
            {
                "zarr_format": 3,
                "node_type": "array",
                "shape": [4],
                "chunk_grid": {"name": "rectilinear", "configuration": {}},
            },
            "only regular",
        ),
        ({"zarr_format": 2, "shape": [4], "chunks": [-1]}, "non-negative integers"),
        ({"zarr_format": 2, "shape": [4], "chunks": [0]}, "must be positive"),
        ({"zarr_format": 2, "shape": [4, 4], "chunks": [2]}, "ranks differ"),
        ({"zarr_format": 2, "shape": [4], "chunks": [2], "dimension_separator": "-"}, "'-'"),
        ({"shape": [4]}, "not zarr array metadata"),
    ],
)
def test_bad_metadata_is_refused_with_the_reason(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChunkGrid.from_metadata(json.dumps(document).encode(), "x")


def test_key_for_refuses_coordinates_outside_the_grid() -> None:
    with pytest.raises(ValueError, match=r"outside the grid \(2,\)"):
        ChunkGrid("a", (4,), (2,)).key_for((2,))


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("temperature/c/3/0", ("temperature/zarr.json",)),
        ("g/a/c.1.0", ("g/a/zarr.json",)),
        ("c/0", ("zarr.json",)),
        ("s/c", ("s/zarr.json",)),
        ("g/a/3.0", ("g/a/.zarray", "g/a/zarr.json")),
        ("a/1/2", ("a/.zarray", "a/zarr.json", "a/1/.zarray", "a/1/zarr.json")),
        ("g/a/zarr.json", ()),
        ("g/notachunk", ()),
    ],
)
def test_metadata_keys_name_the_documents_to_try_in_order(
    key: str, expected: tuple[str, ...]
) -> None:
    assert metadata_keys(key) == expected


@pytest.mark.parametrize(
    ("zarr_format", "encoding", "name"),
    [(3, "default", "zarr.json"), (3, "v2", "zarr.json"), (2, "v2", ".zarray")],
)
@pytest.mark.parametrize("separator", ["/", "."])
def test_metadata_keys_of_every_written_chunk_include_its_arrays_document(
    zarr_format: Literal[2, 3], encoding: str, name: str, separator: str
) -> None:
    encoded = {"name": encoding, "separator": separator}
    store = written(zarr_format, (4, 3), chunk_key_encoding=encoded)
    for key in chunk_keys(store):
        assert f"g/a/{name}" in metadata_keys(key)
