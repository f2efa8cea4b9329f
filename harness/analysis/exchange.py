"""The exchange rate: what a cell is worth in real positives.

For each (dataset, classifier, mode, seed) the upper-bound generator (role ``upper-bound``,
:mod:`sparsebench.analysis.roles`: ``real-extra``) at several levels, with the reference (``real-only``) at
the base share, traces a **calibration curve**: the metric against ``N``, the number of real
training positives added to (or, at a calibration level below the base share, taken from) the
reference's. Every other cell of the same test set is placed on that curve: the ``N`` at which the
curve reaches the cell's metric is what the cell is **worth in real positives**.

* **Monotone.** A curve measured with noise need not rise everywhere; it is made non-decreasing
  by averaging its running maximum (from the left) and running minimum (from the right), which
  leaves a rising curve unchanged. A cell on a plateau maps to the middle of the plateau.
* **Test-set noise.** Every cell of one test set is scored on the same bootstrap resamples and
  their draws are stored (:func:`sparsebench.protocol.metrics.evaluate_draws`). Within each resample the
  curve is rebuilt from its points' draws and the cell's draw is inverted on it; the spread of those
  ``N`` is the seed's test-set uncertainty, the curve's own noise included.
* **Seeds.** The seeds' ``N`` are pooled as the paired differences are
  (:func:`sparsebench.analysis.paired.hartung_knapp`: random effects, a t quantile on ``k − 1`` degrees of
  freedom); one seed keeps its bootstrap percentile interval.
* **Out of range.** ``N`` is bounded by the curve: a cell above its top is "≥ N_max", below its
  bottom "≤ N_min" (and so for an interval's ends).
* **Flat.** When the curve's top does not beat the reference (its pooled paired difference's
  interval reaches 0 or below), real positives do not move the metric measurably; the worth is
  not defined and says so.

Python API::

    from sparsebench.analysis.exchange import worths
    with ResultStore(path, create=False) as store:
        for key, worth in worths(store.rows(), store.arrays, "auroc").items():
            print(key, worth.text())
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sparsebench.analysis import roles

ArrayLookup = Callable[[str], Mapping[str, np.ndarray]]
ConfigKey = tuple[Any, ...]  # (dataset, generator, classifier, level, mode)


@dataclass(frozen=True)
class Curve:
    """One seed's calibration: added real positives ``x`` (rising, 0 is the reference), the metric's
    point values ``y`` and its bootstrap draws ``draws`` (``(B, len(x))``)."""

    x: np.ndarray
    y: np.ndarray
    draws: np.ndarray


@dataclass(frozen=True)
class Worth:
    """A cell's worth in real positives over its seeds, with a 95 % interval (None where undefined)."""

    value: float | None
    low: float | None
    high: float | None
    lowest: float
    highest: float
    seeds: int
    flat: bool = False

    def text(self) -> str:
        """``28 [6, 58]``, ``≥ 750``, ``-12 [≤ -20, 30]``, or ``flat curve``."""
        if self.flat or self.value is None:
            return "flat curve"
        value = _bounded(self.value, self)
        if self.low is None or self.high is None:
            return value
        if _bounded(self.low, self) == _bounded(self.high, self) == value:  # a calibration arm itself, or a cell beyond the curve
            return value
        return f"{value} [{_bounded(self.low, self)}, {_bounded(self.high, self)}]"

    def as_dict(self) -> dict[str, Any]:
        return {"worth": self.value, "worth_low": self.low, "worth_high": self.high, "worth_min": self.lowest,
                "worth_max": self.highest, "worth_seeds": self.seeds, "worth_flat": self.flat, "worth_text": self.text()}


def _bounded(value: float, worth: Worth) -> str:
    tol = 0.5
    if value >= worth.highest - tol:
        return f"≥ {worth.highest:.0f}"
    if value <= worth.lowest + tol:
        return f"≤ {worth.lowest:.0f}"
    return str(round(value))  # an int: -0.4 reads "0", never "-0"


# --- one seed -----------------------------------------------------------------------------------


def monotone(y: np.ndarray) -> np.ndarray:
    """A non-decreasing version of each row of ``y`` (the last axis): the mean of the running maximum
    from the left and the running minimum from the right; an already rising row is unchanged."""
    y = np.asarray(y, dtype=float)
    up = np.maximum.accumulate(y, axis=-1)
    down = np.flip(np.minimum.accumulate(np.flip(y, axis=-1), axis=-1), axis=-1)
    return (up + down) / 2


def invert(x: np.ndarray, curve: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The ``x`` where each row of the non-decreasing piecewise-linear ``curve`` reaches ``target``.

    ``curve`` is ``(B, m)`` over the rising ``x`` (a ``(m,)`` curve is one row); ``target`` has one value per row.
    Targets below the curve map to ``x[0]``, above it to ``x[-1]``; on a plateau, to its middle.
    """
    x = np.asarray(x, dtype=float)
    ys = np.atleast_2d(np.asarray(curve, dtype=float))
    t = np.broadcast_to(np.asarray(target, dtype=float), (ys.shape[0],)).copy()
    out = np.empty(ys.shape[0])
    below, above = t <= ys[:, 0], t >= ys[:, -1]
    out[below & ~above] = x[0]
    out[above & ~below] = x[-1]
    both = below & above  # a completely flat row at the target: its middle
    out[both] = (x[0] + x[-1]) / 2
    inside = ~(below | above)
    if inside.any():
        out[inside] = (_first_reach(x, ys[inside], t[inside]) + _last_below(x, ys[inside], t[inside])) / 2
    return out


def _first_reach(x: np.ndarray, ys: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The smallest ``x`` with curve ≥ t (interpolated on the segment that crosses t)."""
    i = np.argmax(ys >= t[:, None], axis=1)
    rows = np.arange(len(t))
    y0, y1 = ys[rows, i - 1], ys[rows, i]
    return x[i - 1] + (t - y0) / (y1 - y0) * (x[i] - x[i - 1])


def _last_below(x: np.ndarray, ys: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The largest ``x`` with curve ≤ t (interpolated on the segment that leaves t)."""
    j = ys.shape[1] - 1 - np.argmax((ys <= t[:, None])[:, ::-1], axis=1)
    rows = np.arange(len(t))
    y0, y1 = ys[rows, j], ys[rows, j + 1]
    return x[j] + (t - y0) / (y1 - y0) * (x[j + 1] - x[j])


def seed_worth(curve: Curve, value: float, draws: np.ndarray) -> tuple[float, np.ndarray]:
    """The cell's ``N`` on one seed's curve, and its ``N`` within each shared bootstrap resample."""
    point = float(invert(curve.x, monotone(curve.y)[None, :], np.array([value]))[0])
    if not len(draws) or draws.shape[0] != curve.draws.shape[0]:
        return point, np.empty(0)
    return point, invert(curve.x, monotone(curve.draws), draws)


def pool(points: list[float], draws: list[np.ndarray], lowest: float, highest: float, flat: bool = False) -> Worth:
    """The seeds' worths pooled (Hartung–Knapp; one seed: its bootstrap percentiles), kept within the curve."""
    k = len(points)
    if k == 0:
        return Worth(None, None, None, lowest, highest, 0, flat)
    if k == 1:
        low, high = (np.percentile(draws[0], [2.5, 97.5]) if len(draws[0]) else (None, None))
        return Worth(points[0], _clip(low, lowest, highest), _clip(high, lowest, highest), lowest, highest, 1, flat)
    from sparsebench.analysis.paired import hartung_knapp

    within = np.array([float(np.var(d, ddof=1)) if len(d) > 1 else 0.0 for d in draws])
    mean, half = hartung_knapp(np.array(points), within)
    return Worth(_clip(mean, lowest, highest), _clip(mean - half, lowest, highest), _clip(mean + half, lowest, highest), lowest, highest, k, flat)


def _clip(value: Any, lowest: float, highest: float) -> Any:
    return None if value is None else float(min(highest, max(lowest, float(value))))


# --- from stored rows ---------------------------------------------------------------------------


def worths(rows: Iterable[Mapping[str, Any]], arrays: ArrayLookup, metric: str | None = None) -> dict[ConfigKey, Worth]:
    """The worth of every ``done`` configuration (dataset, generator, classifier, level, mode) whose
    test sets have a calibration curve, on ``metric`` (default the verdict metric)."""
    from sparsebench.analysis.paired import VERDICT_METRIC

    metric = metric or VERDICT_METRIC
    done = [r for r in rows if r.get("status") == "done" and r.get("metrics") and metric in r["metrics"]]
    cache: dict[str, np.ndarray] = {}

    def draws_of(row: Mapping[str, Any]) -> np.ndarray:
        if row["cell_id"] not in cache:
            cache[row["cell_id"]] = np.asarray(arrays(row["cell_id"]).get(f"draws:{metric}", np.empty(0)), dtype=float)
        return cache[row["cell_id"]]

    built = _curves(done, metric, draws_of)
    per_config: dict[ConfigKey, list[_Placed]] = defaultdict(list)
    for row in done:
        row_roles = roles.of(row)
        if row_roles.classifier == roles.CONTROL or row_roles.reference:
            continue
        curve = built.get(_curve_key(row))
        if curve is None:
            continue
        value, draws = float(row["metrics"][metric]["value"]), draws_of(row)
        point, sampled = seed_worth(curve, value, draws)
        per_config[_config_key(row)].append(_Placed(point, sampled, curve, value, draws))
    return {key: _pooled(placed) for key, placed in per_config.items()}


@dataclass(frozen=True)
class _Placed:
    """One seed of a configuration on its curve: its worth and worth draws, and its own metric and draws."""

    point: float
    sampled: np.ndarray
    curve: Curve
    value: float
    draws: np.ndarray


def calibration(rows: Iterable[Mapping[str, Any]], arrays: ArrayLookup, metric: str | None = None) -> dict[tuple[str, str], list[Curve]]:
    """The calibration curves of stored ``rows``, one per seed, by (dataset, classifier)."""
    from sparsebench.analysis.paired import VERDICT_METRIC

    metric = metric or VERDICT_METRIC
    done = [r for r in rows if r.get("status") == "done" and r.get("metrics") and metric in r["metrics"]]

    def draws_of(row: Mapping[str, Any]) -> np.ndarray:
        return np.asarray(arrays(row["cell_id"]).get(f"draws:{metric}", np.empty(0)), dtype=float)

    out: dict[tuple[str, str], list[Curve]] = defaultdict(list)
    for key, curve in _curves(done, metric, draws_of).items():
        out[(key[0], key[1])].append(curve)
    return dict(out)


def _pooled(placed: list[_Placed]) -> Worth:
    """The seeds pooled; an interval that the paired difference against the reference says may hold 0 is widened to hold it.

    Near the curve's ends the seeds' worths are cut at the end (≤ N_min, ≥ N_max), which hides part of their
    spread; the paired difference of the metric itself (the verdict's) is not cut, so where its interval
    reaches 0 the worth's does too, and the two never disagree.
    """
    curves = [p.curve for p in placed]
    lowest = max(float(c.x[0]) for c in curves)
    highest = min(float(c.x[-1]) for c in curves)
    worth = pool([p.point for p in placed], [p.sampled for p in placed], lowest, highest, flat=_flat(curves))
    if worth.low is None or worth.high is None or worth.value is None:
        return worth
    low, high = _difference_interval(placed)
    if low <= 0 <= high and not worth.low <= 0 <= worth.high:
        return replace(worth, low=min(worth.low, 0.0), high=max(worth.high, 0.0))
    return worth


def _difference_interval(placed: list[_Placed]) -> tuple[float, float]:
    """The pooled paired difference against the reference (x = 0 on each curve), as the verdicts compute it."""
    from sparsebench.analysis.paired import hartung_knapp

    deltas, diffs = [], []
    for p in placed:
        ref = int(np.flatnonzero(p.curve.x == 0)[0])
        deltas.append(p.value - float(p.curve.y[ref]))
        diffs.append(p.draws - p.curve.draws[:, ref] if p.curve.draws.size and len(p.draws) == p.curve.draws.shape[0] else np.empty(0))
    if len(placed) == 1:
        return (float(np.percentile(diffs[0], 2.5)), float(np.percentile(diffs[0], 97.5))) if len(diffs[0]) else (deltas[0], deltas[0])
    within = np.array([float(np.var(d, ddof=1)) if len(d) > 1 else 0.0 for d in diffs])
    mean, half = hartung_knapp(np.array(deltas), within)
    return mean - half, mean + half


def _flat(curves: list[Curve]) -> bool:
    """Whether the curves' top does not measurably beat their reference (the pooled paired difference's
    95 % interval reaches 0 or below)."""
    from sparsebench.analysis.paired import hartung_knapp

    deltas, within, diffs = [], [], []
    for curve in curves:
        ref = int(np.flatnonzero(curve.x == 0)[0])
        deltas.append(float(curve.y[-1] - curve.y[ref]))
        diffs.append(curve.draws[:, -1] - curve.draws[:, ref] if curve.draws.size else np.empty(0))
        within.append(float(np.var(diffs[-1], ddof=1)) if len(diffs[-1]) > 1 else 0.0)
    if len(curves) == 1:
        return bool(np.percentile(diffs[0], 2.5) <= 0) if len(diffs[0]) else deltas[0] <= 0
    mean, half = hartung_knapp(np.array(deltas), np.array(within))
    return mean - half <= 0


def _curves(done: list[Mapping[str, Any]], metric: str, draws_of: Callable[[Mapping[str, Any]], np.ndarray]) -> dict[tuple[Any, ...], Curve]:
    """One curve per test set (dataset, classifier, mode, seed, ...) that has the reference and an upper-bound arm."""
    arms: dict[tuple[Any, ...], list[Mapping[str, Any]]] = defaultdict(list)
    references: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for row in done:
        row_roles = roles.of(row)
        if row_roles.reference:
            references[_curve_key(row)] = row
        elif row_roles.generator == roles.UPPER_BOUND:
            arms[_curve_key(row)].append(row)
    curves = {}
    for key, reference in references.items():
        members = arms.get(key)
        if members:
            curves[key] = _curve(reference, members, metric, draws_of)
    return curves


def _curve(reference: Mapping[str, Any], members: list[Mapping[str, Any]], metric: str,
           draws_of: Callable[[Mapping[str, Any]], np.ndarray]) -> Curve:
    base = real_positives(reference)
    points = sorted([(0.0, reference)] + [(float(real_positives(r) - base), r) for r in members], key=lambda p: p[0])
    x = np.array([p[0] for p in points])
    y = np.array([float(r["metrics"][metric]["value"]) for _, r in points])
    columns = [draws_of(r) for _, r in points]
    same = len({len(c) for c in columns}) == 1 and len(columns[0]) > 0
    draws = np.column_stack(columns) if same else np.empty((0, len(points)))
    return Curve(x, y, draws)


def real_positives(row: Mapping[str, Any]) -> int:
    """The real positives a cell trained on: the reference's, plus what the upper bound added (or minus what a lower arm dropped)."""
    training = (row.get("details") or {}).get("training") or {}
    real = int(training.get("real_positives") or 0)
    return real + int(training.get("synthetic_positives") or 0) if roles.of(row).generator == roles.UPPER_BOUND else real


def _curve_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    from sparsebench.analysis.paired import _pair_key

    key = _pair_key(row, "", 0.0)
    return key[:1] + key[2:3] + key[4:]


def _config_key(row: Mapping[str, Any]) -> ConfigKey:
    return (row["dataset"], row["generator"], row["classifier"], row["level"], row["mode"])


def annotate_worth(records: list[dict[str, Any]], found: Mapping[ConfigKey, Worth]) -> None:
    """Write each record's worth (``worth``, ``worth_low``, ``worth_high``, ``worth_text`` …, from :func:`worths`) in place."""
    for record in records:
        worth = found.get(_config_key(record))
        record.update(worth.as_dict() if worth else dict.fromkeys(_WORTH_KEYS))


_WORTH_KEYS = ("worth", "worth_low", "worth_high", "worth_min", "worth_max", "worth_seeds", "worth_flat", "worth_text")
