"""Peak memory and time of loading and splitting a large CSV through ``file[path=...]``.

Writes a CSV of about ``--mb`` megabytes of short comments (155 bytes a row on average, 2 % toxic, each
text unique: words drawn from a seeded 5,000-word vocabulary) to a temporary directory, then loads and
splits it in a fresh process (the protocol's deduplication, stratified split and near-duplicate check, as
``bench run`` does before the first cell) and reports the peak resident set size (``ru_maxrss``) after
loading and after splitting, and the seconds each took:

    python benchmarks/file_memory.py --mb 100
    python benchmarks/file_memory.py --mb 300 --keep /tmp/big.csv   # the issue's 300 MB case

A speed/memory target, not a unit test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from sparsebench.contracts.components import DataContext
from sparsebench.plugins.datasets.files import FileDataset
from sparsebench.protocol.sparsity import Protocol, make_splits

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

path = Path(sys.argv[1])
params = {p.name: p.default for p in FileDataset.parameters}
started = time.perf_counter()
data = FileDataset(**{**params, "path": str(path)}).load(DataContext(path.parent))
loaded, load_peak = time.perf_counter() - started, peak_mb()
splits = make_splits(data, Protocol(), 0)
print(json.dumps({"rows": len(data.texts), "train_neg": len(splits.train_neg), "load_s": round(loaded, 1), "load_peak_mb": round(load_peak),
                  "split_s": round(time.perf_counter() - started - loaded, 1), "peak_mb": round(peak_mb())}))
"""


def write_csv(path: Path, megabytes: float, seed: int = 0) -> int:
    """About ``megabytes`` MB of ``text,label`` rows; returns the number of rows."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocabulary = ["".join(rng.choice(letters, size=rng.integers(2, 10))) for _ in range(5000)]
    rows, written, target = 0, 0, int(megabytes * 2**20)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("text,label\n")
        while written < target:
            lengths = rng.integers(8, 40, size=10_000)
            words = rng.integers(0, len(vocabulary), size=int(lengths.sum()))
            toxic = rng.random(10_000) < 0.02
            lines, start = [], 0
            for n, label in zip(lengths, toxic, strict=True):
                text = " ".join(vocabulary[w] for w in words[start : start + n])
                lines.append(f"comment {rows + len(lines)} {text},{int(label)}\n")
                start += n
            block = "".join(lines)
            handle.write(block)
            written += len(block.encode("utf-8"))
            rows += len(lines)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=100.0, help="file size in MB (default 100)")
    parser.add_argument("--keep", type=Path, help="write the file here and keep it (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = args.keep or Path(scratch) / "big.csv"
        if not path.exists():
            started = time.perf_counter()
            write_csv(path, args.mb)
            print(f"wrote {path} ({path.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, env=env, check=False)
        if done.returncode:
            sys.exit(done.stderr)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        size_mb = path.stat().st_size / 2**20
        result.update(file_mb=round(size_mb), wall_s=round(time.perf_counter() - started, 1), peak_per_file=round(result["peak_mb"] / size_mb, 2))
        print(json.dumps(result))


if __name__ == "__main__":
    main()
