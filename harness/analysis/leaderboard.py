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
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sparsebench.analysis import roles
from sparsebench.analysis.columns import SHARE_KEYS, WIDE, header, is_verdict, resolve, short_datasets
from sparsebench.contracts.enums import Status
from sparsebench.contracts.errors import SparsebenchError, UsageError
from sparsebench.contracts.escaping import escape_markdown, neutralise_formula, printable
from sparsebench.protocol.functional import summary_columns as functional_columns
from sparsebench.protocol.metrics import METRIC_KEYS
from sparsebench.protocol.quality import summary_columns as quality_columns

FORMATS = ("table", "md", "csv", "json")
STATUS_ORDER: dict[str, int] = {status: rank for rank, status in enumerate(Status)}
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
    flat["prevalence"] = (row.get("config") or {}).get("prevalence")
    flat["test_positives"] = splits.get("test_positives")
    flat["test_rows"] = splits.get("test_rows")
    for suffix in ("0.5", "val"):
        flat[f"flagged@{suffix}"] = flagged_rows(flat, suffix, (row.get("config") or {}).get("prevalence"))
    flat["train_size"] = training.get("size")
    flat["synthetic"] = training.get("synthetic_positives")
    flat["acceptance_rate"] = generation.get("acceptance_rate")
    for key in TIMING_KEYS:
        flat[key] = row.get("timings", {}).get(key)
    flat.update(quality_columns(details.get("quality")))
    flat.update(functional_columns(details.get("functional")))
    row_roles = roles.of(row)
    flat["generator_role"], flat["classifier_role"], flat["reference"] = row_roles.generator, row_roles.classifier, row_roles.reference
    flat["run_id"] = row.get("run_id")
    flat["finished_at"] = row.get("finished_at")
    return flat


#: precision over fewer flagged test rows than this is shown as ``n/a`` (its interval is meaningless)
MIN_FLAGGED = 5


def flagged_rows(flat: dict[str, Any], suffix: str, prevalence: float | None) -> int | None:
    """How many test rows the cell flags at threshold ``suffix`` (``0.5`` or ``val``), from its stored metrics.

    Weighted recall is ``tp / positives``; weighted precision is ``tp·w / (tp·w + fp)`` with each positive
    weighing ``w`` (:func:`sparsebench.protocol.sparsity.deployment_weights`), so ``fp`` follows. None where no
    true positive is flagged (the precision is then 0 whatever else is flagged) or a count is missing.
    """
    precision, recall = flat.get(f"precision@{suffix}"), flat.get(f"recall@{suffix}")
    positives, rows = flat.get("test_positives"), flat.get("test_rows")
    if prevalence is None or None in (precision, recall, positives, rows) or not precision or not recall or not positives:
        return None
    weight = prevalence * (rows - positives) / ((1 - prevalence) * positives)
    true = recall * positives
    return round(true + true * weight * (1 - precision) / precision)


def carry_flagged(members: list[dict[str, Any]], folded: list[dict[str, Any]]) -> None:
    """Folded seeds keep the fewest flagged rows of any of their seeds (one degenerate seed marks the mean)."""
    by_cell = {m["cell"]: m for m in members}
    for record in folded:
        for suffix in ("0.5", "val"):
            counts = [by_cell[c].get(f"flagged@{suffix}") for c in record.get("cells", ()) if c in by_cell]
            if counts:
                known = [c for c in counts if c is not None]
                record[f"flagged@{suffix}"] = min(known) if known else None


def select(
    rows: Iterable[dict[str, Any]],
    where: Sequence[str] = (),
    sort: str = "auprc",
    descending: bool = True,
    aggregate: bool = False,
    arrays: Callable[[str], Any] | None = None,
    metric: str | None = None,
) -> list[dict[str, Any]]:
    """Filter flat rows with ``key=value`` / ``key!=value`` / ``key>x`` / ``key<x`` and sort them.

    Keys and ``sort`` may be record keys or the headers the table shows (``AUPRC``, ``train/s``).
    ``aggregate`` folds the seeds of each configuration into one row (see :mod:`sparsebench.analysis.aggregate`).
    With ``arrays`` (the store's per-cell arrays) each record gets its paired verdicts on ``metric``
    (default :data:`sparsebench.analysis.paired.VERDICT_METRIC`) against each baseline (:mod:`sparsebench.analysis.paired`)
    and its worth in real positives (:mod:`sparsebench.analysis.exchange`), so they can be filtered and sorted on.
    A filter that leaves no row raises :class:`NothingMatched`, which says what is stored instead.
    """
    rows = list(rows)
    flat = [flatten(r) for r in rows]
    found = _comparisons(rows, arrays)
    worth = _worths(rows, arrays, metric)
    _annotate(flat, found, metric, worth)
    for condition in where:
        kept = [r for r in flat if _matches(r, condition)]
        if flat and not kept:
            raise NothingMatched(_nothing_matched(flat, condition))
        flat = kept
    if aggregate:
        from sparsebench.analysis.aggregate import aggregate_seeds

        members, flat = flat, aggregate_seeds(flat)
        carry_flagged(members, flat)
        _annotate(flat, found, metric, worth)  # the verdicts pool the seeds themselves
    sort = resolve(sort)
    if flat and sort not in flat[0]:
        raise UsageError(f"cannot sort by {sort!r}; choose a header shown (AUPRC, F1@val, train/s, ...) or one of: {', '.join(sortable_keys())}")
    _attach_labels(flat)

    def key(record: dict[str, Any]) -> tuple[Any, ...]:
        value = record.get(sort)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        number = value if isinstance(value, (int, float)) and not missing else 0.0
        text = "" if isinstance(value, (int, float)) or value is None else str(value)
        signed = -number if descending else number
        return (STATUS_ORDER.get(record["status"], 9), missing, signed, text, record["generator"], record["level"])

    return sorted(flat, key=key)


def _comparisons(rows: list[dict[str, Any]], arrays: Callable[[str], Any] | None) -> list[Any]:
    if arrays is None:
        return []
    from sparsebench.analysis.paired import comparisons

    return comparisons(rows, arrays)


def _worths(rows: list[dict[str, Any]], arrays: Callable[[str], Any] | None, metric: str | None) -> dict[Any, Any] | None:
    if arrays is None:
        return None
    from sparsebench.analysis.exchange import worths

    return worths(rows, arrays, metric)


def _annotate(flat: list[dict[str, Any]], found: list[Any], metric: str | None, worth: dict[Any, Any] | None) -> None:
    from sparsebench.analysis.exchange import annotate_worth
    from sparsebench.analysis.paired import annotate

    annotate(flat, found, metric)
    if worth is not None:
        annotate_worth(flat, worth)


class NothingMatched(SparsebenchError):
    """A filter matched no stored cell (exit code 1, like grep)."""


def pick(records: list[dict[str, Any]], key: str, names: Sequence[str]) -> list[dict[str, Any]]:
    """The records whose ``key`` (a name, or a label ``name[params]``) is one of ``names``; unknown names are refused."""
    if not names:
        return records
    stored = sorted({str(r[key]) for r in records})
    for name in names:
        if not any(_same_component(value, name) for value in stored):
            raise UsageError(f"no {key} {name!r} in the stored results{_close(name, stored)}; stored: {', '.join(stored) or 'none'}")
    return [r for r in records if any(_same_component(str(r[key]), n) for n in names)]


def _same_component(value: str, name: str) -> bool:
    return value == name or value.split("[", 1)[0] == name


def _close(name: str, stored: list[str]) -> str:
    import difflib

    candidates = sorted(set(stored) | {s.split("[", 1)[0] for s in stored})
    by_case = [c for c in candidates if c.lower() == name.lower()]
    close = by_case or difflib.get_close_matches(name, candidates, n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def _nothing_matched(flat: list[dict[str, Any]], condition: str) -> str:
    match = _CONDITION.match(condition.strip())
    key = resolve(match.group(1)) if match else condition
    values = sorted({cell_text(r, key) for r in flat if r.get(key) is not None})
    shown = ", ".join(values[:12]) + (", ..." if len(values) > 12 else "")
    hint = _close(match.group(3), values) if match and match.group(2) == "=" else ""
    return f"no stored cell matches --where {condition!r}{hint}; {key} values stored: {shown or 'none'}"


def _attach_labels(flat: list[dict[str, Any]]) -> None:
    """Short dataset labels for display (the full label stays in ``dataset``)."""
    short = short_datasets([r["dataset"] for r in flat])
    for record in flat:
        record["dataset_short"] = short[record["dataset"]]


def sortable_keys() -> list[str]:
    sample = flatten({"cell_id": "", "dataset": "", "generator": "", "classifier": "", "level": 0, "mode": "", "seed": 0, "status": "", "reason": ""})
    return list(sample)


_CONDITION = re.compile(r"^([\w@./ ]+?)\s*(!=|>=|<=|=|>|<)\s*(.*)$")


def _matches(record: dict[str, Any], condition: str) -> bool:
    match = _CONDITION.match(condition.strip())
    if not match:
        raise UsageError(f"filter {condition!r} must look like key=value, key!=value, key>number or key<number")
    name, op, expected = match.groups()
    key = resolve(name)
    if key not in record:
        raise UsageError(f"cannot filter on {name!r}; choose a header shown (level, AUPRC, train/s, ...) or one of: {', '.join(sortable_keys())}")
    value = record[key]
    number = _number(expected, key, condition)
    if op in ("=", "!="):
        equal = _equal(value, expected, number)
        return equal if op == "=" else not equal
    if number is None:
        raise UsageError(f"filter {condition!r}: {expected!r} is not a number")
    if not isinstance(value, (int, float)):
        return False
    return {">": value > number, "<": value < number, ">=": value >= number, "<=": value <= number}[op]


def _number(expected: str, key: str, condition: str) -> float | None:
    text = expected.strip()
    try:
        number = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        return None
    if key in SHARE_KEYS and not text.endswith("%") and number > 1:
        raise UsageError(f"filter {condition!r}: {key} is a share; write {key}={text}% or {key}={number / 100:g}")
    return number


def _equal(value: Any, expected: str, number: float | None) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number is not None and math.isclose(value, number, rel_tol=1e-9, abs_tol=1e-12)
    text = "" if value is None else str(value)
    return text == expected or text.split("[", 1)[0] == expected


# --- rendering -----------------------------------------------------------------------------------

_PLAIN_NUMBERS = ("generation_texts_per_s", "generation_tokens_per_s", "train_samples_per_s", "predict_samples_per_s")


def cell_text(record: dict[str, Any], key: str) -> str:
    """How one value is shown in tables, Markdown and HTML."""
    value = record.get("f1@val" if key == "f1" else key)
    if value is None:
        return ""
    if key == "cell":
        return str(value)[:8]
    if key == "worth":
        return str(record.get("worth_text") or "")
    if key == "dataset":
        return printable(str(record.get("dataset_short") or value))
    if key == "level":
        return f"{value:.2%}"
    if key in ("auprc", "f1@val"):
        low, high = record.get(f"{key}_low"), record.get(f"{key}_high")
        return f"{value:.3f} [{low:.3f}, {high:.3f}]" if low is not None else f"{value:.3f}"
    if key in ("precision@0.5", "precision@val") and _too_few_flagged(record, key):
        return f"n/a: flags {record[key.replace('precision', 'flagged')]} rows"
    if key in ("acceptance_rate", "q_label_validity", "hc_accuracy"):
        return f"{value:.0%}"
    if key == "hc_worst":
        return f"{printable(str(value))} {record.get('hc_worst_accuracy') or 0:.0%}"
    if key in _PLAIN_NUMBERS:
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    if key == "cell_s":
        return f"{value:.1f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return printable(str(value))


def several_seeds(records: list[dict[str, Any]]) -> bool:
    """Whether two records share a configuration (dataset, generator, classifier, level, mode) and differ by seed only."""
    configs = [(r["dataset"], r["generator"], r["classifier"], r["level"], r.get("mode")) for r in records]
    return len(set(configs)) < len(configs)


def _too_few_flagged(record: dict[str, Any], key: str) -> bool:
    flagged = record.get(key.replace("precision", "flagged"))
    return flagged is not None and flagged < MIN_FLAGGED


def columns_for(records: list[dict[str, Any]], keys: Sequence[str] = WIDE) -> list[tuple[str, str]]:
    """``(key, header)`` of the columns to show: the dataset whenever there are several (even where ``keys`` leaves
    it out), the seed where configurations repeat, the status when not all are done.

    ``vs_baselines`` stands for one verdict column per baseline other than the reference (by role,
    :mod:`sparsebench.analysis.roles`); the reference's column ``verdict`` is headed with its name.
    """
    several = len({r["dataset"] for r in records}) > 1
    wide = keys is WIDE
    if several and "dataset" not in keys:  # rows of two datasets must never look alike
        at = next((i for i, k in enumerate(keys) if k == "generator"), 0)
        keys = (*keys[:at], "dataset", *keys[at:])
    if several_seeds(records) and "seed" not in keys:  # nor two seeds of one configuration
        at = next((i + 1 for i, k in enumerate(keys) if k == "level"), len(keys))
        keys = (*keys[:at], "seed", *keys[at:])
    some_failed = any(r["status"] != Status.DONE for r in records)
    keys = _expand_verdicts(records, keys)
    skip = {"dataset": not several, "status": not some_failed and not wide}
    skip.update({k: not wide and not any(r.get(k) for r in records) for k in keys if is_verdict(k) or k == "worth"})
    return [(k, _header(k, records)) for k in keys if not skip.get(k, False)]


def _expand_verdicts(records: list[dict[str, Any]], keys: Sequence[str]) -> Sequence[str]:
    if "vs_baselines" not in keys:
        return keys
    from sparsebench.analysis.paired import verdict_columns

    others = [k for k in verdict_columns(records) if k != "verdict" and k not in keys]
    expanded: list[str] = []
    for key in keys:
        expanded += others if key == "vs_baselines" else [key]
    return expanded


def _header(key: str, records: list[dict[str, Any]]) -> str:
    if key == "verdict":
        from sparsebench.analysis.roles import baselines

        reference = [name for name, is_reference in baselines(records) if is_reference]
        return f"vs {reference[0]}" if reference else header(key)
    return header(key)


def _free_text(key: str) -> bool:
    return key in ("dataset", "generator", "classifier", "status", "worth") or is_verdict(key)


def to_markdown(records: list[dict[str, Any]], keys: Sequence[str] = WIDE) -> str:
    columns = columns_for(records, keys)
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    for record in records:
        cells = (escape_markdown(cell_text(record, key)) if _free_text(key) else cell_text(record, key) for key, _ in columns)
        lines.append("| " + " | ".join(cells) + " |")
    lines += [f"- {escape_markdown(line)}" for line in footnotes(records)]
    return "\n".join(lines) + "\n"


def footnotes(records: list[dict[str, Any]]) -> list[str]:
    """Lines under a table: datasets by their short label, test positives, and reasons grouped once each."""
    notes = []
    shorts = {r["dataset_short"]: r["dataset"] for r in records if r.get("dataset_short")}
    notes += [f"dataset {short} = {label}" for short, label in shorts.items() if short != label]
    positives = sorted({(r["dataset_short"], r["test_positives"], r["test_rows"]) for r in records if r.get("test_positives") is not None})
    notes += [f"test set of {d}: {_count(p)} positives in {_count(n)} rows" for d, p, n in positives]
    notes += [f"{status} ({_who(cells)}): {reason}" for (status, reason), cells in grouped_reasons(records).items()]
    notes += _verdict_notes(records) + _study_metric_note(records)
    return [printable(n) for n in notes]


def _count(value: float) -> str:
    """A count, or a mean count over seeds (``889.3`` shown as ``889.3 (mean over seeds)``)."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f} (mean over seeds)"


def _study_metric_note(records: list[dict[str, Any]]) -> list[str]:
    """A note on F1/P/R at 0.5 when the training prevalence (the level) differs from the deployment prevalence."""
    differ = sorted({(r["level"], r["prevalence"]) for r in records if r.get("prevalence") and r.get("f1@0.5") is not None
                     and not math.isclose(r["level"], r["prevalence"])})
    if not differ:
        return []
    levels = ", ".join(f"{level:.2%}" for level in sorted({d[0] for d in differ}))
    prevalences = ", ".join(f"{p:.2%}" for p in sorted({d[1] for d in differ}))
    return [f"F1/P/R@0.5 (study): the study's fixed threshold; training prevalence ({levels}) differs from the deployment "
            f"prevalence ({prevalences}), so a falling F1@0.5 cannot tell good data from bad: read F1@val and the verdicts"]


def _verdict_notes(records: list[dict[str, Any]]) -> list[str]:
    """What the verdict and worth columns read, once, when they are shown."""
    metric = next((r["verdict_metric"] for r in records if r.get("verdict_metric")), None)
    if metric is None or not any(is_verdict(k) and r.get(k) for r in records for k in r):
        return []
    notes = [f"verdicts: paired difference in {header(metric).split(' [', 1)[0]} against each baseline on the same test rows, "
             "95% interval over seeds (Hartung-Knapp, t on seeds - 1 degrees of freedom)"]
    if any(r.get("worth_text") for r in records):
        notes.append(f"worth: the real training positives that would give the same {header(metric).split(' [', 1)[0]} "
                     "(on the upper bound's curve; negative: as if real positives were taken away), 95% interval")
    return notes


def grouped_reasons(records: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        if record["reason"]:
            groups.setdefault((record["status"], " ".join(str(record["reason"]).split())), []).append(record)
    return groups


def _who(cells: list[dict[str, Any]]) -> str:
    """``t5, 17 cells``: the component the cells of one reason share, or their number."""
    if len(cells) == 1:
        return f"{cells[0]['generator']} × {cells[0]['classifier']}"
    for key in ("classifier", "generator"):
        names = sorted({str(c[key]) for c in cells})
        if len(names) <= 2:
            return f"{', '.join(names)}, {len(cells)} cells"
    return f"{len(cells)} cells"


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
