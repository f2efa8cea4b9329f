"""What a cell measures about itself: wall time of a block and peak memory (RSS, and CUDA where there is one)."""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path


class Stopwatch:
    """Wall time of a block: ``with Stopwatch() as sw: ...; sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


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
