"""The Ray executor against the sequential one, on one local Ray shared by the whole session.

The cluster declares logical resources (2 CPUs, 2 GPUs) on this CPU machine, so GPU scheduling is
real Ray scheduling even without a GPU. Grids run through the real ``bench run`` command with the
fault plugins found by entry-point discovery; rows are compared through ``bench leaderboard``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from faults import helpers
from faults.helpers import check_cache, check_store, leaderboard, subprocess_env

from sparsebench.cli import cli
from sparsebench.storage.store import STORE_NAME, ResultStore

ray = pytest.importorskip("ray", reason="the Ray executor needs the [ray] extra (install.sh installs it)")

toxic_csv = helpers.toxic_csv
TESTS = Path(__file__).resolve().parent
PLUGINS = "sparsebench-faults,sparsebench-ray-faults"  # SPARSEBENCH_PLUGINS: the tests' own fake distributions only


@pytest.fixture(scope="session")
def ray_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fault plugins as installed distributions: ``faults.plugin`` and ``faults.ray_faults``."""
    site = helpers.install_fault_plugin(tmp_path_factory.mktemp("ray-site"))
    info = site / "sparsebench_ray_faults-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sparsebench-ray-faults\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[sparsebench]\nray-faults = faults.ray_faults\n", encoding="utf-8")
    return site


@pytest.fixture(scope="session")
def gate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """While this file is missing, ``fault-slow`` generations on the session's Ray workers wait (faults.plugin.GATE)."""
    path = tmp_path_factory.mktemp("gate") / "open"
    path.touch()
    return path


@pytest.fixture(scope="session")
def local_ray(ray_site: Path, gate: Path) -> Iterator[str]:
    """One local Ray for the session (2 logical CPUs and GPUs); yields its address for ``--ray-address``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join([str(ray_site), str(TESTS), os.environ.get("PYTHONPATH", "")]))
        patch.setenv("SPARSEBENCH_TEST_GATE", str(gate))  # the workers inherit it; this process does not keep it
        ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=300 * 2**20)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture
def sites(monkeypatch: pytest.MonkeyPatch, ray_site: Path, local_ray: str) -> str:
    monkeypatch.syspath_prepend(str(ray_site))
    monkeypatch.setenv("SPARSEBENCH_PLUGINS", PLUGINS)
    return local_ray


def _grid(csv: Path, *extra: str, levels: tuple[str, ...] = ("1%", "5%")) -> list[str]:
    chosen = [arg for level in levels for arg in ("-s", level)]
    return ["run", "-q", "-d", f"file[path={csv}]", *chosen, "--bootstrap", "20", "--seeds", "0", *extra]


# the Ctrl-C test holds fault-slow's generation back (the gate fixture) while the baselines' rows are stored
GRID = ("-g", "fault-slow[delay=0.25]", "-g", "oversample", "-g", "real-only", "-c", "logreg", "-c", "fault-slow[delay=0.3]")


def _bench(args: list[str], results: Path) -> Any:
    out = CliRunner().invoke(cli, [*args, "--results", str(results)])
    assert out.exit_code == 0, out.output
    return out


@pytest.fixture(scope="module")
def sequential(toxic_csv: Path, ray_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the grid under the sequential executor."""
    results = tmp_path_factory.mktemp("sequential")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ray_site))
        patch.setenv("SPARSEBENCH_PLUGINS", PLUGINS)
        _bench(_grid(toxic_csv, *GRID), results)
    return results


def _stored_ids(results: Path) -> set[str]:
    """Cell ids in the store; none while the run is still creating it."""
    try:
        with sqlite3.connect(results / STORE_NAME) as conn:
            ids = {r[0] for r in conn.execute("SELECT cell_id FROM cells")}
    except sqlite3.OperationalError:  # no table yet
        return set()
    finally:
        conn.close()
    return ids


def test_ray_gives_the_sequential_rows(sites: str, toxic_csv: Path, sequential: Path, tmp_path: Path) -> None:
    results = tmp_path / "ray"
    _bench([*_grid(toxic_csv, *GRID), "--executor", "ray"], results)
    board = leaderboard(results)
    assert board == leaderboard(sequential)  # same cell ids, statuses, reasons and metrics
    assert {row["status"] for row in board.values()} == {"done"} and len(board) == 10
    with ResultStore(results) as ours, ResultStore(sequential) as reference:
        for cell_id in board:  # test scores and bootstrap draws, for paired comparisons: bit for bit
            mine, theirs = ours.arrays(cell_id), reference.arrays(cell_id)
            assert mine.keys() == theirs.keys() and mine
            assert all(mine[k].dtype == theirs[k].dtype and np.array_equal(mine[k], theirs[k]) for k in mine)
    # the driver stored the chunks the generation task computed: the same cache entries as the sequential run
    assert sorted(p.name for p in (results / "cache").rglob("*.json")) == sorted(p.name for p in (sequential / "cache").rglob("*.json"))
    assert check_cache(results)["entries"] > 0
    again = CliRunner().invoke(cli, [*_grid(toxic_csv, *GRID), "--executor", "ray", "--results", str(results)])
    assert "computed 0, reused 10" in again.output  # resume: nothing recomputed


def test_a_gpu_task_gets_its_own_cuda_visible_devices(sites: str, toxic_csv: Path, tmp_path: Path) -> None:
    barrier = tmp_path / "barrier"
    gens = [f"ray-gpu[barrier={barrier},tag={tag}]" for tag in ("a", "b")]
    results = tmp_path / "gpu"
    _bench([*_grid(toxic_csv, "-g", gens[0], "-g", gens[1], "-c", "logreg", levels=("1%",)), "--executor", "ray"], results)
    with ResultStore(results) as store:
        rows = store.rows()
    assert {r["status"] for r in rows} == {"done"} and len(rows) == 2
    seen = {r["generator"]: r["details"]["generator_resources"] for r in rows}
    assert sorted(s["cuda_visible_devices"] for s in seen.values()) == ["0", "1"]  # met at the barrier: both at once
    assert {s["device"] for s in seen.values()} == {"cuda"}  # the generator was told to use the GPU it was given
    assert len({s["pid"] for s in seen.values()}) == 2


def test_declared_resources(plugins: Any) -> None:
    def cls(kind: str, name: str) -> Any:
        return plugins.registry.get(kind, name).cls

    for kind, name in (("generator", "llm"), ("generator", "falcon-7b"), ("classifier", "bert"), ("classifier", "t5")):
        assert cls(kind, name).demand("cuda") == {"num_cpus": 1.0, "num_gpus": 1.0}, name
        assert cls(kind, name).demand("cpu") == {"num_cpus": 1.0, "num_gpus": 0.0}, name
    for kind, name in (("generator", "oversample"), ("classifier", "logreg"), ("classifier", "mlp")):
        assert cls(kind, name).demand("cuda") == {"num_cpus": 1.0, "num_gpus": 0.0}, name


def test_a_killed_worker_is_retried_or_stored_as_an_error(sites: str, toxic_csv: Path, tmp_path: Path) -> None:
    results = tmp_path / "killed"
    marker = tmp_path / "died-once"
    args = _grid(toxic_csv, "-g", "oversample", "-c", f"ray-kill[marker={marker}]", "-c", "ray-kill", "-c", "logreg", "--executor", "ray", levels=("1%",))
    _bench(args, results)
    statuses = check_store(results)  # integrity, each cell once, every failed row with a reason
    assert len(statuses) == 3
    board = leaderboard(results)
    by_classifier: dict[str, set[str]] = {}
    for row in board.values():
        by_classifier.setdefault(row["classifier"], set()).add(row["status"])
    assert marker.exists()
    assert by_classifier[f"ray-kill[marker={marker}]"] == {"done"}  # died once, retried by Ray, then finished
    assert by_classifier["logreg"] == {"done"}
    assert by_classifier["ray-kill"] == {"error"}
    reasons = {row["reason"] for row in board.values() if row["classifier"] == "ray-kill"}
    assert all("Ray task failed after 2 retries" in r and "Worker" in r for r in reasons), reasons


def test_ctrl_c_cancels_and_the_same_command_resumes(sites: str, toxic_csv: Path, sequential: Path, ray_site: Path, gate: Path,
                                                     tmp_path: Path) -> None:
    """Ctrl-C while fault-slow's generation is held back (its gate closed) and the baselines' cells are stored."""
    results = tmp_path / "interrupted"
    args = [*_grid(toxic_csv, *GRID), "--executor", "ray", "--ray-address", sites, "--results", str(results)]
    env = subprocess_env(ray_site, SPARSEBENCH_PLUGINS=PLUGINS)
    gate.unlink()
    try:
        proc = subprocess.Popen(_bench_script() + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_ctrl_c_as_in_a_terminal)
        try:
            _wait_for_rows(results, proc)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        gate.touch()
    inherited = (signal.getsignal(signal.SIGINT), sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])))
    assert proc.returncode == 130, f"{err} (this process's SIGINT handler and blocked signals: {inherited})"
    assert "run the same command again to resume" in err and "cancelled" in err
    kept = check_store(results)
    assert 1 <= len(kept) < 10
    _bench([*_grid(toxic_csv, *GRID), "--executor", "ray"], results)
    assert leaderboard(results) == leaderboard(sequential)


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child: Ctrl-C handled and not blocked, as a shell leaves it, whatever this test process inherited.

    A signal ignored or blocked in the parent is ignored or blocked in a child it starts, and Python then leaves
    SIGINT alone: in full test runs the `bench` started here ignored Ctrl-C (it once finished every cell, once ran
    on past a second Ctrl-C), while the same test alone passed.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _bench_script() -> list[str]:
    script = Path(sys.executable).with_name("bench")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from sparsebench.cli import main; main()"]


def _wait_for_rows(results: Path, proc: subprocess.Popen[str], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if (results / STORE_NAME).exists() and _stored_ids(results):
            return
        time.sleep(0.1)
    raise AssertionError(f"no row was stored before the deadline (exit {proc.poll()})")


@pytest.mark.parametrize(
    ("address", "message"),
    [("127.0.0.1:1", "cannot reach the Ray cluster at 127.0.0.1:1"), ("10.0.0.1:port", "expected HOST:PORT")],
)
def test_a_bad_ray_address_is_one_line_and_exit_2(toxic_csv: Path, tmp_path: Path, address: str, message: str) -> None:
    out = CliRunner().invoke(cli, [*_grid(toxic_csv, "-g", "oversample", "-c", "logreg"), "--executor", "ray",
                                   "--ray-address", address, "--results", str(tmp_path / "r")])
    assert out.exit_code == 2 and message in out.output and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1


def test_without_ray_the_executor_says_how_to_install_it(toxic_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without the [ray] extra sees
    out = CliRunner().invoke(cli, [*_grid(toxic_csv, "-g", "oversample", "-c", "logreg"), "--executor", "ray", "--results", str(tmp_path / "r")])
    assert out.exit_code == 2 and "pip install 'sparsebench[ray]'" in out.output and "Traceback" not in out.output
