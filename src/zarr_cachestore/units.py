"""Sizes written for people: ``"512MiB"``, ``"2GB"``, ``"1_000"``; fractions: ``"10%"``.

>>> parse_size("64 KiB")
65536
>>> parse_size("2GB")
2000000000
>>> parse_fraction("10%")
0.1
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

__all__ = ["parse_fraction", "parse_size"]

_BINARY = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_DECIMAL = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_NUMBER = r"\d+(?:_\d+)*(?:\.\d+)?"
_SIZE = re.compile(rf"^({_NUMBER})\s*(?:([kmgt])(i)?)?(b)?$", re.IGNORECASE)

SIZE_FORMS = (
    "a whole number of bytes ('4096', '1_000'), or a number with a unit: "
    "KiB, MiB, GiB, TiB (powers of 1024: '512MiB', '64 KiB') or "
    "kB, MB, GB, TB (powers of 1000: '2GB', '1.5 MB')"
)


def parse_size(text: str) -> int:
    """The number of bytes ``text`` names.

    Binary units (``KiB``, ``MiB``, ``GiB``, ``TiB``) are powers of 1024; decimal units
    (``kB``, ``MB``, ``GB``, ``TB``, or the bare letters ``K``, ``M``, ``G``, ``T``) are powers
    of 1000, as in dask. Case, a space before the unit and ``_`` between digits do not matter;
    a fraction must come to a whole number of bytes (``"1.5KiB"`` is 1536).

    Raises
    ------
    ValueError
        ``text`` is not such a size; the message names the accepted forms.
    """
    match = _SIZE.match(text.strip())
    if match is None:
        raise ValueError(f"not a size: {text!r}; write {SIZE_FORMS}")
    number, prefix, binary, _ = match.groups()
    scale = 1 if prefix is None else (_BINARY if binary else _DECIMAL)[prefix.lower()]
    size = Fraction(number.replace("_", "")) * scale
    if size.denominator != 1:
        raise ValueError(f"{text!r} is not a whole number of bytes ({float(size):g})")
    return int(size)


def parse_fraction(text: str) -> float:
    """The fraction ``text`` names: a percentage (``"10%"`` is 0.1) or a number (``"0.1"``).

    Raises
    ------
    ValueError
        ``text`` is neither, or is negative or not finite.
    """
    stripped = text.strip()
    percent = stripped.endswith("%")
    try:
        value = float(stripped.removesuffix("%").strip())
    except ValueError:
        raise ValueError(
            f"not a fraction: {text!r}; write a percentage ('10%') or a number ('0.1')"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"a fraction must be a finite number of at least 0, got {text!r}")
    return value / 100 if percent else value
