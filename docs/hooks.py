"""MkDocs hooks of the documentation site."""

from __future__ import annotations

import re
from typing import Any

# A Sphinx role left in a docstring, as Markdown renders it: :func:<code>~package.name</code>
_ROLE = re.compile(r":(?:func|class|meth|attr|data|mod|obj|exc):<code>(~?)([\w.]+)</code>")


def _cross_reference(match: re.Match[str]) -> str:
    short, identifier = match.groups()
    title = identifier.rsplit(".", 1)[-1] if short else identifier
    return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'


def on_page_content(html: str, **kwargs: Any) -> str:
    """Docstrings use Sphinx roles (``:func:`name```); render each as a link where the name
    is a documented object, and as code otherwise."""
    return _ROLE.sub(_cross_reference, html)
