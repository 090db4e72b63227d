"""The prefetcher section of docs/tutorial-policy.md runs as written, against its package."""

from __future__ import annotations

import doctest
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zarr_cachestore import registry
from zarr_cachestore.testing.prefetch import check_prefetch_policy

DOCS = Path(__file__).parents[1] / "docs"
PACKAGE = DOCS / "tutorial_policy"
SECTION = (DOCS / "tutorial-policy.md").read_text().split("## 4. Writing a prefetcher")[1]
SECTION = SECTION.split("\n## ")[0]  # up to the next section
BLOCKS = re.findall(r"```python\n(.*?)```", SECTION, re.DOTALL)


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The tutorial package as ``pip install ./docs/tutorial_policy`` leaves it: its sources
    importable, and a ``.dist-info`` declaring its entry points."""
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    info = tmp_path / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in names.items())
            for group, names in project["entry-points"].items()
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(PACKAGE / "src"))
    registry._plugins.cache_clear()
    yield
    registry._plugins.cache_clear()
    for module in ("row_ahead", "hits_per_byte"):
        sys.modules.pop(module, None)


@pytest.mark.usefixtures("installed")
def test_the_section_runs_as_written() -> None:
    code = [block for block in BLOCKS if not block.startswith(">>>")]
    sessions = [block for block in BLOCKS if block.startswith(">>>")]
    assert (len(code), len(sessions)) == (1, 2)
    namespace: dict[str, Any] = {"__name__": "tutorial"}
    exec(code[0], namespace)
    runner = doctest.DocTestRunner()
    report: list[str] = []
    for i, session in enumerate(sessions):
        test = doctest.DocTestParser().get_doctest(session, namespace, f"session {i}", None, 0)
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_the_class_shown_is_the_one_the_package_registers() -> None:
    (code,) = [block for block in BLOCKS if not block.startswith(">>>")]
    assert code in (PACKAGE / "src" / "row_ahead" / "__init__.py").read_text()


@pytest.mark.usefixtures("installed")
def test_the_tutorial_prefetcher_keeps_the_contract() -> None:
    from row_ahead import RowAhead  # type: ignore[import-not-found]

    check_prefetch_policy(RowAhead)
