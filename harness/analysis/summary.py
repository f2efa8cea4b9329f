"""The answer first: per dataset × classifier, the baseline, each generator's worth in real positives and its cost.

Everything is read from stored rows (and the stored bootstrap draws, through
:mod:`sparsebench.analysis.exchange`); nothing is typed. For each (dataset, classifier):

* the **baseline**: the reference's metric (mean over its seeds);
* the **exchange rate's slope**: what 100 more real positives add to the metric on the
  upper bound's calibration curve (mean over seeds);
* per generator (other baselines such as ``oversample`` included), its **best level** (the highest worth) with the worth's 95 % interval,
  its verdict against the reference, and its **cost**: seconds of generation per accepted text on
  its device, and device-seconds per real-positive equivalent (the synthetic texts it took,
  times seconds per text, over its worth), turned into money with ``label_cost`` (per human label)
  and ``device_hour_cost``.

With several datasets, each generator × classifier's worth is pooled across datasets as a
random-effects mean (Hartung–Knapp: a t quantile on datasets − 1 degrees of freedom, so two
datasets give a very wide interval, as they should; never narrower than the datasets' own uncertainty).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sparsebench.analysis import roles
from sparsebench.analysis.exchange import Worth, calibration, worths

ArrayLookup = Callable[[str], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Cost:
    seconds_per_text: float | None
    device: str
    texts: float | None  # synthetic texts at the level
    per_real_label_s: float | None  # device-seconds per real-positive equivalent (None when the worth is not above 0)

    def text(self, device_hour_cost: float | None, label_cost: float | None) -> str:
        if self.seconds_per_text is None:
            return "cost not measured"
        out = f"{self.seconds_per_text:.3g} s/text on {self.device}"
        if self.per_real_label_s is None:
            return out + "; no real-label equivalent (worth not above 0)"
        out += f"; {self.per_real_label_s:.3g} device-s per real-label equivalent"
        if device_hour_cost is not None:
            money = self.per_real_label_s / 3600 * device_hour_cost
            out += f" = {money:.3g} per label" + (f" (a human label: {label_cost:.3g})" if label_cost is not None else "")
        return out


@dataclass(frozen=True)
class GeneratorLine:
    generator: str
    level: float
    worth: Worth
    verdict: str | None
    cost: Cost


@dataclass
class ClassifierSummary:
    dataset: str
    classifier: str
    metric: str
    baseline: float | None
    seeds: int
    per_100: float | None  # metric gained by 100 more real positives
    lines: list[GeneratorLine] = field(default_factory=list)


@dataclass
class Summary:
    metric: str
    parts: list[ClassifierSummary]
    pooled: dict[tuple[str, str], tuple[float, float, float, int]]  # (generator, classifier) -> mean, low, high, datasets
    label_cost: float | None = None
    device_hour_cost: float | None = None

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(p.dataset for p in self.parts))


def summarise(rows: Iterable[Mapping[str, Any]], arrays: ArrayLookup, metric: str | None = None,
              label_cost: float | None = None, device_hour_cost: float | None = None) -> Summary:
    """The summary of stored ``rows`` (see the module docstring)."""
    from sparsebench.analysis.paired import VERDICT_METRIC, comparisons

    metric = metric or VERDICT_METRIC
    done = [dict(r) for r in rows if r.get("status") == "done" and r.get("metrics")]
    found = worths(done, arrays, metric)
    references = _reference_names(done)
    verdicts = {(c.dataset, c.generator, c.classifier, c.level, c.mode): c.verdict
                for c in comparisons(done, arrays, metrics=(metric,)) if c.baseline in references}
    curves = calibration(done, arrays, metric)
    parts = [_part(dataset, classifier, members, metric, found, verdicts, curves)
             for (dataset, classifier), members in _groups(done).items()]
    parts = [p for p in parts if p.baseline is not None]
    return Summary(metric, parts, _pooled(parts), label_cost, device_hour_cost)


def _reference_names(done: list[dict[str, Any]]) -> set[str]:
    return {roles.name_of(r["generator"]) for r in done if roles.of(r).reference}


def _groups(done: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in done:
        if roles.of(row).classifier != roles.CONTROL:
            out[(row["dataset"], row["classifier"])].append(row)
    return out


def _part(dataset: str, classifier: str, members: list[dict[str, Any]], metric: str, found: Mapping[tuple[Any, ...], Worth],
          verdicts: Mapping[tuple[Any, ...], str], curves: Mapping[tuple[str, str], list[Any]]) -> ClassifierSummary:
    reference = [float(r["metrics"][metric]["value"]) for r in members if roles.of(r).reference and metric in r["metrics"]]
    part = ClassifierSummary(dataset, classifier, metric, float(np.mean(reference)) if reference else None, len(reference),
                             _per_100(curves.get((dataset, classifier), [])))
    by_generator: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in members:
        row_roles = roles.of(row)
        if not row_roles.reference and row_roles.generator != roles.UPPER_BOUND:  # the curve's own arms are not placed on it
            by_generator[row["generator"]].append(row)
    for generator, cells in sorted(by_generator.items()):
        line = _best(generator, cells, found, verdicts)
        if line is not None:
            part.lines.append(line)
    part.lines.sort(key=lambda line: -(line.worth.value if line.worth.value is not None else -1e18))
    return part


def _best(generator: str, cells: list[dict[str, Any]], found: Mapping[tuple[Any, ...], Worth],
          verdicts: Mapping[tuple[Any, ...], str]) -> GeneratorLine | None:
    options = []
    for level in sorted({float(c["level"]) for c in cells}):
        at = [c for c in cells if float(c["level"]) == level]
        key = (at[0]["dataset"], generator, at[0]["classifier"], at[0]["level"], at[0]["mode"])
        worth = found.get(key)
        if worth is not None:
            options.append((worth, level, at, verdicts.get(key)))
    if not options:
        return None
    worth, level, at, verdict = max(options, key=lambda o: (o[0].value if o[0].value is not None else -1e18, -o[1]))
    return GeneratorLine(generator, level, worth, verdict, _cost(at, worth))


def _cost(cells: list[dict[str, Any]], worth: Worth) -> Cost:
    """From the cell whose generation was measured (not served from the cache): seconds per text, device, texts."""
    measured = [c for c in cells if (c.get("timings") or {}).get("generation_s_per_text")]
    if not measured:
        return Cost(None, "", None, None)
    cell = max(measured, key=lambda c: c["timings"].get("generation_s") or 0.0)
    per_text = float(cell["timings"]["generation_s_per_text"])
    texts = float(np.mean([(c.get("details") or {}).get("training", {}).get("synthetic_positives") or 0 for c in cells]))
    per_label = per_text * texts / worth.value if worth.value is not None and worth.value > 0 and not worth.flat else None
    return Cost(per_text, _device(cell), texts, per_label)


def _device(row: Mapping[str, Any]) -> str:
    resources = (row.get("details") or {}).get("generator_resources") or {}
    if resources.get("device"):
        return str(resources["device"])
    env = row.get("env") or {}
    return f"a host with {env['gpu']}" if env.get("gpu") else f"CPU ({env.get('cpu_count', '?')} cores)"


def _per_100(curves: list[Any]) -> float | None:
    from sparsebench.analysis.exchange import monotone

    gains = [float(np.interp(100.0, c.x, monotone(c.y)) - np.interp(0.0, c.x, monotone(c.y))) for c in curves if c.x[-1] >= 100]
    return float(np.mean(gains)) if gains else None


def _pooled(parts: list[ClassifierSummary]) -> dict[tuple[str, str], tuple[float, float, float, int]]:
    """Each generator × classifier's best worth pooled across datasets (random effects, Hartung–Knapp)."""
    from sparsebench.analysis.paired import hartung_knapp

    by: dict[tuple[str, str], list[Worth]] = defaultdict(list)
    for part in parts:
        for line in part.lines:
            if line.worth.value is not None and line.worth.low is not None and line.worth.high is not None and not line.worth.flat:
                by[(roles.name_of(line.generator), part.classifier)].append(line.worth)
    out = {}
    for key, found in by.items():
        if len(found) < 2:
            continue
        values = np.array([float(w.value or 0.0) for w in found])
        within = np.array([((float(w.high or 0.0) - float(w.low or 0.0)) / (2 * 1.96)) ** 2 for w in found])
        mean, half = hartung_knapp(values, within, floor=True)
        out[key] = (mean, mean - half, mean + half, len(found))
    return out


# --- words ---------------------------------------------------------------------------------------


def sentences(summary: Summary) -> dict[str, str]:
    """One plain sentence per dataset."""
    out = {}
    for dataset in summary.datasets():
        clauses = [_clause(p) for p in summary.parts if p.dataset == dataset]
        out[dataset] = f"On {dataset}, " + "; ".join(clauses) + "."
    return out


def _clause(part: ClassifierSummary) -> str:
    name = part.metric
    slope = f" (100 more real positives add about {part.per_100:+.3f} {name})" if part.per_100 is not None else ""
    if not part.lines:
        return f"{part.classifier} has no generator placed on a calibration curve{slope}"
    best = part.lines[0]
    helping = [line for line in part.lines if line.verdict == "helps"]
    if best.worth.flat:
        return f"for {part.classifier} real positives do not move {name} measurably, so no generator has a worth{slope}"
    head = (f"{len(helping)} generator{'s' if len(helping) != 1 else ''} help{'s' if len(helping) == 1 else ''} {part.classifier}"
            if helping else f"no generator helps {part.classifier}")
    return f"{head}: the best, {best.generator} at {best.level:.2%}, is worth {best.worth.text()} real positives{slope}"


def text_lines(summary: Summary) -> list[str]:
    """The summary as plain lines for a terminal: the sentences, then a line per generator."""
    lines = [f"Summary ({summary.metric}; worth = real training positives that give the same {summary.metric}, 95% interval over seeds):"]
    said = sentences(summary)
    for dataset in summary.datasets():
        lines.append(said[dataset])
        for part in (p for p in summary.parts if p.dataset == dataset):
            base = f"{part.baseline:.3f}" if part.baseline is not None else "?"
            lines.append(f"  {part.classifier}: baseline {base} ({part.seeds} seed{'s' if part.seeds != 1 else ''})")
            for line in part.lines:
                verdict = f", {line.verdict}" if line.verdict else ""
                seeds = " (1 seed: the interval is the test set's noise only)" if line.worth.seeds == 1 else ""
                lines.append(f"    {line.generator} at {line.level:.2%}: worth {line.worth.text()}{seeds}{verdict}; "
                             f"{line.cost.text(summary.device_hour_cost, summary.label_cost)}")
    for (generator, classifier), (mean, low, high, k) in sorted(summary.pooled.items()):
        lines.append(f"Pooled over {k} datasets: {generator} with {classifier} is worth {mean:.0f} [{low:.0f}, {high:.0f}] real positives "
                     f"(random effects, t on {k - 1} degree{'s' if k != 2 else ''} of freedom: few datasets, a wide interval)")
    return lines
