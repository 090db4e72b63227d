"""Specification of the built-in expiry policies (NoExpiry, TTL, TTI) and admission policies
(AdmitAll, MaxSize)."""

from __future__ import annotations

import math

import attrs
import pytest

from zarr_cachestore import (
    TTI,
    TTL,
    AdmissionPolicy,
    AdmitAll,
    ExpiryPolicy,
    MaxSize,
    NoExpiry,
    RangeKey,
)

BAD_SECONDS = [
    pytest.param(0, id="zero"),
    pytest.param(0.0, id="zero-float"),
    pytest.param(-1, id="negative"),
    pytest.param(-0.5, id="negative-float"),
    pytest.param("10", id="string"),
    pytest.param(True, id="bool"),
    pytest.param(None, id="none"),
    pytest.param(math.nan, id="nan"),
]

# -- NoExpiry ---------------------------------------------------------------------------------


def test_no_expiry_satisfies_the_expiry_protocol() -> None:
    assert isinstance(NoExpiry(), ExpiryPolicy)


def test_no_expiry_gives_written_entries_an_infinite_deadline() -> None:
    assert NoExpiry().on_write("a/c/0", now=123.0) == math.inf


def test_no_expiry_reads_keep_the_current_deadline() -> None:
    policy = NoExpiry()
    assert policy.on_read("a/c/0", now=500.0, deadline=math.inf) == math.inf
    assert policy.on_read("a/c/0", now=500.0, deadline=42.0) == 42.0


# -- TTL --------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy_type", [TTL, TTI])
def test_timed_policies_satisfy_the_expiry_protocol(policy_type: type[TTL]) -> None:
    assert isinstance(policy_type(1), ExpiryPolicy)


def test_ttl_deadline_is_write_time_plus_seconds() -> None:
    policy = TTL(30)
    assert policy.on_write("zarr.json", now=100.0) == 130.0
    assert policy.on_write("zarr.json", now=0.0) == 30.0


def test_ttl_accepts_fractional_seconds() -> None:
    assert TTL(0.25).on_write("k", now=10.0) == pytest.approx(10.25)


def test_ttl_reads_do_not_extend_the_deadline() -> None:
    policy = TTL(30)
    deadline = policy.on_write("k", now=100.0)
    assert policy.on_read("k", now=120.0, deadline=deadline) == 130.0
    assert policy.on_read("k", now=129.9, deadline=deadline) == 130.0


def test_ttl_deadline_is_the_same_for_whole_values_and_range_entries() -> None:
    policy = TTL(5)
    assert policy.on_write(RangeKey("k", 0, 10), now=1.0) == policy.on_write("k", now=1.0) == 6.0


@pytest.mark.parametrize("seconds", BAD_SECONDS)
def test_ttl_rejects_seconds_that_are_not_a_positive_number(seconds: object) -> None:
    with pytest.raises(ValueError, match=r"TTL\.seconds must be a positive number of seconds"):
        TTL(seconds)  # type: ignore[arg-type]


def test_ttl_error_message_shows_the_rejected_value() -> None:
    with pytest.raises(ValueError, match=r"got '10'"):
        TTL("10")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"got -1\b"):
        TTL(-1)


def test_ttl_is_immutable() -> None:
    policy = TTL(10)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.seconds = 20  # type: ignore[misc]
    assert policy.seconds == 10


# -- TTI --------------------------------------------------------------------------------------


def test_tti_deadline_on_write_is_write_time_plus_seconds() -> None:
    assert TTI(30).on_write("k", now=100.0) == 130.0


def test_tti_reads_extend_the_deadline_from_the_time_of_the_read() -> None:
    policy = TTI(30)
    deadline = policy.on_write("k", now=100.0)
    deadline = policy.on_read("k", now=120.0, deadline=deadline)
    assert deadline == 150.0
    deadline = policy.on_read("k", now=149.0, deadline=deadline)
    assert deadline == 179.0


def test_tti_read_deadline_ignores_the_previous_deadline() -> None:
    """The new deadline depends only on when the read happened."""
    policy = TTI(10)
    assert policy.on_read("k", now=50.0, deadline=1.0) == 60.0
    assert policy.on_read("k", now=50.0, deadline=math.inf) == 60.0


@pytest.mark.parametrize("seconds", BAD_SECONDS)
def test_tti_rejects_seconds_that_are_not_a_positive_number(seconds: object) -> None:
    with pytest.raises(ValueError, match=r"TTI\.seconds must be a positive number of seconds"):
        TTI(seconds)  # type: ignore[arg-type]


def test_ttl_and_tti_with_equal_seconds_are_not_equal() -> None:
    """They expire differently, so they must not compare equal."""
    assert TTL(10) == TTL(10)
    assert TTI(10) == TTI(10)
    assert TTL(10) != TTI(10)


# -- AdmitAll ---------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [AdmitAll(), MaxSize()], ids=["AdmitAll", "MaxSize"])
def test_admission_policies_satisfy_the_admission_protocol(policy: object) -> None:
    assert isinstance(policy, AdmissionPolicy)


@pytest.mark.parametrize(
    ("size", "capacity", "victim"),
    [(0, None, None), (10, 100, None), (1000, 100, "old"), (10**12, 1, RangeKey("k", 0, 1))],
)
def test_admit_all_admits_every_entry(size: int, capacity: int | None, victim: object) -> None:
    policy = AdmitAll()
    policy.on_access("k")
    assert policy.admit("k", size, capacity=capacity, victim=victim) is True


# -- MaxSize ----------------------------------------------------------------------------------


def test_max_size_fraction_defaults_to_one() -> None:
    assert MaxSize().fraction == 1.0


def test_max_size_default_admits_an_entry_up_to_the_capacity() -> None:
    policy = MaxSize()
    assert policy.admit("k", 0, capacity=100, victim=None) is True
    assert policy.admit("k", 99, capacity=100, victim=None) is True
    assert policy.admit("k", 100, capacity=100, victim=None) is True


def test_max_size_default_refuses_an_entry_larger_than_the_capacity() -> None:
    assert MaxSize().admit("k", 101, capacity=100, victim=None) is False


def test_max_size_with_a_fraction_refuses_entries_above_that_share_of_capacity() -> None:
    policy = MaxSize(fraction=0.25)
    assert policy.admit("k", 25, capacity=100, victim=None) is True
    assert policy.admit("k", 26, capacity=100, victim=None) is False


def test_max_size_without_a_capacity_admits_any_size() -> None:
    assert MaxSize().admit("k", 10**15, capacity=None, victim=None) is True
    assert MaxSize(0.01).admit("k", 10**15, capacity=None, victim=None) is True


def test_max_size_decision_does_not_depend_on_the_victim() -> None:
    policy = MaxSize(0.5)
    for victim in (None, "other", RangeKey("k", 0, 4)):
        assert policy.admit("k", 50, capacity=100, victim=victim) is True
        assert policy.admit("k", 51, capacity=100, victim=victim) is False


def test_max_size_with_zero_capacity_admits_only_empty_entries() -> None:
    policy = MaxSize()
    assert policy.admit("k", 0, capacity=0, victim=None) is True
    assert policy.admit("k", 1, capacity=0, victim=None) is False


def test_max_size_on_access_is_accepted_and_changes_nothing() -> None:
    policy = MaxSize(0.5)
    for _ in range(3):
        policy.on_access("k")
    assert policy == MaxSize(0.5)
    assert policy.admit("k", 51, capacity=100, victim=None) is False


@pytest.mark.parametrize("fraction", [1, 1.0, 0.5, 1e-9])
def test_max_size_accepts_fractions_in_the_half_open_unit_interval(fraction: float) -> None:
    assert MaxSize(fraction).fraction == fraction


@pytest.mark.parametrize(
    "fraction",
    [
        pytest.param(0, id="zero"),
        pytest.param(0.0, id="zero-float"),
        pytest.param(-0.5, id="negative"),
        pytest.param(1.5, id="above-one"),
        pytest.param(2, id="two"),
        pytest.param(True, id="bool"),
        pytest.param("0.5", id="string"),
        pytest.param(None, id="none"),
        pytest.param(math.nan, id="nan"),
    ],
)
def test_max_size_rejects_a_fraction_outside_the_half_open_unit_interval(
    fraction: object,
) -> None:
    with pytest.raises(ValueError, match=r"MaxSize\.fraction must be in \(0, 1\]"):
        MaxSize(fraction)  # type: ignore[arg-type]
