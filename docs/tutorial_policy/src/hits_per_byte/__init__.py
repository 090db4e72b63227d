"""A size-aware frequency policy: keep the entries read most per byte they occupy."""

from collections.abc import Hashable

from zarr_cachestore import EntryInfo, PriorityPolicy


class HitsPerByte(PriorityPolicy):
    """Evict the entry with the fewest reads per byte; ties go to the least recently used.

    Like GDSF without the aging term: small, popular chunks stay; one large chunk read once
    cannot push out many small ones that are read again and again.
    """

    def priority(self, key: Hashable, info: EntryInfo) -> float:
        return (info.hits + 1) / max(info.size, 1) + info.last_access * 1e-12
