"""Chunk keys: every encoding zarr writes is read back to the array and coordinates it names."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given
from zarr.core.chunk_key_encodings import DefaultChunkKeyEncoding, V2ChunkKeyEncoding

from zarr_cachestore.chunks import ChunkKey, parse_chunk_key

ARRAYS = st.sampled_from(["", "a", "group/temperature", "x/c/y"])
COORDS = st.lists(st.integers(0, 10**6), min_size=1, max_size=4).map(tuple)
ENCODINGS = st.sampled_from(
    [
        DefaultChunkKeyEncoding(separator="/"),
        DefaultChunkKeyEncoding(separator="."),
        V2ChunkKeyEncoding(separator="."),
        V2ChunkKeyEncoding(separator="/"),
    ]
)


@given(array=ARRAYS, coords=COORDS, encoding=ENCODINGS)
def test_every_encoding_round_trips_when_the_rank_is_known(
    array: str, coords: tuple[int, ...], encoding: DefaultChunkKeyEncoding
) -> None:
    key = encoding.encode_chunk_key(coords)
    full = f"{array}/{key}" if array else key
    assert parse_chunk_key(full, ndim=len(coords)) == ChunkKey(array, coords)


@given(array=ARRAYS, coords=COORDS, encoding=ENCODINGS)
def test_unambiguous_encodings_round_trip_without_the_rank(
    array: str, coords: tuple[int, ...], encoding: DefaultChunkKeyEncoding
) -> None:
    key = encoding.encode_chunk_key(coords)
    if isinstance(encoding, V2ChunkKeyEncoding) and encoding.separator == "/" and len(coords) > 1:
        return  # "a/1/2" is ambiguous without the rank
    full = f"{array}/{key}" if array else key
    if isinstance(encoding, V2ChunkKeyEncoding) and len(coords) == 1 and array == "":
        assert parse_chunk_key(full) == ChunkKey("", coords)
        return
    assert parse_chunk_key(full) == ChunkKey(array, coords)


def test_the_only_chunk_of_a_zero_dimensional_array() -> None:
    assert parse_chunk_key("scalar/c") == ChunkKey("scalar", ())
    assert parse_chunk_key("c") == ChunkKey("", ())


@pytest.mark.parametrize(
    "key", ["zarr.json", "a/zarr.json", "a/.zarray", ".zgroup", "a/b", "a/c/x", "a/1.x", "a/-1"]
)
def test_keys_that_name_no_chunk(key: str) -> None:
    assert parse_chunk_key(key) is None


def test_the_v2_slash_ambiguity_is_settled_by_the_rank() -> None:
    assert parse_chunk_key("a/1/2") == ChunkKey("a", (1, 2))
    assert parse_chunk_key("a/1/2", ndim=1) == ChunkKey("a/1", (2,))
