"""The leaderboard: stored rows flattened, filtered, sorted and rendered. Only reads the store.

Every text that came from a dataset, a plugin or a user is escaped for the format it is written in:
rich markup, Markdown, and CSV (cells that a spreadsheet would run as a formula are neutralised).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import UsageError
from .metrics import METRIC_KEYS

FORMATS = ("table", "md", "csv", "json")
STATUS_ORDER = {"done": 0, "skipped": 1, "unavailable": 2, "timeout": 3, "error": 4}
TIMING_KEYS = (
    "generation_texts_per_s",
    "generation_tokens_per_s",
    "generation_s_per_text",
    "generation_s",
    "generation_peak_rss_mb",
    "generation_peak_gpu_mb",
    "train_s",
    "train_samples_per_s",
    "predict_samples_per_s",
    "peak_rss_mb",
    "peak_gpu_mb",
    "cell_s",
)


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    """One flat record per cell: configuration, status, metrics with intervals, timings, counts."""
    details = row.get("details", {})
    generation = details.get("generation", {}) or {}
    splits = details.get("splits", {}) or {}
    training = details.get("training", {}) or {}
    flat: dict[str, Any] = {
        "cell": row["cell_id"],
        "dataset": row["dataset"],
        "generator": row["generator"],
        "classifier": row["classifier"],
        "level": row["level"],
        "mode": row["mode"],
        "seed": row["seed"],
        "status": row["status"],
        "reason": row["reason"],
    }
    for key in METRIC_KEYS:
        metric = row.get("metrics", {}).get(key, {})
        flat[key] = metric.get("value")
        flat[f"{key}_low"] = metric.get("low")
        flat[f"{key}_high"] = metric.get("high")
    flat["test_positives"] = splits.get("test_positives")
    flat["test_rows"] = splits.get("test_rows")
    flat["train_size"] = training.get("size")
    flat["synthetic"] = training.get("synthetic_positives")
    flat["acceptance_rate"] = generation.get("acceptance_rate")
    for key in TIMING_KEYS:
        flat[key] = row.get("timings", {}).get(key)
    flat["run_id"] = row.get("run_id")
    flat["finished_at"] = row.get("finished_at")
    return flat


def select(
    rows: Iterable[dict[str, Any]],
    where: Sequence[str] = (),
    sort: str = "auprc",
    descending: bool = True,
    aggregate: bool = False,
) -> list[dict[str, Any]]:
    """Filter flat rows with ``key=value`` / ``key!=value`` / ``key>x`` / ``key<x`` and sort them.

    ``aggregate`` folds the seeds of each configuration into one row (see :mod:`sparsebench.aggregate`).
    """
    flat = [flatten(r) for r in rows]
    for condition in where:
        flat = [r for r in flat if _matches(r, condition)]
    if aggregate:
        from .aggregate import aggregate_seeds

        flat = aggregate_seeds(flat)
    if flat and sort not in flat[0]:
        raise UsageError(f"cannot sort by {sort!r}; choose one of: {', '.join(sortable_keys())}")

    def key(record: dict[str, Any]) -> tuple[Any, ...]:
        value = record.get(sort)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        number = value if isinstance(value, (int, float)) and not missing else 0.0
        text = "" if isinstance(value, (int, float)) or value is None else str(value)
        signed = -number if descending else number
        return (STATUS_ORDER.get(record["status"], 9), missing, signed, text, record["generator"], record["level"])

    return sorted(flat, key=key)


def sortable_keys() -> list[str]:
    sample = flatten({"cell_id": "", "dataset": "", "generator": "", "classifier": "", "level": 0, "mode": "", "seed": 0, "status": "", "reason": ""})
    return list(sample)


_CONDITION = re.compile(r"^([\w@.]+)\s*(!=|>=|<=|=|>|<)\s*(.*)$")


def _matches(record: dict[str, Any], condition: str) -> bool:
    match = _CONDITION.match(condition.strip())
    if not match:
        raise UsageError(f"filter {condition!r} must look like key=value, key!=value, key>number or key<number")
    key, op, expected = match.groups()
    if key not in record:
        raise UsageError(f"cannot filter on {key!r}; choose one of: {', '.join(sortable_keys())}")
    value = record[key]
    if op in ("=", "!="):
        equal = _equal(value, expected)
        return equal if op == "=" else not equal
    try:
        number = float(expected.rstrip("%")) / (100 if expected.endswith("%") else 1)
    except ValueError:
        raise UsageError(f"filter {condition!r}: {expected!r} is not a number") from None
    if not isinstance(value, (int, float)):
        return False
    return {">": value > number, "<": value < number, ">=": value >= number, "<=": value <= number}[op]


def _equal(value: Any, expected: str) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(expected.rstrip("%")) / (100 if expected.endswith("%") else 1)
        except ValueError:
            return False
        return math.isclose(value, number, rel_tol=1e-9, abs_tol=1e-12)
    text = "" if value is None else str(value)
    return text == expected or text.split("[", 1)[0] == expected


# --- rendering -----------------------------------------------------------------------------------

COLUMNS: tuple[tuple[str, str], ...] = (
    ("cell", "cell"),
    ("generator", "generator"),
    ("classifier", "classifier"),
    ("level", "level"),
    ("seed", "seed"),
    ("status", "status"),
    ("auprc", "AUPRC [95% CI]"),
    ("f1@val", "F1@val [95% CI]"),
    ("precision@val", "P@val"),
    ("recall@val", "R@val"),
    ("auroc", "AUROC"),
    ("verdict", "vs real-only"),
    ("vs_oversample", "vs oversample"),
    ("acceptance_rate", "accept"),
    ("generation_texts_per_s", "gen texts/s"),
    ("train_samples_per_s", "train/s"),
    ("cell_s", "cell s"),
)


def cell_text(record: dict[str, Any], key: str) -> str:
    """How one value is shown in tables and Markdown."""
    value = record.get(key)
    if key == "cell":
        return str(value)[:8]
    if key == "level":
        return f"{value:.2%}"
    if key in ("auprc", "f1@val") and value is not None:
        low, high = record.get(f"{key}_low"), record.get(f"{key}_high")
        return f"{value:.3f} [{low:.3f}, {high:.3f}]" if low is not None else f"{value:.3f}"
    if key == "acceptance_rate" and value is not None:
        return f"{value:.0%}"
    if key in ("generation_texts_per_s", "train_samples_per_s") and value is not None:
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    if key == "cell_s" and value is not None:
        return f"{value:.1f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else printable(str(value))


def columns_for(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    columns = list(COLUMNS)
    if len({r["dataset"] for r in records}) > 1:
        columns.insert(1, ("dataset", "dataset"))
    return columns


_FREE_TEXT = ("dataset", "generator", "classifier", "status")


def to_markdown(records: list[dict[str, Any]]) -> str:
    columns = columns_for(records)
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    for record in records:
        cells = (escape_markdown(cell_text(record, key)) if key in _FREE_TEXT else cell_text(record, key) for key, _ in columns)
        lines.append("| " + " | ".join(cells) + " |")
    notes = [r for r in records if r["reason"]]
    if notes:
        lines.append("")
        lines += [f"- `{r['cell'][:8]}` {escape_markdown(r['status'])}: {escape_markdown(r['reason'])}" for r in notes]
    return "\n".join(lines) + "\n"


def to_csv(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    keys = list(records[0]) if records else sortable_keys()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\r\n")  # RFC 4180; a CR in a text is then quoted too
    writer.writeheader()
    for record in records:
        writer.writerow({k: neutralise_formula(record.get(k)) for k in keys})
    return buffer.getvalue()


def to_json(records: list[dict[str, Any]]) -> str:
    return json.dumps(records, indent=2, ensure_ascii=False, default=str) + "\n"


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
