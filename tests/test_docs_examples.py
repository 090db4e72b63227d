"""Every ``python`` code block of the README and the docs runs as written.

The blocks of one page run in order in one namespace, as a reader would type them, in a fresh
working directory that holds the small data the pages open (the demo's array, at the path the
demo writes it). A block that cannot run here is marked by the line before it::

    <!-- not-run: the reason -->

Pages whose examples import an optional package skip, naming it, only if it is not installed.
"""

from __future__ import annotations

import doctest
import importlib
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import attrs
import numpy as np
import pytest
import zarr
from zarr.storage import LocalStore

from zarr_cachestore import available
from zarr_cachestore.demo import CHANNELS, Settings

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
OPTIONAL = ("xarray", "dask", "distributed", "fsspec", "obstore", "matplotlib")

_FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")
_POLICY = re.compile(r"--policy[ =]([\w-]+)")
_NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(?P<reason>.*?)\s*-->$")


@attrs.frozen
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # of the opening fence, counted from 1
    lang: str
    code: str
    not_run: str | None  # the reason given, if the block is marked as not run

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> Iterator[Block]:
    """The fenced code blocks of ``page``, in order."""
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = _NOT_RUN.match(before.strip())
        yield Block(
            page,
            index + 1,
            opening["lang"],
            "\n".join(lines[index + 1 : end]) + "\n",
            marker["reason"] if marker else None,
        )
        index = end + 1


def python_blocks(page: Path) -> list[Block]:
    return [block for block in blocks(page) if block.lang == "python"]


def _label(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.fixture
def workdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    """A working directory holding a small copy of the demo's array, at the demo's path; and,
    for a page about Redis, a server whose address is ``REDIS_URL``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.syspath_prepend(str(ROOT / "docs" / "tutorial_policy" / "src"))  # as installed
    page: Path = request.node.callspec.params["page"]
    if "RedisStore(" in page.read_text():
        monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
    settings = Settings()
    rows_per_chunk = settings.chunk_kib * 1024 // (CHANNELS * 4)
    array = zarr.create_array(
        store=LocalStore(settings.array_path),
        shape=(4 * rows_per_chunk, CHANNELS),
        chunks=(rows_per_chunk, CHANNELS),
        dtype="float32",
        compressors=None,
        fill_value=0.0,
    )
    array[:] = np.arange(array.size, dtype="float32").reshape(array.shape)
    return tmp_path


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=_label)
def test_the_python_examples_of_a_page_run(page: Path, workdir: Path) -> None:
    runnable = [block for block in python_blocks(page) if block.not_run is None]
    for block in runnable:
        for module in OPTIONAL:
            if re.search(rf"^\s*(import|from) {module}\b", block.code, re.MULTILINE):
                pytest.importorskip(module, reason=f"{block.where} needs {module}")
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in runnable:
        if block.code.lstrip().startswith(">>>"):
            run_session(block, namespace)
            continue
        try:
            padded = "\n" * block.line + block.code  # tracebacks give the page's line numbers
            exec(compile(padded, str(block.page), "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"the example at {block.where} failed: {exc!r}") from exc


def run_session(block: Block, namespace: dict[str, object]) -> None:
    """A block written as an interactive session: its output must be what the page shows."""
    parser = doctest.DocTestParser()
    session = parser.get_doctest(block.code, namespace, block.where, str(block.page), block.line)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    runner.run(session, out=report.append, clear_globs=False)
    assert not runner.failures, f"the session at {block.where} differs:\n{''.join(report)}"


def test_examples_are_found_in_the_readme_and_the_docs() -> None:
    assert python_blocks(ROOT / "README.md")
    assert sum(len(python_blocks(page)) for page in PAGES[1:]) >= 10


def test_every_block_not_run_says_why() -> None:
    marked = [block for page in PAGES for block in blocks(page) if block.not_run is not None]
    assert all(block.not_run for block in marked), [b.where for b in marked if not b.not_run]
    assert all(block.lang == "python" for block in marked), [b.where for b in marked]


def test_the_readme_opens_the_array_the_demo_writes() -> None:
    use = python_blocks(ROOT / "README.md")[0]
    assert f'"{Settings().array_path}"' in use.code


def _documented_names() -> set[str]:
    """The objects the API reference renders, by their ``::: dotted.name`` directives."""
    pages = (ROOT / "docs" / "reference").glob("*.md")
    found = set()
    for page in pages:
        text = page.read_text()
        found |= set(re.findall(r"^::: (\S+)$", text, re.MULTILINE))
        for module, members in re.findall(
            r"^::: (\S+)\n(?:[ \t]+\S.*\n)*?[ \t]+members: \[(.*)\]$", text, re.MULTILINE
        ):
            found |= {f"{module}.{name.strip()}" for name in members.split(",")}
    return found


@pytest.mark.parametrize("package", ["zarr_cachestore", "zarr_cachestore_policies"])
def test_the_api_reference_covers_every_public_name(package: str) -> None:
    module = importlib.import_module(package)
    missing = {f"{package}.{name}" for name in module.__all__} - _documented_names()
    assert missing == set()


def _tutorial_policies() -> set[str]:
    """The names the tutorial's own package registers (``docs/tutorial_policy``)."""
    project = tomllib.loads((ROOT / "docs" / "tutorial_policy" / "pyproject.toml").read_text())
    return set(project["project"]["entry-points"]["zarr_cachestore.eviction"])


def test_the_command_examples_name_only_policies_that_exist() -> None:
    known = set(available("eviction")) | _tutorial_policies()
    commands = [
        block
        for page in PAGES
        for block in blocks(page)
        if block.lang in ("bash", "console") and "zarr-cachestore simulate" in block.code
    ]
    named = {(block.where, name) for block in commands for name in _POLICY.findall(block.code)}
    assert commands
    assert named
    assert {(where, name) for where, name in named if name not in known} == set()
