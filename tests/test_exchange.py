"""The exchange rate: curves with known answers, out of range, flat, non-monotone, and pooling."""

from __future__ import annotations

import numpy as np
import pytest

from sparsebench.analysis.exchange import Curve, Worth, invert, monotone, pool, seed_worth

X = np.array([-20.0, 0.0, 40.0, 120.0, 750.0])


def _line(slope: float = 0.0001, start: float = 0.55) -> np.ndarray:
    return start + slope * (X - X[0])


def test_invert_a_rising_line_gives_the_known_n() -> None:
    y = _line()
    for n in (-10.0, 0.0, 28.0, 300.0, 749.0):
        target = 0.55 + 0.0001 * (n + 20)
        assert invert(X, y[None, :], np.array([target]))[0] == pytest.approx(n)


def test_out_of_range_maps_to_the_ends() -> None:
    y = _line()[None, :]
    assert invert(X, y, np.array([0.99]))[0] == 750.0
    assert invert(X, y, np.array([0.10]))[0] == -20.0
    worth = Worth(750.0, 700.0, 750.0, -20.0, 750.0, 3)
    assert worth.text() == "≥ 750 [700, ≥ 750]"
    assert Worth(750.0, 750.0, 750.0, -20.0, 750.0, 3).text() == "≥ 750"
    assert Worth(-20.0, -20.0, 5.0, -20.0, 750.0, 3).text() == "≤ -20 [≤ -20, 5]"
    assert Worth(25.0, -0.4, 67.0, -8.0, 305.0, 1).text() == "25 [0, 67]"  # not "-0"


def test_a_plateau_maps_to_its_middle_and_a_flat_curve_says_so() -> None:
    y = np.array([0.50, 0.60, 0.60, 0.60, 0.70])[None, :]
    assert invert(X, y, np.array([0.60]))[0] == pytest.approx((0.0 + 120.0) / 2)
    flat = Worth(None, None, None, -20.0, 750.0, 3, flat=True)
    assert flat.text() == "flat curve" and flat.as_dict()["worth"] is None


def test_monotone_leaves_a_rising_curve_and_repairs_a_dip() -> None:
    rising = _line()
    assert np.allclose(monotone(rising), rising)
    dipped = np.array([0.50, 0.60, 0.56, 0.62, 0.70])
    fixed = monotone(dipped)
    assert np.all(np.diff(fixed) >= 0)
    assert fixed[0] == 0.50 and fixed[-1] == 0.70
    assert fixed[1] == pytest.approx((0.60 + 0.56) / 2) and fixed[2] == pytest.approx((0.60 + 0.56) / 2)
    # a non-monotone curve still inverts to one answer: 0.59 lies between the repaired 0.58 (N=40) and 0.62 (N=120), a quarter of the way
    assert invert(X, fixed[None, :], np.array([0.59]))[0] == pytest.approx(60.0)


def test_inversion_within_each_shared_draw() -> None:
    rng = np.random.default_rng(0)
    shift = rng.normal(0, 0.01, size=(500, 1))  # a resample moves every arm and the cell together
    curve = Curve(X, _line(), _line()[None, :] + shift)
    point, draws = seed_worth(curve, 0.55 + 0.0001 * 60, (0.55 + 0.0001 * 60 + shift[:, 0]))
    assert point == pytest.approx(40.0)
    assert np.allclose(draws, 40.0)  # shared noise cancels: the curve and the cell moved together


def test_pooling_uses_a_t_interval_and_stays_inside_the_curve() -> None:
    draws = [np.random.default_rng(s).normal(m, 5, 1000) for s, m in enumerate((20.0, 30.0, 40.0))]
    worth = pool([20.0, 30.0, 40.0], draws, -20.0, 750.0)
    assert worth.value == pytest.approx(30.0, abs=0.5)
    half = (worth.high - worth.low) / 2
    assert half == pytest.approx(4.303 * 10 / np.sqrt(3), rel=0.05)  # t(0.975, 2) · sd / √3, the seeds dominate
    capped = pool([740.0, 750.0, 750.0], [np.full(10, 740.0), np.full(10, 750.0), np.full(10, 750.0)], -20.0, 750.0)
    assert capped.high == 750.0 and capped.text().endswith("≥ 750]")
    one = pool([12.0], [np.arange(0.0, 101.0)], -20.0, 750.0)
    assert (one.low, one.high) == pytest.approx((2.5, 97.5))


# --- from stored rows: the calibration arms of real-extra and a self-consistency check ---------------

from sparsebench.analysis.exchange import worths  # noqa: E402
from sparsebench.protocol.metrics import evaluate_draws  # noqa: E402
from sparsebench.protocol.sparsity import deployment_weights  # noqa: E402

BASE = 40
ARMS = {"real-only": (0.0025, 0), "real-extra@0.00125": (0.00125, -20), "real-extra@0.01": (0.01, 120), "real-extra@0.05": (0.05, 750)}


def _stored(separation_of, generators: dict[str, tuple[float, int]], seeds: int = 3) -> tuple[list[dict], dict[str, dict[str, np.ndarray]]]:
    """Rows and arrays as the runner stores them: every cell of a seed scored on one test set and its resamples."""
    rows, arrays = [], {}
    for seed in range(seeds):
        rng = np.random.default_rng(100 + seed)
        y = (np.arange(1200) < 300).astype(int)
        weights = deployment_weights(y, 0.0025)
        noise = rng.normal(size=len(y))
        for label, (level, added) in generators.items():
            name = label.split("@", 1)[0]
            scores = noise + separation_of(added, seed) * y + 0.3 * rng.normal(size=len(y))
            point, draws = evaluate_draws(y, scores, weights, 0.5, 200, seed=seed)
            role = {"real-only": ("baseline", False), "real-extra": ("upper-bound", True)}.get(name, (None, True))
            training = {"real_positives": BASE + min(added, 0) if name == "real-extra" else BASE,
                        "synthetic_positives": max(added, 0) if name == "real-extra" else 60}
            cell = f"{label}-{seed}"
            rows.append({
                "cell_id": cell, "dataset": "d", "generator": name, "classifier": "c", "level": level, "mode": "replace", "seed": seed,
                "status": "done", "metrics": {k: {"value": v} for k, v in point.items()},
                "config": {"generator": {"name": name}, "base_share": 0.0025, "prevalence": 0.0025, "bootstrap": 300},
                "details": {"dataset_fingerprint": f"fp{seed}", "training": training,
                            "roles": {"generator": role[0], "classifier": None, "synthetic": role[1]}},
            })
            arrays[cell] = {f"draws:{k}": v for k, v in draws.items()}
    return rows, arrays


def _rising(added: int, seed: int) -> float:
    return 0.6 + 0.9 * np.log1p(max(added + 20, 0)) / np.log1p(770)


def test_a_real_extra_cell_maps_onto_its_own_n_within_its_interval() -> None:
    rows, arrays = _stored(_rising, ARMS)
    found = worths(rows, arrays.__getitem__, "auroc")
    for (dataset, generator, classifier, level, mode), worth in found.items():
        own = {0.00125: -20, 0.01: 120, 0.05: 750}[level]
        assert not worth.flat and worth.seeds == 3
        assert worth.low - 1e-9 <= own <= worth.high + 1e-9, (level, worth)
    assert ("d", "real-only", "c", 0.0025, "replace") not in found  # the reference is the curve's zero, not placed on it


def test_a_generator_between_the_arms_and_outside_them() -> None:
    arms = {**ARMS, "gen": (0.01, 300), "bad": (0.01, -400), "great": (0.01, 5000)}

    def separation(added: int, seed: int) -> float:  # what a generator "as good as N real positives" would score
        return _rising(added, seed)

    rows, arrays = _stored(separation, arms)
    found = worths(rows, arrays.__getitem__, "auroc")
    middle = found[("d", "gen", "c", 0.01, "replace")]
    assert 120 < middle.value < 750 and middle.low < 300 + 120 and middle.text()[0].isdigit()
    assert found[("d", "bad", "c", 0.01, "replace")].text().startswith("≤ -20")
    assert found[("d", "great", "c", 0.01, "replace")].text().startswith("≥ 750")


def test_a_flat_curve_gives_no_worth_and_says_so() -> None:
    rows, arrays = _stored(lambda added, seed: 0.8, {**ARMS, "gen": (0.01, 300)})
    gen = worths(rows, arrays.__getitem__, "auroc")[("d", "gen", "c", 0.01, "replace")]
    assert gen.flat and gen.text() == "flat curve"


def test_worth_and_verdict_never_disagree_about_zero() -> None:
    from sparsebench.analysis.paired import comparisons

    arms = {**ARMS, "near": (0.01, -3), "worse": (0.01, -15), "better": (0.01, 10)}
    rows, arrays = _stored(_rising, arms)
    found = worths(rows, arrays.__getitem__, "auroc")
    for comp in comparisons(rows, arrays.__getitem__, baselines=("real-only",), metrics=("auroc",)):
        worth = found[(comp.dataset, comp.generator, comp.classifier, comp.level, comp.mode)]
        if comp.verdict == "no evidence":  # (a verdict may exclude 0 while the worth, carrying the curve's noise too, does not)
            assert worth.low <= 0 <= worth.high, (comp.generator, comp.low, comp.high, worth)
    assert any(c.verdict == "no evidence" for c in comparisons(rows, arrays.__getitem__, baselines=("real-only",), metrics=("auroc",)))
