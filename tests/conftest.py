"""Hypothesis profiles: "ci" (the default) is quick and reproducible; "nightly" digs deeper.

Select one with the environment variable ``HYPOTHESIS_PROFILE``; every state machine (the
CacheStore's, the policies', the range cache's) also runs ten times more examples nightly
(``zarr_cachestore.testing.examples``), and ``-m slow`` adds the deep runs. For example
``HYPOTHESIS_PROFILE=nightly python -m pytest -m "slow or not slow"``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from services import own_redis_server, redis_prefix, redis_server, redis_url

__all__ = ["own_redis_server", "redis_prefix", "redis_server", "redis_url"]

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=20,
    stateful_step_count=30,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "nightly",
    deadline=None,
    max_examples=500,
    stateful_step_count=100,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
