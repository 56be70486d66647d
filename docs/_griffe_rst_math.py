"""A griffe extension for the API reference: nsolve's numpydoc docstrings use reST roles.

mkdocstrings renders docstrings as Markdown; this rewrites, in every docstring it loads,

* ``:math:`...``` to ``$...$`` and ``.. math::`` blocks to ``$$ ... $$`` (MathJax through
  pymdownx.arithmatex),
* ``:func:`x```, ``:class:`x``` and the other cross-reference roles to inline code ```x```
  (a leading ``~`` is dropped).

Loaded by ``mkdocs.yml`` (``extensions: - docs/_griffe_rst_math.py:RstMath``); not part of
the package.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_XREF_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const|ref):`~?([^`]+)`")
_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<rest>.*)$")


def _math_blocks(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = len(m.group("indent").expandtabs())
        body = [m.group("rest")] if m.group("rest").strip() else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i].strip())
            i += 1
        while body and not body[-1]:
            body.pop()
        pad = " " * indent
        out += [f"{pad}$$", *(f"{pad}{b}" for b in body if b), f"{pad}$$", ""]
    return "\n".join(out)


def convert(text: str) -> str:
    """Rewrite the reST math and cross-reference roles of one docstring as Markdown."""
    text = _math_blocks(text)
    text = _MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)
    return _XREF_ROLE.sub(lambda m: f"`{m.group(1)}`", text)


class RstMath(Extension):
    """Apply :func:`convert` to every docstring griffe loads."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
