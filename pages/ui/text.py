"""Text that comes from files (recipes, checkpoint metadata, file names) shown as text, never as Markdown:
``![x](http://host/pixel.png)`` in a recipe must not make the browser fetch that address."""

from __future__ import annotations

import re

# What can make Markdown (or Streamlit's extensions of it) out of one line of text: code spans, emphasis,
# links and images ([...](...), ![...](...)), Streamlit's :color[...] directives, HTML and autolinks (<...>),
# tables, strikethrough and LaTeX ($...$). Escaping these leaves everything else readable as it is.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~$])")


def plain(value: object, limit: int = 1000) -> str:
    """``value`` as literal text inside a Markdown string: the characters that make Markdown escaped, one
    line, cut at ``limit`` characters."""
    text = " ".join(str(value).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return _MARKDOWN.sub(r"\\\1", text)


def literal(value: object, limit: int = 200) -> str:
    """``value`` as an inline code span (a file name, a command): backticks inside cannot end it early."""
    text = " ".join(str(value).split()).replace("`", "'")
    return f"`{text if len(text) <= limit else text[: limit - 1] + '…'}`"
