"""Self-contained HTML: a page skeleton with its style inlined, escaped text, and tables.

Nothing here loads anything: no script, no font, no image from elsewhere. Every text that came from a
dataset, a plugin or a user goes through :func:`esc` (HTML-escaped, control characters shown as escapes).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from sparsebench.analysis.leaderboard import cell_text, columns_for, footnotes
from sparsebench.contracts.escaping import printable

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; vertical-align: top; }
th { background: #f4f4f6; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; } figcaption { color: #555; font-size: 13px; max-width: 80ch; }
figure svg { max-width: 100%; height: auto; }
.helps { color: #17803d; font-weight: 600; } .hurts { color: #b42318; font-weight: 600; } .note { color: #555; }
.sample { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 12.5px; }
nav a { margin-right: 1rem; }
"""


def esc(text: Any) -> str:
    """``text`` safe inside HTML elements and attribute values."""
    return html.escape(printable("" if text is None else str(text)), quote=True)


def page(title: str, parts: Iterable[str]) -> str:
    """A complete document; ``title`` is escaped here, ``parts`` must already be HTML."""
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n"
    )
    return head + "\n".join(parts) + "\n</body></html>\n"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[bool] | None = None) -> str:
    """An HTML table; every header and cell is escaped."""
    numeric = numeric or [False] * len(headers)
    out = ["<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr></thead><tbody>"]
    for row in rows:
        cells = "".join(f'<td class="num">{esc(v)}</td>' if n else f"<td>{esc(v)}</td>" for v, n in zip(row, numeric, strict=True))
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def leaderboard_html(records: list[dict[str, Any]], keys: Sequence[str]) -> str:
    """The leaderboard as an HTML table with its notes under it."""
    from sparsebench.analysis.columns import BY_KEY

    columns = columns_for(records, keys)
    numeric = [BY_KEY[k].numeric if k in BY_KEY else True for k, _ in columns]
    body = table([h for _, h in columns], ([cell_text(r, k) for k, _ in columns] for r in records), numeric)
    notes = "".join(f'<li class="note">{esc(line)}</li>' for line in footnotes(records))
    return body + (f"<ul>{notes}</ul>" if notes else "")


def leaderboard_page(records: list[dict[str, Any]], keys: Sequence[str]) -> str:
    """``bench leaderboard -o board.html``: the table alone, as a page."""
    return page(f"sparsebench leaderboard: {len(records)} cells", [f"<h1>Leaderboard: {len(records)} cells</h1>", leaderboard_html(records, keys)])
