"""A shared tier (:class:`~zarr_cachestore.shared.SharedTier`) on a Redis server: whole values
that every process of every host sees, under one byte budget the server itself enforces.

Every operation is one Lua script, so each runs atomically on the server whatever other clients
do at the same time. Under the tier's key prefix ``<P>``:

- ``<P>v:<ns>\\0<key>`` holds a value, with a Redis TTL when it has a deadline;
- ``<P>prio`` ranks the entries (a sorted set: the lowest is evicted first), ``<P>size`` and
  ``<P>crc`` hold each entry's length and CRC-32, ``<P>freq`` its hits (LFU, GDSF);
- ``<P>exp`` holds the deadlines, so that the scripts forget the entries Redis expired
  before they count bytes: the budget never counts an expired value;
- ``<P>stats``, ``<P>nsbytes`` and ``<P>nsentries`` count bytes and entries, in all and per
  namespace; ``<P>keys:<ns>`` lists a namespace's keys in order, for prefix invalidation;
- ``<P>seq`` numbers each namespace's invalidations; ``<P>ver:<ns>`` holds the number of each
  key's latest one, ``<P>floor`` that of the latest "drop all", and ``<P>log:<ns>`` the
  latest ``log_length`` of them, which :meth:`RedisTier.changes` reads; each is announced, with
  its number, on the channel ``<P>changed:<ns>`` (see :meth:`RedisTier.watch`).

A namespace's numbers start at the server's clock in microseconds when its counter is made, so
that after a restart without persistence (or the loss of the counter) every older token and
cursor is below the new start: puts with them are refused and their changes cannot be listed.

Not for Redis Cluster: the scripts reach keys they cannot declare in advance (the entries they
evict).
"""

from __future__ import annotations

import math
import zlib
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from zarr_cachestore.redis_store import RANGE_LUA, LoopClients, LuaScript, range_args, reaching
from zarr_cachestore.redis_watch import RedisWatch

if TYPE_CHECKING:
    from collections.abc import Callable

    from zarr.abc.store import ByteRequest

    from zarr_cachestore.redis_store import RedisStore

__all__ = ["POLICIES", "RedisTier"]

POLICIES = ("lru", "lfu", "fifo", "gdsf")
"""The eviction orders the tier keeps: least recently used, least frequently used, first in
first out, and greedy dual size frequency (small, often read values are kept longest)."""

_CONFIG_ERROR = "ZCS-CONFIG"

# ARGV[1..4] of every script: the key prefix, the byte budget, the policy, the log length.
_PREAMBLE = (
    RANGE_LUA
    + r"""
local P, MAX, POLICY, LOGLEN = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local PRIO, EXP, SIZE, CRC, FREQ = P..'prio', P..'exp', P..'size', P..'crc', P..'freq'
local STATS, NSBYTES, NSENTRIES = P..'stats', P..'nsbytes', P..'nsentries'
local SEQ, FLOOR, CONFIG = P..'seq', P..'floor', P..'config'

local function int(n) return string.format('%d', n) end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function configured()
  local c = redis.call('HMGET', CONFIG, 'max_size', 'policy')
  if not c[1] then
    redis.call('HSET', CONFIG, 'max_size', ARGV[2], 'policy', POLICY)
    return nil
  end
  if c[1] ~= ARGV[2] or c[2] ~= POLICY then
    return redis.error_reply('ZCS-CONFIG the tier at this prefix keeps policy=' .. c[2] ..
      ' max_size=' .. c[1])
  end
  return nil
end

local function split(member)
  local i = string.find(member, '\0', 1, true)
  return string.sub(member, 1, i - 1), string.sub(member, i + 1)
end

local function count(hash, field, delta)
  if redis.call('HINCRBY', hash, field, int(delta)) <= 0 then redis.call('HDEL', hash, field) end
end

-- Forget an entry and its value; its size, or nil if it was not held.
local function remove(member)
  local size = redis.call('HGET', SIZE, member)
  if not size then return nil end
  size = tonumber(size)
  local ns, key = split(member)
  redis.call('DEL', P..'v:'..member)
  redis.call('HDEL', SIZE, member)
  redis.call('HDEL', CRC, member)
  redis.call('HDEL', FREQ, member)
  redis.call('ZREM', PRIO, member)
  redis.call('ZREM', EXP, member)
  redis.call('ZREM', P..'keys:'..ns, key)
  count(STATS, 'bytes', -size)
  count(STATS, 'entries', -1)
  count(NSBYTES, ns, -size)
  count(NSENTRIES, ns, -1)
  return size
end

local function purge_expired()
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', EXP, '-inf', now_ms())) do
    remove(member)
  end
end

-- Rank an entry after an insert (first) or a hit.
local function rank(member, size, first)
  if POLICY == 'fifo' and not first then return end
  if POLICY == 'lru' or POLICY == 'fifo' then
    redis.call('ZADD', PRIO, redis.call('HINCRBY', STATS, 'clock', 1), member)
    return
  end
  local freq = redis.call('HINCRBY', FREQ, member, 1)
  if POLICY == 'lfu' then
    redis.call('ZADD', PRIO, freq, member)
  else
    local inflation = tonumber(redis.call('HGET', STATS, 'inflation') or '0')
    redis.call('ZADD', PRIO, inflation + freq / math.max(size, 1), member)
  end
end

-- The namespace's latest invalidation number, its counter made from the clock if missing.
local function sequence(ns)
  local seq = redis.call('HGET', SEQ, ns)
  if seq then return tonumber(seq) end
  local t = redis.call('TIME')
  local start = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('HSET', SEQ, ns, start)
  redis.call('HSET', FLOOR, ns, start)
  return tonumber(start)
end

-- Log one invalidation of the namespace: 'k<key>' or '*' (drop all), and announce its number
-- to the processes watching the namespace; its number.
local function log(ns, entry)
  sequence(ns)
  local seq = redis.call('HINCRBY', SEQ, ns, 1)
  redis.call('RPUSH', P..'log:'..ns, entry)
  redis.call('LTRIM', P..'log:'..ns, -LOGLEN, -1)
  redis.call('PUBLISH', P..'changed:'..ns, int(seq))
  return seq
end

local function drop_prefix(ns, prefix)
  local low, high = '-', '+'
  if prefix ~= '' then low, high = '['..prefix, '('..prefix..'\255' end
  for _, key in ipairs(redis.call('ZRANGEBYLEX', P..'keys:'..ns, low, high)) do
    remove(ns..'\0'..key)
  end
  local seq = log(ns, '*')
  redis.call('HSET', FLOOR, ns, int(seq))
  redis.call('DEL', P..'ver:'..ns)
  return seq
end
"""
)


def _script(body: str, *, check_config: bool = True) -> LuaScript:
    check = "local refused = configured()\nif refused then return refused end\n"
    return LuaScript(_PREAMBLE + (check if check_config else "") + body)


_BEGIN = _script("return sequence(ARGV[5])")

# ARGV[5..8]: member, range kind ('' for the whole value) and its two numbers.
# The whole value comes with its CRC-32. An entry whose value has another length, or whose value
# or checksum is gone (Redis's maxmemory eviction may take either), is dropped.
_GET = _script(
    """
local member = ARGV[5]
local size = redis.call('HGET', SIZE, member)
if not size then return false end
local vkey = P..'v:'..member
local n = redis.call('STRLEN', vkey)
local crc = redis.call('HGET', CRC, member)
if n ~= tonumber(size) or not crc or (n == 0 and redis.call('EXISTS', vkey) == 0) then
  remove(member)
  return false
end
rank(member, n, false)
if ARGV[6] == '' then return {redis.call('GET', vkey), crc} end
return {read_range(vkey, n, ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]))}
"""
)

# ARGV[5..10]: namespace, key, value, its CRC-32, token, deadline in ms ('' for none).
# 1 held; 0 invalidated since the token; -1 larger than the budget; -2 already expired.
_PUT = _script(
    """
purge_expired()
local ns, key, value, token = ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[9])
local seq = sequence(ns)
if token > seq or token < tonumber(redis.call('HGET', FLOOR, ns)) then return 0 end
local version = redis.call('HGET', P..'ver:'..ns, key)
if version and tonumber(version) > token then return 0 end
local size = string.len(value)
if size > MAX then return -1 end
local deadline = ARGV[10]
if deadline ~= '' and tonumber(deadline) <= now_ms() then return -2 end
local member = ns..'\\0'..key
remove(member)
local bytes = tonumber(redis.call('HGET', STATS, 'bytes') or '0')
while bytes + size > MAX do
  local victim = redis.call('ZRANGE', PRIO, 0, 0, 'WITHSCORES')
  if #victim == 0 then return -1 end
  if POLICY == 'gdsf' then redis.call('HSET', STATS, 'inflation', victim[2]) end
  local freed = remove(victim[1])
  if freed then bytes = bytes - freed else redis.call('ZREM', PRIO, victim[1]) end
end
local vkey = P..'v:'..member
if deadline == '' then
  redis.call('SET', vkey, value)
else
  redis.call('SET', vkey, value, 'PXAT', deadline)
  redis.call('ZADD', EXP, deadline, member)
end
redis.call('HSET', SIZE, member, size)
redis.call('HSET', CRC, member, ARGV[8])
redis.call('ZADD', P..'keys:'..ns, 0, key)
redis.call('HINCRBY', STATS, 'bytes', size)
redis.call('HINCRBY', STATS, 'entries', 1)
redis.call('HINCRBY', NSBYTES, ns, size)
redis.call('HINCRBY', NSENTRIES, ns, 1)
rank(member, size, true)
return 1
"""
)

_DROP = _script("remove(ARGV[5])")

# ARGV[5..6]: namespace, key.
_INVALIDATE = _script(
    """
local ns, key = ARGV[5], ARGV[6]
remove(ns..'\\0'..key)
local seq = log(ns, 'k'..key)
redis.call('HSET', P..'ver:'..ns, key, int(seq))
"""
)

# ARGV[5..6]: namespace, prefix.
_INVALIDATE_PREFIX = _script("drop_prefix(ARGV[5], ARGV[6])")

# Every namespace; the tier then keeps the caller's budget and policy.
_CLEAR_ALL = _script(
    """
local namespaces = {}
for _, hash in ipairs({SEQ, NSENTRIES}) do
  for _, ns in ipairs(redis.call('HKEYS', hash)) do namespaces[ns] = true end
end
for ns in pairs(namespaces) do drop_prefix(ns, '') end
redis.call('DEL', CONFIG, PRIO, EXP, SIZE, CRC, FREQ)
redis.call('HDEL', STATS, 'inflation')
configured()
""",
    check_config=False,
)

# ARGV[5..6]: namespace, cursor ('' for none). The cursor, and the keys or nil.
_CHANGES = _script(
    """
local ns = ARGV[5]
local seq = sequence(ns)
if ARGV[6] == '' then return {seq, false} end
local cursor = tonumber(ARGV[6])
if cursor > seq then return {seq, false} end
local n = seq - cursor
if n == 0 then return {seq, {}} end
local logkey = P..'log:'..ns
if redis.call('LLEN', logkey) < n then return {seq, false} end
local keys = {}
for _, entry in ipairs(redis.call('LRANGE', logkey, -n, -1)) do
  if entry == '*' then return {seq, false} end
  keys[#keys + 1] = string.sub(entry, 2)
end
return {seq, keys}
"""
)

_INFO = _script(
    """
purge_expired()
return {redis.call('HGET', STATS, 'bytes') or '0', redis.call('HGET', STATS, 'entries') or '0',
        redis.call('HGETALL', NSBYTES), redis.call('HGETALL', NSENTRIES)}
"""
)


class RedisTier:
    """Whole values shared through a Redis server, under a byte budget the server enforces.

    ``max_size`` bytes of values at most are held, whichever process puts them: a put evicts
    the lowest ranked entries under ``policy`` (one of :data:`POLICIES`) until the value
    fits, in one atomic script. Every process using the same ``prefix`` must use the same
    ``max_size`` and ``policy``; :meth:`clear` of every namespace lets the next user choose
    anew. Each namespace logs its latest ``log_length`` invalidations for :meth:`changes`.

    A value is held with its length and CRC-32 (``zlib.crc32``: in the standard library, fast,
    and sure to catch a truncation or a burst of damage): a whole value that fails either is
    dropped and reported missing. A byte range of a value is cut on the server; its length
    is checked there against the entry, its checksum cannot be without reading it all.

    Connection failures raise :class:`~zarr_cachestore.redis_store.RedisUnavailable`, a
    :class:`ConnectionError`.
    """

    def __init__(
        self,
        url: str,
        *,
        max_size: int,
        policy: str = "lru",
        prefix: str = "zarr-cachestore:tier:",
        log_length: int = 10_000,
    ) -> None:
        if not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 0:
            raise ValueError(f"max_size must be a whole number of bytes >= 0, got {max_size!r}")
        if policy not in POLICIES:
            raise ValueError(
                f"RedisTier has no eviction policy {policy!r}: choose one of "
                + ", ".join(repr(p) for p in POLICIES)
            )
        if not isinstance(log_length, int) or log_length < 1:
            raise ValueError(f"log_length must be a whole number >= 1, got {log_length!r}")
        self.url = url
        self.max_size = max_size
        self.policy = policy
        self.prefix = prefix
        self.log_length = log_length
        self._clients = LoopClients(url)

    @classmethod
    def from_store(
        cls, store: RedisStore, *, max_size: int, policy: str = "lru", log_length: int = 10_000
    ) -> RedisTier:
        """A tier on the server of ``store``, under its prefix: in ``__tier__/``, a name that
        zarr reserves, so that it meets no key of a zarr hierarchy kept in the store."""
        return cls(
            store.url,
            max_size=max_size,
            policy=policy,
            prefix=f"{store.prefix}__tier__/",
            log_length=log_length,
        )

    def __repr__(self) -> str:
        return (
            f"RedisTier({self.url!r}, max_size={self.max_size}, policy={self.policy!r}, "
            f"prefix={self.prefix!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "max_size": self.max_size,
            "policy": self.policy,
            "prefix": self.prefix,
            "log_length": self.log_length,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    async def _run(self, script: LuaScript, *args: bytes | str | int) -> Any:
        client = self._clients.current()
        with reaching(self.url):
            try:
                return await script(
                    client, self.prefix, self.max_size, self.policy, self.log_length, *args
                )
            except ResponseError as error:
                if _CONFIG_ERROR not in str(error):
                    raise
                raise ValueError(
                    f"{str(error).split(_CONFIG_ERROR, 1)[1].strip()}, not policy="
                    f"{self.policy} max_size={self.max_size}: open it with those settings, "
                    "use another prefix, or clear() every namespace to start afresh"
                ) from None

    @staticmethod
    def _member(namespace: str, key: str) -> str:
        if "\0" in namespace:
            raise ValueError(f"a namespace cannot contain a NUL character: {namespace!r}")
        return f"{namespace}\0{key}"

    # -- the SharedTier protocol ----------------------------------------------------------------

    async def begin(self, namespace: str, key: str) -> int:
        self._member(namespace, key)
        return int(await self._run(_BEGIN, namespace))

    async def get(
        self, namespace: str, key: str, request: ByteRequest | None = None
    ) -> bytes | None:
        member = self._member(namespace, key)
        if request is not None:
            kind, start, stop = range_args(request)
            reply = await self._run(_GET, member, kind, start, stop)
            return None if reply is None else bytes(reply[0])
        reply = await self._run(_GET, member, "", 0, 0)
        if reply is None:
            return None
        data, checksum = bytes(reply[0]), int(reply[1])
        if zlib.crc32(data) != checksum:
            await self._run(_DROP, member)
            return None
        return data

    async def put(
        self, namespace: str, key: str, value: bytes, *, token: int, deadline: float | None
    ) -> bool:
        self._member(namespace, key)
        deadline_ms = "" if deadline is None else str(math.ceil(deadline * 1000))
        outcome = await self._run(
            _PUT, namespace, key, value, zlib.crc32(value), token, deadline_ms
        )
        return bool(outcome == 1)

    async def invalidate(self, namespace: str, key: str) -> None:
        self._member(namespace, key)
        await self._run(_INVALIDATE, namespace, key)

    async def invalidate_prefix(self, namespace: str, prefix: str) -> None:
        self._member(namespace, prefix)
        await self._run(_INVALIDATE_PREFIX, namespace, prefix)

    async def clear(self, namespace: str | None = None) -> None:
        if namespace is None:
            await self._run(_CLEAR_ALL)
        else:
            await self.invalidate_prefix(namespace, "")

    async def changes(self, namespace: str, cursor: int | None) -> tuple[int, list[str] | None]:
        self._member(namespace, "")
        seq, keys = await self._run(_CHANGES, namespace, "" if cursor is None else cursor)
        if keys is None:
            return int(seq), None
        return int(seq), sorted({key.decode() for key in keys})

    async def info(self) -> dict[str, Any]:
        held, entries, ns_bytes, ns_entries = await self._run(_INFO)
        bytes_of = _pairs(ns_bytes)
        entries_of = _pairs(ns_entries)
        return {
            "max_size": self.max_size,
            "policy": self.policy,
            "bytes": int(held),
            "entries": int(entries),
            "namespaces": {
                ns: {"bytes": bytes_of.get(ns, 0), "entries": entries_of.get(ns, 0)}
                for ns in sorted(bytes_of.keys() | entries_of.keys())
            },
        }

    async def aclose(self) -> None:
        await self._clients.aclose()

    # -- the Watchable protocol ----------------------------------------------------------------

    def channel(self, namespace: str) -> str:
        """The pub/sub channel on which the invalidations of ``namespace`` are announced."""
        self._member(namespace, "")
        return f"{self.prefix}changed:{namespace}"

    def watch(self, namespace: str, wake: Callable[[], None]) -> RedisWatch:
        """A thread that calls ``wake`` after each invalidation of ``namespace`` and whenever
        it may have missed some; see :class:`~zarr_cachestore.redis_watch.RedisWatch`."""
        return RedisWatch(self.url, self.channel(namespace), wake)


def _pairs(flat: list[bytes]) -> dict[str, int]:
    """A Redis ``HGETALL`` reply as a dict of counts."""
    return {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)}
