"""What a run records about where it ran, and how cells are timed, bounded and measured."""

from __future__ import annotations

import hashlib
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__
from .errors import CellTimeout

PACKAGES = ("numpy", "scikit-learn", "scipy", "pluggy", "torch", "transformers", "tokenizers", "accelerate")


def derive_seed(*parts: object) -> int:
    """A 32-bit seed from any parts: one independent seed per axis (data, generator, classifier)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")


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


# --- memory ---------------------------------------------------------------------------------------


def reset_peak_memory() -> None:
    """Reset the process's peak RSS (Linux) and torch's CUDA peak, so a cell measures its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_memory() -> dict[str, float]:
    """Peak resident memory since the last reset (MB), and the CUDA peak where there is one."""
    peak: dict[str, float] = {"peak_rss_mb": _peak_rss_mb()}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        peak["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return peak


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- time limits ---------------------------------------------------------------------------------


class _Expired(BaseException):
    """Raised by the alarm inside component code. A ``BaseException`` (like Ctrl-C's), so a component's
    ``except Exception`` cannot swallow it; :func:`time_limit` turns it into :class:`CellTimeout`."""


@contextmanager
def time_limit(seconds: float | None, what: str) -> Iterator[None]:
    """Raise :class:`CellTimeout` in the main thread once ``seconds`` have passed.

    Uses ``SIGALRM``, so it interrupts Python code and most native calls between operations; a
    native call that never returns to Python cannot be interrupted this way, and neither can a
    component that catches ``BaseException``.
    """
    if not seconds or seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    active = [True]

    def _expire(signum: int, frame: object) -> None:
        if active[0]:  # an alarm that lands while the limit is being lifted is ignored
            raise _Expired

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Expired:
        raise CellTimeout(f"{what} ran past its limit of {seconds:g} s") from None
    finally:
        active[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat ``SIGTERM`` (what schedulers and ``kill`` send before a hard kill) like Ctrl-C.

    The runner then stops the same graceful way: finished cells are stored, the message says how to
    resume. Only the main thread can install signal handlers; elsewhere this does nothing.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Stopwatch:
    """Wall time of a block: ``with Stopwatch() as sw: ...; sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


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
