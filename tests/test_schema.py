"""Kinds and statuses are declared once (sparsebench.contracts.enums); everything that lists them agrees with it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sparsebench.analysis import leaderboard as report
from sparsebench.cli import render
from sparsebench.contracts.enums import FINAL_STATUSES, KINDS, Kind, Status
from sparsebench.engine import suite
from sparsebench.hooks import registry
from sparsebench.hooks import specs as hookspecs
from sparsebench.storage import store


def test_statuses_are_the_same_everywhere(tmp_path: Path) -> None:
    with store.ResultStore(tmp_path) as made:  # the CHECK of the table a new store really has
        sql = made._conn.execute("SELECT sql FROM sqlite_master WHERE name = 'cells'").fetchone()[0]
    check = re.search(r"CHECK \(status IN \(([^)]*)\)\)", sql)
    assert check is not None
    assert sorted(re.findall(r"'(\w+)'", check.group(1))) == sorted(Status)
    assert set(store.STATUSES) == set(Status) and store.FINAL_STATUSES == FINAL_STATUSES
    assert list(report.STATUS_ORDER) == list(Status) and set(render.STATUS_STYLE) == set(Status)


def test_kinds_are_the_same_everywhere() -> None:
    assert list(hookspecs.HOOKS.values()) == list(KINDS) and list(hookspecs.HOOKS) == [f"register_{k}s" for k in KINDS]
    assert set(registry.BASES) == set(KINDS) and suite._KINDS == set(KINDS)
    from sparsebench.cli.common import OPTION_OF

    assert {OPTION_OF[f"{k}s"] for k in KINDS if f"{k}s" in OPTION_OF} >= {"-g/--generator", "-c/--classifier", "-d/--dataset"}


def test_members_are_their_text() -> None:
    assert Status.DONE == "done" and f"{Kind.DATASET}:x" == "dataset:x" and json.dumps([Status.ERROR]) == '["error"]'
