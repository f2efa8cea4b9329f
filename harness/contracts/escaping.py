"""Text from data, files and plugins made safe to show: terminals, Markdown and spreadsheets.

Every string that did not come from sparsebench itself passes through here before it is printed or written.
"""

from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def escape_markdown(text: str) -> str:
    """Text that renders literally in Markdown (and cannot open HTML tags or break a table row)."""
    text = printable(" ".join(str(text).split()))
    text = text.replace("&", "&amp;")
    return _MD_SPECIAL.sub(r"\\\1", text)


_FORMULA_START = "=+-@\t\r\n\uff1d\uff0b\uff0d\uff20"  # and their full-width forms, which some spreadsheets accept
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def neutralise_formula(value: Any) -> Any:
    """A CSV cell that a spreadsheet would evaluate gets a leading quote.

    That is a cell starting with ``=``, ``+``, ``-``, ``@``, tab, CR or LF (or one of them after
    leading spaces, which some spreadsheets skip).
    """
    if isinstance(value, str) and value.lstrip(" ")[:1] and value.lstrip(" ")[0] in _FORMULA_START:
        return "'" + value
    return value


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``), for terminals and documents.

    Terminal escape sequences, carriage returns and bidirectional overrides in a dataset or generated
    text could otherwise rewrite the screen or disguise what a report says. Tabs and newlines stay.
    """
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def safe_json(text: str) -> str:
    """JSON whose control and bidirectional characters are ``\\u`` escapes: still the same values, but a
    terminal shows them instead of obeying them (U+202E would reorder the line). Other non-ASCII stays."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
