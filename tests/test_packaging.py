"""Both distributions declare that they ship type hints (PEP 561)."""

from __future__ import annotations

from importlib.resources import files

import pytest


@pytest.mark.parametrize("package", ["zarr_cachestore", "zarr_cachestore_policies"])
def test_the_package_is_marked_typed(package: str) -> None:
    assert files(package).joinpath("py.typed").is_file()
