"""What the tests share: buffers from bytes and back, and the bytes a read should return."""

from __future__ import annotations

import os

from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import Buffer, default_buffer_prototype

PROTO = default_buffer_prototype()
NIGHTLY = os.environ.get("HYPOTHESIS_PROFILE") == "nightly"


def examples(ci: int) -> int:
    """How many examples a state machine runs: ``ci`` by default, ten times more nightly."""
    return ci * 10 if NIGHTLY else ci


def buf(data: bytes) -> Buffer:
    return PROTO.buffer.from_bytes(data)


def raw(value: Buffer | None) -> bytes | None:
    return None if value is None else value.to_bytes()


def expected_bytes(data: bytes, request: ByteRequest | None) -> bytes:
    """What a read of ``request`` of ``data`` returns, as object stores, LocalStore and zarr 3.2+
    answer it: cut at the end of the value; a suffix longer than the value is all of it."""
    if request is None:
        return data
    if isinstance(request, RangeByteRequest):
        return data[request.start : request.end]
    if isinstance(request, OffsetByteRequest):
        return data[request.offset :]
    assert isinstance(request, SuffixByteRequest)
    return data[max(0, len(data) - request.suffix) :]
