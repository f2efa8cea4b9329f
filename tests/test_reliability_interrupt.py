"""Interrupted and concurrent runs, through the real ``bench`` console script.

* SIGKILL at random moments (fixed seed) of a small grid, resuming after each: the store passes
  SQLite's integrity check, holds no partial row and each cell once, the cache serves no damaged
  entry, and the final leaderboard equals that of an uninterrupted run. Ctrl-C (SIGINT) and SIGTERM
  are mixed in: they stop gracefully with exit code 130 and say how to resume.
* Two processes run overlapping grids against one fresh store and cache: every cell once, all done,
  results equal to a single-process run.

The grid mixes fast baselines with the test-only ``fault-slow`` generator (8-text chunks, a pause per
batch) and ``fault-slow`` classifier (a pause before fitting), so kills land mid-generation and mid-cell.
"""

from __future__ import annotations

import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from faults import helpers
from faults.helpers import check_cache, check_store, leaderboard, subprocess_env

from sparsebench.cli import cli

fault_site, toxic_csv = helpers.fault_site, helpers.toxic_csv  # shared fixtures

KILLS = 20
SEED = 20240605
GENERATORS = ("fault-slow", "real-only", "oversample", "real-extra")  # the slow generator first: kills land mid-generation
CLASSIFIERS = ("logreg", "fault-slow")


def _grid(csv: Path, generators: tuple[str, ...] = GENERATORS) -> list[str]:
    args = ["run", "-d", f"file[path={csv}]", "-s", "1%", "-s", "5%", "--bootstrap", "20", "--seeds", "0"]
    for name in generators:
        args += ["-g", name]
    for name in CLASSIFIERS:
        args += ["-c", name]
    return args


def _bench() -> list[str]:
    script = Path(sys.executable).with_name("bench")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from sparsebench.cli import main; main()"]


@dataclass
class Reference:
    board: dict[str, dict[str, Any]]
    seconds: float  # how long the whole grid took here, so kill times scale with this machine's speed


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, fault_site: Path, toxic_csv: Path) -> Reference:
    """The leaderboard of one uninterrupted run of the whole grid (in this process)."""
    results = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(fault_site))
        mp.setenv("SPARSEBENCH_PLUGINS", "sparsebench-faults")
        started = time.perf_counter()
        out = CliRunner().invoke(cli, [*_grid(toxic_csv), "--results", str(results), "-q"])
        seconds = time.perf_counter() - started
        assert out.exit_code == 0, out.output
        board = leaderboard(results)
    assert len(board) == 14 and {r["status"] for r in board.values()} == {"done"}
    return Reference(board, seconds)


@dataclass
class Attempt:
    signal: str
    anchor: str  # what the kill delay counts from: "start" (launch), "data" (dataset loaded), "cell" (first cell done)
    rc: int
    stderr: str
    cells: int = 0
    cache: dict[str, int] = field(default_factory=dict)


_MARKS = {"data": ("loaded dataset",), "cell": ("✓ ", "✗ ")}


def _attempt(cmd: list[str], env: dict[str, str], sig: signal.Signals | None, delay: float, anchor: str) -> tuple[int, str]:
    """Start ``bench run``; ``delay`` s after its ``anchor`` event send ``sig`` (unless it has finished)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    seen = {name: threading.Event() for name in _MARKS}

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            for name, marks in _MARKS.items():
                if line.startswith(marks) or (name == "data" and marks[0] in line):
                    seen[name].set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if sig is not None:
        while anchor in seen and not seen[anchor].wait(0.02) and proc.poll() is None:
            pass
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(sig)
    rc = proc.wait(timeout=120)
    reader.join(timeout=10)
    return rc, "".join(lines)


def _plan(index: int, kills: int, rng: random.Random, window: float) -> tuple[signal.Signals | None, str, float]:
    """What the next attempt does: SIGKILL until enough kills, with a SIGINT and a SIGTERM mixed in.

    A fifth of the kills land during start-up (plugin loading, store creation); the others up to
    ``window`` seconds (about two cells' work here) after the dataset loads (generation, the first
    cell) or after the run's first cell finished (later cells), so the kills spread over the grid.
    """
    if kills >= KILLS:
        return None, "start", 0.0
    sig = {3: signal.SIGINT, 8: signal.SIGTERM}.get(index, signal.SIGKILL)
    if sig != signal.SIGKILL:
        return sig, "data", rng.uniform(0.0, 0.5)  # soon after the dataset loads, so the run is still going
    anchor = rng.choices(("start", "data", "cell"), weights=(0.2, 0.4, 0.4))[0]
    return sig, anchor, rng.uniform(0.05, 1.5) if anchor == "start" else rng.uniform(0.0, window)


def _check_attempt(attempt: Attempt) -> None:
    if attempt.signal in ("SIGINT", "SIGTERM") and attempt.rc != 0:
        assert attempt.rc == 130, attempt.stderr
        assert "run the same command again to resume" in attempt.stderr
        assert "Traceback" not in attempt.stderr
    elif attempt.signal == "SIGKILL":
        assert attempt.rc in (0, -signal.SIGKILL), attempt.stderr
    else:
        assert attempt.rc == 0, attempt.stderr


def test_sigkill_at_random_points_resumes_to_the_same_leaderboard(
    tmp_path: Path, fault_site: Path, toxic_csv: Path, reference: Reference
) -> None:
    rng = random.Random(SEED)
    planned = set(reference.board)
    window = max(0.3, 2 * reference.seconds / len(planned))
    env = subprocess_env(fault_site)
    attempts: list[Attempt] = []
    rounds = 0
    while sum(a.signal == "SIGKILL" and a.rc != 0 for a in attempts) < KILLS:
        rounds += 1
        results = tmp_path / f"round-{rounds}"
        cmd = [*_bench(), *_grid(toxic_csv), "--results", str(results)]
        while True:
            kills = sum(a.signal == "SIGKILL" and a.rc != 0 for a in attempts)
            sig, anchor, delay = _plan(len(attempts), kills, rng, window)
            rc, stderr = _attempt(cmd, env, sig, delay, anchor)
            attempt = Attempt(sig.name if sig else "none", anchor, rc, stderr)
            attempts.append(attempt)
            _check_attempt(attempt)
            attempt.cells = 0
            if (results / "sparsebench.sqlite").exists():
                attempt.cells = len(check_store(results, planned))
            attempt.cache = check_cache(results)
            if rc == 0:
                break
        assert set(check_store(results, planned).values()) == {"done"}
        assert len(check_store(results)) == len(planned)
        assert leaderboard(results) == reference.board
    assert sum(a.signal in ("SIGINT", "SIGTERM") and a.rc == 130 for a in attempts) >= 1
    _report(attempts, rounds, len(planned), window)


def _report(attempts: list[Attempt], rounds: int, cells: int, window: float) -> None:
    kills = [a for a in attempts if a.signal == "SIGKILL" and a.rc != 0]
    graceful = sum(a.signal in ("SIGINT", "SIGTERM") and a.rc == 130 for a in attempts)
    progress = [(a.cells, a.cache.get("entries", 0)) for a in kills]
    early = sum(a.anchor == "start" for a in kills)
    print(
        f"\n{len(kills)} SIGKILLs of {cells} cells (kill window {window:.2f} s, {early} during start-up), "
        f"{graceful} graceful interrupts, {len(attempts)} runs in {rounds} round(s); (cells, cache entries) after each kill: "
        f"{progress}; temporary cache files left: {max(a.cache.get('temporary', 0) for a in attempts)}"
    )


def test_two_processes_on_one_store_and_cache(tmp_path: Path, fault_site: Path, toxic_csv: Path, reference: Reference) -> None:
    """Overlapping grids started together on a fresh results directory (the schema is created by both)."""
    results = tmp_path / "shared"
    env = subprocess_env(fault_site)
    grids = (("fault-slow", "oversample", "real-extra"), ("real-extra", "real-only", "fault-slow"))
    procs = [
        subprocess.Popen(
            [*_bench(), *_grid(toxic_csv, g), "--results", str(results), "-q"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for g in grids
    ]
    errors = [proc.communicate(timeout=180)[1] for proc in procs]
    for proc, stderr in zip(procs, errors):
        assert proc.returncode == 0, stderr
        assert "locked" not in stderr and "Traceback" not in stderr
        _check_totals(stderr)
    statuses = check_store(results, set(reference.board))
    assert len(statuses) == len(reference.board) and set(statuses.values()) == {"done"}
    assert check_cache(results)["entries"] > 0
    assert leaderboard(results) == reference.board


_TOTALS = re.compile(r"(\d+) cells \((.*?)\); computed (\d+)(?: \(\d+ stale\))?, reused (\d+)(?:, (\d+) finished by another run meanwhile)? in ")


def _check_totals(stderr: str) -> None:
    """The last line counts every cell of the process's grid as its table does: all done, each computed here,
    reused, or finished by the other process meanwhile (it used to leave out the cells the other finished)."""
    match = _TOTALS.search(" ".join(stderr.split()))
    assert match, stderr
    total, statuses, computed, reused, elsewhere = match.groups()
    assert statuses == f"{total} done", match.group()
    assert int(computed) + int(reused) + int(elsewhere or 0) == int(total), match.group()


def test_store_creation_race(tmp_path: Path) -> None:
    """Eight processes create the same store at once and write overlapping rows: no `database is locked`."""
    script = (
        "import sys, time; from pathlib import Path; from sparsebench.storage.store import CellRow, ResultStore\n"
        "store = ResultStore(Path(sys.argv[1])); me = int(sys.argv[2])\n"
        "for i in range(me, me + 4):\n"
        "    metrics = {k: {'value': i} for k in ('auprc', 'auroc', 'f1@val')}\n"
        "    store.write(CellRow(f'cell{i:02d}', f'run{me}', 'd', 'g', 'c', 0.05, 'replace', 0, 'done', '', {'i': i},\n"
        "                        time.time(), time.time(), metrics=metrics, timings={'cell_s': 0.0}))\n"
        "store.start_run(f'run{me}', 'test', {}); store.close()\n"
    )
    for round_ in range(3):
        results = tmp_path / f"store-{round_}"
        procs = [
            subprocess.Popen([sys.executable, "-c", script, str(results), str(n)], stderr=subprocess.PIPE, text=True) for n in range(8)
        ]
        for proc in procs:
            _, stderr = proc.communicate(timeout=120)
            assert proc.returncode == 0, stderr
        assert len(check_store(results)) == 11  # cells 00..10, each once
        shutil.rmtree(results)
