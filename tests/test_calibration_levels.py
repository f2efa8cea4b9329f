"""Calibration levels: the upper bound's extra arms, below the base share with fewer real positives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparsebench.contracts.errors import UsageError
from sparsebench.protocol.sparsity import Protocol, Splits, plan_level, training_set


class _Upper:
    role, synthetic = "upper-bound", True


class _Reference:
    role, synthetic = "baseline", False


class _Ordinary:
    role, synthetic = None, True


def test_only_the_upper_bound_runs_the_calibration_levels() -> None:
    protocol = Protocol(levels=(0.01, 0.05), calibration_levels=(0.00125, 0.005)).validate()
    assert protocol.levels_for(_Upper) == (0.00125, 0.005, 0.01, 0.05)
    assert protocol.levels_for(_Ordinary) == (0.01, 0.05)
    assert protocol.levels_for(_Reference) == (0.0025,)
    with pytest.raises(UsageError, match="calibration level 0.0025 must be"):
        Protocol(calibration_levels=(0.0025,)).validate()


def test_a_level_below_the_base_share_keeps_fewer_real_positives_and_nests() -> None:
    plan = plan_level(15_960, 40, 0.00125, "replace")
    assert (plan.negatives, plan.real_positives, plan.synthetic) == (15_960, 20, 0)
    assert plan_level(15_960, 40, 0.01, "replace").real_positives == 40  # above the base share nothing changes
    splits = Splits([f"n{i}" for i in range(400)], [f"p{i}" for i in range(10)], [], np.array([]), [], np.array([]), [])
    half = plan_level(400, 10, 0.0125, "replace")
    texts, labels, _ = training_set(splits, half, [], seed=3)
    kept = {t for t, y in zip(texts, labels, strict=True) if y == 1}
    assert len(kept) == half.real_positives == 5 and kept < set(splits.train_pos)
    assert kept == {t for t, y in zip(*training_set(splits, half, [], seed=3)[:2], strict=True) if y == 1}  # seeded


def test_suites_declare_calibration_levels_and_hand_picked_levels_drop_them(tmp_path: Path) -> None:
    import sparsebench

    suite = tmp_path / "s.toml"
    suite.write_text('name = "s"\ndatasets = ["toxic-mix[negatives=1500,positives=300]"]\ngenerators = ["real-only", "real-extra", "template"]\n'
                     'classifiers = ["logreg"]\nseeds = [0]\n[protocol]\nlevels = [0.01]\ncalibration_levels = [0.00125]\n')
    grid = sparsebench.plan(suite=str(suite))
    levels = sorted((c.generator.name, c.level) for c in grid.cells)
    assert levels == [("real-extra", 0.00125), ("real-extra", 0.01), ("real-only", 0.0025), ("template", 0.01)]
    picked = sparsebench.plan(suite=str(suite), levels=["5%"])
    assert sorted((c.generator.name, c.level) for c in picked.cells) == [("real-extra", 0.05), ("real-only", 0.0025), ("template", 0.05)]
