"""The ``file`` dataset on real-world files: gzip, what a file really holds, duplicate columns,
symbolic link loops, labels over several columns, conflicting labels by policy, and bounded memory."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sparsebench.contracts.components import DataContext
from sparsebench.contracts.errors import DataError
from sparsebench.plugins.datasets.files import FileDataset

ROWS = b"text,label\nhello there,0\nyou idiot,1\nnice day,0\nshut up loser,1\n"


def load(path: Path, **params: object):
    values = {p.name: p.default for p in FileDataset.parameters}
    return FileDataset(**{**values, "path": str(path), **params}).load(DataContext(path.parent))


def refused(path: Path, **params: object) -> str:
    with pytest.raises(DataError) as info:
        load(path, **params)
    return str(info.value)


def test_gzip_files_are_read(tmp_path: Path) -> None:
    csv_gz = tmp_path / "data.csv.gz"
    csv_gz.write_bytes(gzip.compress(ROWS))
    assert load(csv_gz).labels.tolist() == [0, 1, 0, 1]
    jsonl_gz = tmp_path / "data.jsonl.gz"
    lines = "".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in (("a b", 0), ("you idiot", 1)))
    jsonl_gz.write_bytes(gzip.compress(lines.encode()))
    assert load(jsonl_gz).texts == ["a b", "you idiot"]


def test_what_a_file_really_holds_is_named(tmp_path: Path) -> None:
    hidden = tmp_path / "data.csv"
    hidden.write_bytes(gzip.compress(ROWS))
    assert "holds gzip-compressed data; name it data.csv.gz" in refused(hidden)
    xlsx = tmp_path / "sheet.csv"
    xlsx.write_bytes(b"PK\x03\x04" + b"\0" * 200)
    assert "is a zip archive (an Excel .xlsx workbook?), not text; export it as CSV" in refused(xlsx)
    array = tmp_path / "data.jsonl"
    array.write_text('[{"text": "a", "label": 0},\n {"text": "b", "label": 1}]\n', encoding="utf-8")
    assert "holds a JSON array, not JSON lines" in refused(array)


def test_duplicate_column_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"text,label,label\nhello,0,1\nidiot,1,0\n")
    assert refused(path) == f"{path}: column 'label' appears twice in the header (columns 2 and 3); rename one"
    jsonl = tmp_path / "data.jsonl"
    jsonl.write_text('{"text": "a", "label": 0, "label": 1}\n', encoding="utf-8")
    assert "line 1: key 'label' appears twice" in refused(jsonl)


def test_a_symlink_loop_is_named(tmp_path: Path) -> None:
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    assert "a symbolic link loop" in refused(loop)
    dangling = tmp_path / "gone.csv"
    dangling.symlink_to(tmp_path / "missing.csv")
    assert "a symbolic link to a file that does not exist" in refused(dangling)


def test_a_label_over_several_columns(tmp_path: Path) -> None:
    path = tmp_path / "ghc.tsv"
    path.write_bytes(b"text\thd\tcv\na\t0\t0\nb\t1\t0\nc\t0\t1\nd\t1\t1\ne\t0\t0\n")
    assert load(path, label_column="hd|cv").labels.tolist() == [0, 1, 1, 1, 0]
    assert load(path, label_column="hd&cv").labels.tolist() == [0, 0, 0, 1, 0]
    assert "no column 'vo'" in refused(path, label_column="hd|vo")
    assert "either '|'" in refused(path, label_column="hd|cv&x")


@pytest.mark.parametrize(("policy", "texts", "labels", "note"), [
    ("drop", ["clean text", "other text"], [0, 1], "2 texts had conflicting labels; dropped their 5 rows (conflicts=drop)"),
    ("majority", ["you idiot", "clean text", "you idiot", "other text", "You idiot!"], [1, 0, 1, 1, 1],
     "2 texts had conflicting labels; kept the majority label (2 rows of tied texts dropped) (conflicts=majority)"),
])
def test_conflicting_labels_by_policy(tmp_path: Path, policy: str, texts: list[str], labels: list[int], note: str, capsys) -> None:
    from sparsebench.contracts.progress import installed

    path = tmp_path / "data.csv"
    path.write_bytes(b"text,label\nyou idiot,1\nclean text,0\nyou idiot,1\nother text,1\nYou idiot!,0\ntie,1\ntie,0\n")
    assert "line 6: the same text as line 2 with the other label" in refused(path)
    notes: list[str] = []
    reporter = type("R", (), {"note": lambda self, m: notes.append(m), **{
        k: (lambda self, *a, **kw: None) for k in ("start", "cell_started", "cell_finished", "phase_advance", "phase_end", "stop")
    }, "phase_start": lambda self, d, t: None})()
    with installed(reporter):
        data = load(path, conflicts=policy)
    assert data.texts == texts and data.labels.tolist() == labels
    assert any(note in n for n in notes), notes
    assert not any("repeated texts" in n for n in notes)  # conflicting texts are no longer reported as repeats


MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    from sparsebench.contracts.components import DataContext
    from sparsebench.plugins.datasets.files import FileDataset
    path = Path(sys.argv[1])
    values = {p.name: p.default for p in FileDataset.parameters}
    started = time.perf_counter()
    data = FileDataset(**{**values, "path": str(path)}).load(DataContext(path.parent))
    # VmHWM is this process's own peak; ru_maxrss would also hold the forking pytest's size (kept across exec)
    status = Path("/proc/self/status")
    hwm = [l for l in status.read_text().splitlines() if l.startswith("VmHWM")] if status.exists() else []
    peak = int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": len(data.texts), "peak_mb": peak, "seconds": time.perf_counter() - started}))
""")


@pytest.mark.slow
def test_a_300_mb_file_loads_in_bounded_memory(tmp_path: Path) -> None:
    """About 300 MB and 2.1 M rows: the old loader held 2.6 GB; the file's own texts need ~0.5 GB as Python strings."""
    path = tmp_path / "big.csv"
    filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("text,label\n")
        for i in range(2_150_000):
            handle.write(f"comment {i} {(filler * 2)[: 90 + i % 110]},{1 if i % 50 == 0 else 0}\n")
    size_mb = path.stat().st_size / 2**20
    assert 250 < size_mb < 350, size_mb
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(path)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{size_mb:.0f} MB file: {result}")
    assert result["rows"] == 2_150_000
    assert result["peak_mb"] < 1024, result  # the texts themselves take ~450 MB as Python strings
