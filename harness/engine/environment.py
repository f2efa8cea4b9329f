"""Where a run runs: the environment recorded with every cell, the device it picks, and the OpenMP wait policy."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from sparsebench import __version__

PACKAGES = ("numpy", "scikit-learn", "scipy", "pluggy", "torch", "transformers", "tokenizers", "accelerate")


def environment() -> dict[str, Any]:
    """Versions, git commit, CPU and GPU: recorded with every cell of a run."""
    return {
        "sparsebench": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": _versions(),
        "git": _git_commit(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "omp_wait_policy": " ".join(f"{k}={os.environ[k]}" for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ),
        "gpu": _gpu(),
    }


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _git_commit() -> str:
    source = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True, text=True, timeout=5, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _gpu() -> str:
    """The CUDA device name, if torch is already imported and sees one (never imports torch)."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            return str(torch.cuda.get_device_name(0))
    except Exception:  # noqa: BLE001 - a broken driver must not break the record
        return "unknown"
    return ""


def resolve_device(requested: str) -> str:
    """``auto`` becomes ``cuda`` when torch is installed and sees a GPU, else ``cpu``."""
    if requested != "auto":
        return requested
    import importlib.util

    if importlib.util.find_spec("torch") is None or ("torch" not in sys.modules and not _gpu_driver()):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


_GPU_DEVICES = ("/dev/nvidiactl", "/proc/driver/nvidia", "/dev/dxg", "/dev/kfd")  # NVIDIA, WSL2, ROCm


def _gpu_driver() -> bool:
    """Whether a GPU driver is present: without one, ``auto`` means CPU and torch (seconds to import) is not loaded."""
    return any(Path(path).exists() for path in _GPU_DEVICES)


IDLE_SHARE = 0.75  # share of all cores that must be idle for OpenMP threads to spin while they wait


def cpu_idle_share(seconds: float = 0.25) -> float | None:
    """Share of the machine's CPU time that was idle over ``seconds`` (from /proc/stat); None off Linux."""
    def sample() -> tuple[int, int] | None:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # total, idle + iowait

    first = sample()
    time.sleep(seconds)
    second = sample()
    if first is None or second is None or second[0] <= first[0]:
        return None
    return (second[1] - first[1]) / (second[0] - first[0])


SPIN_COUNT = "300000"  # libgomp's own default spin before sleeping: a fraction of a millisecond


def openmp_wait_policy() -> dict[str, str]:
    """OpenMP's wait settings for a run, chosen before torch loads (an explicit ``OMP_WAIT_POLICY`` wins).

    On idle cores threads spin briefly between parallel regions, then sleep (``ACTIVE`` with a
    bounded ``GOMP_SPINCOUNT``, libgomp's default behaviour): measured 2.3x faster than ``PASSIVE`` on a
    loop of torch matrix products and 2.6x on a scikit-learn boosting fit, on two idle cores. Unbounded
    ``ACTIVE`` is slower than both, since torch's and scikit-learn's OpenMP runtimes then spin against
    each other. On shared cores they sleep at once (``PASSIVE``): spinning there made torch 3-10x slower
    (docs/classifiers.md, docs/generators.md)."""
    explicit = os.environ.get("OMP_WAIT_POLICY")
    if explicit:
        return {"OMP_WAIT_POLICY": explicit}
    idle = cpu_idle_share()
    if idle is not None and idle >= IDLE_SHARE:
        return {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT", SPIN_COUNT)}
    return {"OMP_WAIT_POLICY": "PASSIVE"}
