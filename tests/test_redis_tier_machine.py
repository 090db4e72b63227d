"""A hypothesis state machine of the Redis tier against a model a reader can check by eye.

The model knows which value each key may hold (the tier may have evicted it: then ``None``,
and it stays gone until put again), every token given and every invalidation since, and the
log's reach. The tier must agree exactly on which puts it refuses and on the changes it lists,
and its bytes, counted on the server, must never pass the budget.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest

from helpers import examples, expected_bytes
from test_redis_tier import audit
from zarr_cachestore import RedisTier

MAX_SIZE = 64
LOG_LENGTH = 4
NAMESPACES = st.sampled_from(["a", "b"])
KEYS = st.sampled_from(["x/0", "x/10", "y"])
PREFIXES = st.sampled_from(["", "x/", "x/1", "q"])
VALUES = st.binary(min_size=0, max_size=MAX_SIZE + 8)
REQUESTS = st.one_of(
    st.none(),
    st.builds(RangeByteRequest, st.integers(0, 40), st.integers(0, 80)).filter(
        lambda r: r.start <= r.end
    ),
    st.builds(OffsetByteRequest, st.integers(0, 80)),
    st.builds(SuffixByteRequest, st.integers(0, 80)),
)


@attrs.frozen
class Token:
    namespace: str
    key: str  # the key whose source read it was given for
    value: int
    seen: int  # how many invalidations of the namespace the model had logged when it was given


class TierMachine(RuleBasedStateMachine):
    tokens = Bundle("tokens")

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        self.url, self.prefix = url, f"{prefix}{uuid.uuid4().hex[:8]}:"  # a fresh tier each run
        self.loop = asyncio.new_event_loop()
        self.tier = RedisTier(url, max_size=MAX_SIZE, prefix=self.prefix, log_length=LOG_LENGTH)
        self.held: dict[tuple[str, str], bytes] = {}
        # Per namespace, every invalidation in order: a key, or None for "drop all".
        self.log: dict[str, list[str | None]] = {"a": [], "b": []}
        self.cursors: dict[str, tuple[int, int]] = {}  # namespace -> (tier cursor, len(log))

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.run(self.tier.clear())
        self.run(self.tier.aclose())
        self.loop.close()

    @rule(target=tokens, namespace=NAMESPACES, key=KEYS)
    def begin(self, namespace: str, key: str) -> Token:
        value = self.run(self.tier.begin(namespace, key))
        return Token(namespace, key, value, len(self.log[namespace]))

    @rule(token=tokens, value=VALUES)
    def put(self, token: Token, value: bytes) -> None:
        self.put_with(token, token.key, value)

    @rule(token=tokens, key=KEYS, value=VALUES)
    def put_with(self, token: Token, key: str, value: bytes) -> None:
        """A token is the namespace's: it is good for any key, not only the one it was for."""
        since = self.log[token.namespace][token.seen :]
        fresh = key not in since and None not in since
        stored = self.run(
            self.tier.put(token.namespace, key, value, token=token.value, deadline=None)
        )
        assert stored == (fresh and len(value) <= MAX_SIZE)
        if stored:
            self.held[token.namespace, key] = value

    @rule(namespace=NAMESPACES, key=KEYS, request=REQUESTS)
    def get(self, namespace: str, key: str, request: Any) -> None:
        observed = self.run(self.tier.get(namespace, key, request))
        if observed is None:
            self.held.pop((namespace, key), None)  # evicted: gone until put again
        else:
            assert (namespace, key) in self.held
            assert observed == expected_bytes(self.held[namespace, key], request)

    @rule(namespace=NAMESPACES, key=KEYS)
    def invalidate(self, namespace: str, key: str) -> None:
        self.run(self.tier.invalidate(namespace, key))
        self.held.pop((namespace, key), None)
        self.log[namespace].append(key)

    @rule(namespace=NAMESPACES, prefix=PREFIXES)
    def invalidate_prefix(self, namespace: str, prefix: str) -> None:
        self.run(self.tier.invalidate_prefix(namespace, prefix))
        for ns, key in list(self.held):
            if ns == namespace and key.startswith(prefix):
                del self.held[ns, key]
        self.log[namespace].append(None)

    @rule(namespace=NAMESPACES)
    def clear_namespace(self, namespace: str) -> None:
        self.run(self.tier.clear(namespace))
        self.held = {k: v for k, v in self.held.items() if k[0] != namespace}
        self.log[namespace].append(None)

    @rule(namespace=NAMESPACES)
    def changes(self, namespace: str) -> None:
        previous = self.cursors.get(namespace)
        cursor, keys = self.run(
            self.tier.changes(namespace, None if previous is None else previous[0])
        )
        if previous is None:
            assert keys is None
        else:
            since = self.log[namespace][previous[1] :]
            assert cursor == previous[0] + len(since)
            if None in since or len(since) > LOG_LENGTH:
                assert keys is None
            else:
                assert keys == sorted({key for key in since if key is not None})
        self.cursors[namespace] = (cursor, len(self.log[namespace]))

    @invariant()
    def within_budget_and_accounted(self) -> None:
        held, values, accounted, entries = audit(self.url, self.prefix)
        assert held <= MAX_SIZE
        assert (held, values) == (accounted, entries)
        assert held >= 0


def test_the_tier_agrees_with_its_model(redis_url: str, redis_prefix: str) -> None:
    run_state_machine_as_test(
        lambda: TierMachine(redis_url, redis_prefix),  # type: ignore[arg-type]
        settings=settings(max_examples=examples(30), stateful_step_count=40),
    )
