"""A read-ahead prefetcher: the chunks that follow along the last axis."""

from collections.abc import Iterator, Mapping

from zarr_cachestore import ChunkGrid, ChunkPrefetcher

Coords = tuple[int, ...]


class RowAhead(ChunkPrefetcher):
    """Fetch the next ``limit`` chunks along the last axis, where C-order reads go next."""

    def next_coords(
        self, chunk: Coords, grid: ChunkGrid, history: Mapping[Coords, int]
    ) -> Iterator[Coords]:
        *outer, last = chunk
        for step in range(1, self.limit + 1):
            yield (*outer, last + step)
