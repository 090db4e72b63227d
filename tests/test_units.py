"""Sizes and fractions written for people."""

from __future__ import annotations

import doctest

import pytest

from zarr_cachestore.units import parse_fraction, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("4096", 4096),
        ("1_000", 1000),
        ("1_048_576B", 1 << 20),
        ("512MiB", 512 << 20),
        ("64 KiB", 64 << 10),
        ("64kib", 64 << 10),
        ("3GiB", 3 << 30),
        ("1TiB", 1 << 40),
        ("64Ki", 64 << 10),
        ("2GB", 2_000_000_000),
        ("2gb", 2_000_000_000),
        ("5kB", 5000),
        ("1.5 MB", 1_500_000),
        ("7M", 7_000_000),
        ("1T", 10**12),
        ("1.5KiB", 1536),
        ("  10 B ", 10),
    ],
)
def test_sizes(text: str, size: int) -> None:
    parsed = parse_size(text)
    assert parsed == size
    assert type(parsed) is int


@pytest.mark.parametrize(
    "text", ["", "lots", "-1", "1e6", "12 PiB", "MiB", "1__000", "_1", "1.", "1 iB", "5%"]
)
def test_what_is_not_a_size_is_refused_naming_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a size: .*KiB.*'512MiB'.*'2GB'"):
        parse_size(text)


@pytest.mark.parametrize("text", ["1.5", "0.3KiB", "0.0001kB"])
def test_a_size_must_come_to_whole_bytes(text: str) -> None:
    with pytest.raises(ValueError, match="not a whole number of bytes"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "fraction"),
    [("10%", 0.1), ("0.1", 0.1), (" 2.5 % ", 0.025), ("0", 0.0), ("150%", 1.5), ("1", 1.0)],
)
def test_fractions(text: str, fraction: float) -> None:
    assert parse_fraction(text) == pytest.approx(fraction)


@pytest.mark.parametrize("text", ["", "%", "ten", "5MiB"])
def test_what_is_not_a_fraction_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a fraction: .*'10%'"):
        parse_fraction(text)


@pytest.mark.parametrize("text", ["-5%", "nan", "inf%"])
def test_a_fraction_is_finite_and_not_negative(text: str) -> None:
    with pytest.raises(ValueError, match="finite number of at least 0"):
        parse_fraction(text)


def test_the_examples_in_the_module_docstring_hold() -> None:
    from zarr_cachestore import units

    failed, attempted = doctest.testmod(units)
    assert attempted == 3
    assert failed == 0
