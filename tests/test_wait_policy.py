"""How `bench run` chooses OpenMP's wait policy: from how busy the cores are right now, unless told."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time

import pytest

from sparsebench.engine import environment as resources


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads /proc/stat (Linux)")
def test_busy_cores_make_threads_sleep() -> None:
    workers = [multiprocessing.Process(target=_spin, args=(2.0,)) for _ in range(os.cpu_count() or 1)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(0.3)
        idle = resources.cpu_idle_share(0.5)
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        chosen = subprocess.run([sys.executable, "-c", "from sparsebench.engine.environment import openmp_wait_policy as p; print(p()['OMP_WAIT_POLICY'])"],
                                env=env, capture_output=True, text=True, check=True).stdout.strip()
    finally:
        for worker in workers:
            worker.join()
    assert idle is not None and idle < 0.25
    assert chosen == "PASSIVE"


def test_an_explicit_policy_wins(monkeypatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")
    monkeypatch.setattr(resources, "cpu_idle_share", lambda seconds=0.25: pytest.fail("measured although told"))
    assert resources.openmp_wait_policy() == {"OMP_WAIT_POLICY": "active"}


def test_idle_cores_let_threads_spin_briefly(monkeypatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.setattr(resources, "cpu_idle_share", lambda seconds=0.25: 0.9)
    assert resources.openmp_wait_policy() == {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "300000"}  # bounded spin
    monkeypatch.setattr(resources, "cpu_idle_share", lambda seconds=0.25: 0.5)
    assert resources.openmp_wait_policy() == {"OMP_WAIT_POLICY": "PASSIVE"}
    monkeypatch.setattr(resources, "cpu_idle_share", lambda seconds=0.25: None)  # not Linux: the safe choice
    assert resources.openmp_wait_policy() == {"OMP_WAIT_POLICY": "PASSIVE"}
