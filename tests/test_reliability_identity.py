"""A stored result is never served for data or code that changed.

The ``file`` dataset under the same relative path in two folders, the same file edited in place, and
an installed plugin whose code and version change: each makes the stored cell stale (``--dry-run``
says so and why), the next run computes it again, and the generation cache is not reused for it.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from faults.helpers import subprocess_env, write_toxic_csv

from sparsebench.cli import cli
from sparsebench.storage.store import ResultStore

RUN = ["run", "-d", "file[path=data.csv]", "-g", "oversample", "-c", "logreg", "-s", "5%", "--bootstrap", "10", "-q"]


@pytest.fixture(scope="module")
def toxic_rows(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> list[list[str]]:
    path = write_toxic_csv(tmp_path_factory.getbasetemp() / "identity-data" / "toxic-mix-1800.csv", data_dir)
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def bench(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def stored(results: Path) -> list[dict]:
    with ResultStore(results, create=False) as store:
        return store.rows()


def test_a_different_file_under_the_same_relative_path_is_not_served_the_old_result(
    toxic_rows: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    header, body = toxic_rows[0], toxic_rows[1:]
    write_rows(tmp_path / "a" / "data.csv", [header, *body])
    write_rows(tmp_path / "b" / "data.csv", [header, *(r for i, r in enumerate(body) if i % 3)])  # another data set, same name
    monkeypatch.chdir(tmp_path / "a")
    assert "computed 1, reused 0" in bench(*RUN, "--results", str(results))
    monkeypatch.chdir(tmp_path / "b")
    plan = bench(*RUN, "--results", str(results), "--dry-run")
    assert "stale" in plan and "dataset file: content changed" in plan
    assert "computed 1 (1 stale), reused 0" in bench(*RUN, "--results", str(results))
    rows = stored(results)
    assert len(rows) == 2 and rows[0]["cell_id"] != rows[1]["cell_id"]
    assert rows[0]["details"]["splits"] != rows[1]["details"]["splits"]  # each row describes its own file
    monkeypatch.chdir(tmp_path / "a")
    assert "computed 0, reused 1" in bench(*RUN, "--results", str(results))  # the first file's own result is still right


def test_a_file_edited_in_place_is_computed_again(toxic_rows: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    data = write_rows(tmp_path / "data.csv", toxic_rows)
    monkeypatch.chdir(tmp_path)
    bench(*RUN, "--results", str(results))
    flipped = [toxic_rows[0]] + [[text, "0" if label == "1" and i % 3 == 0 else label] for i, (text, label) in enumerate(toxic_rows[1:])]
    write_rows(data, flipped)
    assert "stale" in bench(*RUN, "--results", str(results), "--dry-run")
    assert "computed 1 (1 stale), reused 0" in bench(*RUN, "--results", str(results))
    rows = stored(results)
    assert len({r["details"]["dataset_fingerprint"] for r in rows}) == 2
    assert len({r["details"]["splits"]["test_positives"] for r in rows}) == 2  # the edited file has fewer positives


PLUGIN = '''
from sparsebench import hookimpl
from sparsebench.contracts.components import GeneratedBatch, Generator

CASE = "{case}"


class Shout(Generator):
    name = "shout"
    description = "test only: real positives with a suffix, in one case"

    def generate(self, request):
        texts = [f"{{request.positives[i % len(request.positives)]}} shout {{i}}" for i in range(request.n)]
        yield GeneratedBatch([t.upper() if CASE == "upper" else t.lower() for t in texts])


@hookimpl
def register_generators(register):
    register(Shout)
'''


def install_plugin(site: Path, version: str, case: str) -> None:
    info = site / "sparsebench_shout-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: sparsebench-shout\nVersion: {version}\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[sparsebench]\nshout = shout_plugin\n", encoding="utf-8")
    (site / "shout_plugin.py").write_text(PLUGIN.format(case=case), encoding="utf-8")


def bench_process(site: Path, cwd: Path, *args: str) -> str:
    # a rewritten module of the same size within a second must not run from a stale .pyc
    env = subprocess_env(site, PYTHONDONTWRITEBYTECODE="1", SPARSEBENCH_PLUGINS="sparsebench-shout")
    command = [sys.executable, "-c", "from sparsebench.cli import main; main()", *args]
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_a_plugin_whose_code_or_version_changes_is_never_served_old_results_or_texts(
    toxic_rows: list[list[str]], tmp_path: Path
) -> None:
    site, results = tmp_path / "site", tmp_path / "results"
    write_rows(tmp_path / "data.csv", toxic_rows)
    args = ["run", "-d", "file[path=data.csv]", "-g", "shout", "-c", "logreg", "-s", "5%", "--bootstrap", "10", "-q", "--results", str(results)]
    install_plugin(site, "0.0.1", "upper")
    bench_process(site, tmp_path, *args)
    install_plugin(site, "0.0.2", "lower")  # new code and a new version
    plan = bench_process(site, tmp_path, *args, "--dry-run")
    assert "stale" in plan and "generator shout: source changed, version '0.0.1' → '0.0.2'" in " ".join(plan.split())
    assert "computed 1 (1 stale), reused 0" in bench_process(site, tmp_path, *args)
    install_plugin(site, "0.0.2", "upper")  # the code changes back without a version bump: still a different source
    assert "computed 1 (1 stale), reused 0" in bench_process(site, tmp_path, *args)
    rows = sorted(stored(results), key=lambda r: r["finished_at"])
    assert [r["status"] for r in rows] == ["done"] * 3
    assert [r["config"]["generator"]["version"] for r in rows] == ["0.0.1", "0.0.2", "0.0.2"]
    assert [r["details"]["generation"]["cached_chunks"] for r in rows] == [0, 0, 0]  # no generation reused another's texts
    texts = _cached_texts(results)
    assert sum(t.isupper() for t in texts) == 2 * sum(t.islower() for t in texts) > 0  # two upper-case generations, one lower


def _cached_texts(results: Path) -> list[str]:
    texts = []
    for path in (results / "cache").rglob("*.json"):
        texts += json.loads(path.read_text(encoding="utf-8"))["payload"]["texts"]
    return texts


def test_an_old_store_without_versions_gets_a_note_not_a_crash(toxic_rows: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "results"
    write_rows(tmp_path / "data.csv", toxic_rows)
    monkeypatch.chdir(tmp_path)
    bench(*RUN, "--results", str(results))
    with ResultStore(results) as store:  # as an older sparsebench wrote it: names and parameters only
        row = store.rows()[0]
        for kind in ("dataset", "generator", "classifier"):
            row["config"][kind] = {k: row["config"][kind][k] for k in ("name", "params")}
        del row["config"]["protocol_code"]
        store._conn.execute("UPDATE cells SET cell_id = 'aaaabbbbcccc', config = ? WHERE cell_id = ?", (json.dumps(row["config"]), row["cell_id"]))
    plan = " ".join(bench(*RUN, "--results", str(results), "--dry-run").split())
    assert "aaaabbbb is stale" in plan and "version not recorded (older sparsebench)" in plan
    assert os.path.exists(results / "sparsebench.sqlite")


# --- the built-in datasets' data code -------------------------------------------------------------


def test_the_built_in_datasets_identity_covers_their_catalogue_and_readers() -> None:
    from sparsebench.engine.identity import CELL_ROOT, _closure, core_closure
    from sparsebench.plugins.datasets.single import FoxNews, TweetEvalHate
    from sparsebench.plugins.datasets.toxic_mix import ToxicMix

    data_code = {"sparsebench.plugins.datasets._catalogue", "sparsebench.plugins.datasets._readers"}
    for cls in (ToxicMix, FoxNews, TweetEvalHate):
        assert data_code <= set(_closure(cls)), f"{cls.name}: a changed reader must make its cells stale"
    protocol = set(core_closure(CELL_ROOT))
    assert not data_code & protocol and "sparsebench.contracts.fingerprints" in protocol  # dedup_key stays protocol


def test_a_changed_reader_changes_the_dataset_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """toxic-mix's own modules copied as another package: editing only the reader changes the digest, nothing else does."""
    import importlib
    import shutil

    import sparsebench.plugins.datasets as built_in
    from sparsebench.engine.identity import _source_digest

    package = tmp_path / "copied_datasets"
    package.mkdir()
    for name in ("__init__.py", "toxic_mix.py", "_catalogue.py", "_readers.py", "single.py"):
        shutil.copy(Path(built_in.__file__).parent / name, package / name)
    monkeypatch.syspath_prepend(str(tmp_path))
    cls = importlib.import_module("copied_datasets.toxic_mix").ToxicMix
    before = _source_digest(cls)
    (package / "single.py").write_text("# another dataset's module\n", encoding="utf-8")
    assert _source_digest(cls) == before
    with (package / "_readers.py").open("a", encoding="utf-8") as handle:
        handle.write("# a changed reader\n")
    assert _source_digest(cls) != before
    for name in [m for m in sys.modules if m.startswith("copied_datasets")]:
        monkeypatch.delitem(sys.modules, name)
