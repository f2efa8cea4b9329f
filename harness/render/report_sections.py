"""The report's "beyond one score" sections: generated-set quality and functional tests (HateCheck).

Both read stored rows only (``details.quality``, ``details.generation``, ``details.functional``):

* :func:`quality_rows`: one row per generation (dataset, seed, generator), not per cell: every cell of
  a generation stores the same quality, so the latest stored cell of each generation speaks for it.
* :func:`functional_matrix`: accuracy per functionality (rows) × configuration (columns: generator ×
  classifier at the configuration's top level, the mean over its seeds), for the heatmap; and
  :func:`target_rows`, the same configurations per target group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sparsebench.analysis import roles
from sparsebench.contracts.enums import Status
from sparsebench.protocol.leakage import EVAL_NEAR_DUPLICATE
from sparsebench.render.html import esc, table

#: the heatmap shows at most this many configurations (whole classifiers, in order); the caption names the rest
MAX_COLUMNS = 32


def _done(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("status") == Status.DONE]


# --- quality, one row per generation -------------------------------------------------------------


def quality_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per generation: dataset, seed, generator, its stored quality dict and the runner's near-duplicate drops."""
    latest: dict[tuple[str, int, str], dict[str, Any]] = {}
    for row in rows:
        details = row.get("details") or {}
        if not details.get("quality"):
            continue
        key = (row["dataset"], int(row["seed"]), row["generator"])
        if key not in latest or row.get("finished_at", 0) > latest[key].get("finished_at", 0):
            latest[key] = row
    out = []
    for (dataset, seed, generator), row in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1], _generator_order(kv[0][2]))):
        generation = row["details"].get("generation") or {}
        dropped = (generation.get("rejected") or {}).get(EVAL_NEAR_DUPLICATE, 0)
        out.append({"dataset": dataset, "seed": seed, "generator": generator, "quality": row["details"]["quality"], "near_dropped": dropped})
    return out


def _generator_order(label: str) -> tuple[int, str]:
    return (roles.rank(label), label)


def _f(value: Any, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else ""


def quality_section(rows: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """The quality table (HTML) and its caption."""
    found = quality_rows(rows)
    caption = ("The quality of each generated set, computed once per generation over all its texts (lower levels train on a prefix). "
               "distinct-2: unique word bigrams / all; self-sim: mean cosine between two texts of the set; novelty: mean cosine to the nearest "
               "real training positive (1 = copies); copies: share with that cosine ≥ 0.95; fid P / R: improved precision / recall (k = 5) "
               "against reserve positives the generator never saw; valid: share a judge trained on real rows only calls toxic, next to "
               "that judge's recall on real validation positives; near-dups dropped: texts the runner dropped as near-duplicates of a "
               "validation or test row (character 5-gram Jaccard ≥ 0.8), and asked the generator to replace. docs/quality.md defines each.")
    if not found:
        return "<p>No generated set has a stored quality: run a synthetic generator (e.g. <code>bench run -g template</code>).</p>", caption
    headers = ("dataset", "seed", "generator", "n texts", "distinct-2", "self-sim", "novelty", "copies", "fid P", "fid R",
               "valid (judge recall)", "near-dups dropped", "embedding")
    body = []
    for entry in found:
        q = entry["quality"]
        if "error" in q:
            body.append((entry["dataset"], entry["seed"], entry["generator"], f"not computed: {q['error']}", *[""] * 9))
            continue
        valid = f"{_f(q.get('label_validity'))} ({_f(q.get('judge_recall'))})" if q.get("label_validity") is not None else ""
        body.append((entry["dataset"], entry["seed"], entry["generator"], q.get("n", ""), _f(q.get("distinct_2")), _f(q.get("self_similarity")),
                     _f(q.get("novelty")), _f(q.get("copy_share")), _f(q.get("precision")), _f(q.get("recall")), valid, entry["near_dropped"],
                     q.get("embedding", "")))
    numeric = (False, True, False, True, True, True, True, True, True, True, True, True, False)
    return table(headers, body, numeric), caption


# --- functional tests, per functionality × configuration ---------------------------------------------


@dataclass
class FunctionalMatrix:
    """Accuracy per functionality (``rows``) × configuration (``columns``); None where a configuration has no score."""

    evaluation: str
    rows: list[str]
    hateful: list[bool]
    columns: list[str]
    values: list[list[float | None]]
    seeds: list[int]
    left_out: list[str] = field(default_factory=list)

    def value(self, functionality: str, column: str) -> float | None:
        return self.values[self.rows.index(functionality)][self.columns.index(column)]


def _top_level_cells(rows: Sequence[dict[str, Any]], evaluation: str) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """(dataset, classifier, generator) → its done cells at its highest level that scored ``evaluation``."""
    scored = [r for r in _done(rows) if "accuracy" in ((r.get("details") or {}).get("functional") or {}).get(evaluation, {})]
    top: dict[tuple[str, str, str], float] = {}
    for row in scored:
        key = (row["dataset"], row["classifier"], row["generator"])
        top[key] = max(top.get(key, 0.0), float(row["level"]))
    cells: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in scored:
        key = (row["dataset"], row["classifier"], row["generator"])
        if float(row["level"]) == top[key]:
            cells[key].append(row)
    return cells


def evaluations_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The evaluation sets with per-functionality scores in some done cell."""
    names = {name for r in _done(rows) for name, v in ((r.get("details") or {}).get("functional") or {}).items()
             if isinstance(v, dict) and v.get("functionality")}
    return sorted(names)


def _column_label(key: tuple[str, str, str], level: float, datasets: int) -> str:
    dataset, classifier, generator = key
    label = f"{generator} × {classifier} @ {level:.2%}"
    return f"{dataset}: {label}" if datasets > 1 else label


def functional_matrix(rows: Sequence[dict[str, Any]], evaluation: str, max_columns: int = MAX_COLUMNS) -> FunctionalMatrix:
    """The heatmap's data: per (dataset, classifier, generator) at its top level, the mean accuracy over seeds."""
    cells = _top_level_cells(rows, evaluation)
    keys = sorted(cells, key=lambda k: (k[0], k[1], _generator_order(k[2])))
    shown, left_out = _cap(keys, max_columns)
    datasets = len({k[0] for k in keys})
    scores = {k: [r["details"]["functional"][evaluation] for r in cells[k]] for k in keys}
    hateful: dict[str, float] = {}
    for entries in scores.values():
        for entry in entries:
            for name, group in entry["functionality"].items():
                hateful.setdefault(name, group.get("hateful", 0.0))
    names = sorted(hateful, key=lambda n: (hateful[n] < 0.5, n))  # hateful functionalities first
    values = [[_mean([e["functionality"][n]["accuracy"] for e in scores[k] if n in e["functionality"]]) for k in shown] for n in names]
    return FunctionalMatrix(
        evaluation, names, [hateful[n] >= 0.5 for n in names],
        [_column_label(k, float(cells[k][0]["level"]), datasets) for k in shown], values,
        [len({int(r["seed"]) for r in cells[k]}) for k in shown],
        [_column_label(k, float(cells[k][0]["level"]), datasets) for k in left_out],
    )


def _cap(keys: list[tuple[str, str, str]], max_columns: int) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """Whole classifiers in order while they fit (at least the first one's first ``max_columns``)."""
    if len(keys) <= max_columns:
        return keys, []
    shown: list[tuple[str, str, str]] = []
    for group in dict.fromkeys(k[:2] for k in keys):
        members = [k for k in keys if k[:2] == group]
        if len(shown) + len(members) > max_columns:
            if not shown:
                shown = members[:max_columns]
            break
        shown += members
    return shown, [k for k in keys if k not in shown]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def target_rows(rows: Sequence[dict[str, Any]], evaluation: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Per configuration (as in the heatmap, every one): seeds, accuracy overall, hateful, non-hateful, per target group."""
    cells = _top_level_cells(rows, evaluation)
    keys = sorted(cells, key=lambda k: (k[0], k[1], _generator_order(k[2])))
    datasets = len({k[0] for k in keys})
    targets = sorted({t for k in keys for r in cells[k] for t in r["details"]["functional"][evaluation].get("target", {})})
    out = []
    for key in keys:
        entries = [r["details"]["functional"][evaluation] for r in cells[key]]
        overall = [_f(_mean([e[m] for e in entries if e.get(m) is not None])) for m in ("accuracy", "hateful_accuracy", "non_hateful_accuracy")]
        per_target = [_f(_mean([e["target"][t]["accuracy"] for e in entries if t in e.get("target", {})])) for t in targets]
        out.append((_column_label(key, float(cells[key][0]["level"]), datasets), len(entries), *overall, *per_target))
    return targets, out


def functional_tables(rows: Sequence[dict[str, Any]], evaluation: str) -> str:
    targets, body = target_rows(rows, evaluation)
    headers = ("configuration", "seeds", "accuracy", "hateful", "non-hateful", *targets)
    return f"<h3>{esc(evaluation)}: per target group</h3>" + table(headers, body, (False,) + (True,) * (len(headers) - 1))
