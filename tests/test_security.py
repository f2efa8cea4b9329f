"""Untrusted text and files: hostile texts are shown literally (terminal, Markdown, CSV), nothing is
unpickled, remote code stays off, downloads and data files are verified, and names cannot address
paths outside the data and results directories."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from faults import helpers

from sparsebench.cli import cli
from sparsebench.protocol.metrics import METRIC_KEYS
from sparsebench.storage.store import CellRow, ResultStore

REPO = Path(__file__).resolve().parents[1]
toxic_csv = helpers.toxic_csv  # shared fixture

MARKUP = "[bold red]pwned[/] [link=https://evil.example]click[/link] [/]"
ESCAPES = "\x1b[2J\x1b]8;;https://evil.example\x1b\\here\x1b]8;;\x1b\\\r\u202eoverride"
FORMULAS = ('=HYPERLINK("https://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", " =1+1", "\uff1d1+1")
HTML = "<script>alert(1)</script> <img src=x onerror=alert(1)> | `code` *bold* [a](javascript:alert(1)) &amp;"


def _hostile_store(results: Path) -> list[str]:
    """A store whose labels, reasons and traceback carry markup, escapes, formulas and HTML."""
    metrics = {k: {"value": 0.5, "low": 0.4, "high": 0.6} for k in METRIC_KEYS}
    texts = [MARKUP, ESCAPES, HTML, *FORMULAS]
    with ResultStore(results) as store:
        for i, text in enumerate(texts):
            status = "done" if i % 2 == 0 else "error"
            row = CellRow(
                f"{i:04d}beef{i:04d}",
                "run",
                f"file[path={text}]",
                text,
                text,
                0.05,
                "replace",
                0,
                status,
                "" if status == "done" else text,
                {"i": i},
                1.0,
                2.0,
                metrics=metrics if status == "done" else {},
                details={"traceback": text},
                timings={"cell_s": 1.0},
            )
            store.write(row)
    return texts


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    results = tmp_path / "results"
    _hostile_store(results)
    return results


def _leaderboard(results: Path, *args: str) -> str:
    out = CliRunner().invoke(cli, ["leaderboard", "--results", str(results), *args])
    assert out.exit_code == 0, out.output
    return out.stdout


# --- rendering ------------------------------------------------------------------------------------


def test_terminal_table_shows_markup_literally_and_no_escape_sequences(hostile: Path) -> None:
    out = _leaderboard(hostile)
    assert "[bold red]pwned[/]" in out and "[link=https://evil.example]" in out
    assert "\x1b" not in out and "\u202e" not in out and "\r" not in out
    assert "\\x1b[2J" in out and "\\u202eoverride" in out  # shown as escapes, not executed


@pytest.mark.parametrize("cell", ["0000", "0001", "0002"])
def test_show_renders_hostile_rows_literally(hostile: Path, cell: str) -> None:
    out = CliRunner().invoke(cli, ["show", cell, "--results", str(hostile)])
    assert out.exit_code == 0, out.output
    assert "\x1b" not in out.stdout and "\u202e" not in out.stdout
    assert ("[bold red]pwned[/]" in out.stdout) == (cell == "0000")


def test_markdown_escapes_html_and_table_syntax(hostile: Path) -> None:
    out = _leaderboard(hostile, "--format", "md")
    assert re.search(r"(?<!\\)[<>]", out) is None, "an HTML tag could open"
    assert re.search(r"(?<!\\)\]\(", out) is None, "a link could form"
    assert "\\<script\\>" in out and "\x1b" not in out
    table = [line for line in out.splitlines() if line.startswith("|")]
    widths = {len(re.findall(r"(?<!\\)\|", line)) for line in table}
    assert len(widths) == 1, "a text broke out of its table cell"


def test_csv_export_neutralises_formulas(hostile: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(_leaderboard(hostile, "--format", "csv"))))
    assert len(rows) == 10
    for row in rows:
        for key in ("dataset", "generator", "classifier", "reason"):
            value = row[key].lstrip(" ")
            assert not value or value[0] not in "=+-@\t\r\n\uff1d", (key, row[key])
    assert any(row["generator"] == "'-2+3" for row in rows)
    assert float(rows[0]["auprc"]) == 0.5  # numbers stay numbers


def test_json_export_round_trips_the_texts(hostile: Path) -> None:
    generators = {r["generator"] for r in json.loads(_leaderboard(hostile, "--format", "json"))}
    assert {MARKUP, ESCAPES, HTML, *FORMULAS} == generators


def test_run_with_a_hostile_suite_name_and_results_path(tmp_path: Path, toxic_csv: Path) -> None:
    """A suite name and a results directory with markup reach the terminal literally; nothing escapes the results dir."""
    suite = tmp_path / "suite.toml"
    name = "../../[/red]escape[link=file:///etc/passwd]x[/link]"
    suite.write_text(
        f'name = "{name}"\ndatasets = ["file[path={toxic_csv}]"]\ngenerators = ["oversample"]\nclassifiers = ["logreg"]\n'
        "[protocol]\nlevels = [0.05]\n[run]\nbootstrap = 10\n",
        encoding="utf-8",
    )
    results = tmp_path / "res[/]ults"
    before = {p for p in tmp_path.parent.rglob("*") if "res[" not in str(p)}
    out = CliRunner().invoke(cli, ["run", "--suite", str(suite), "--results", str(results)])
    assert out.exit_code == 0, out.output
    assert f"{name}: 1 cells" in out.stdout and f"Results: {results}" in " ".join(out.stderr.split())
    after = {p for p in tmp_path.parent.rglob("*") if "res[" not in str(p)}
    assert after == before


# --- no pickle, no remote code --------------------------------------------------------------------

SOURCES = sorted([*(REPO / "harness").rglob("*.py"), *(REPO / "plugins").rglob("*.py")])
UNSAFE = {
    r"^\s*(import|from)\s+(pickle|cPickle|_pickle|dill|cloudpickle|shelve|marshal)\b": "a pickle-based module",
    r"\b(joblib|pickle|dill|cloudpickle|pd|pandas)\.(load|loads|read_pickle)\(": "unpickling",
    r"allow_pickle\s*=\s*True": "numpy unpickling",
    r"trust_remote_code['\"]?\s*[=:]\s*True": "remote code switched on in the source",
    r"safe_serialization\s*=\s*False": "weights saved as pickle",
    r"(?<![.\w])(eval|exec)\(": "eval/exec",
}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_unsafe_deserialisation_or_remote_code(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for pattern, what in UNSAFE.items():
        match = re.search(pattern, text, flags=re.MULTILINE)
        assert match is None, f"{what}: {match.group(0) if match else ''}"
    for call in re.finditer(r"torch\.load\(", text):
        args = text[call.end() : text.find(")", call.end()) + 1]
        assert "weights_only=True" in args, f"torch.load without weights_only=True: {args}"


def test_remote_code_is_off_unless_asked_for_by_name(plugins) -> None:  # noqa: ANN001 - conftest fixture
    for kind in ("dataset", "generator", "classifier"):
        for entry in plugins.registry.entries(kind):
            for param in entry.cls.parameters:
                if "remote_code" in param.name:
                    assert param.default is False, f"{kind} {entry.name}: {param.name} defaults to {param.default!r}"


# --- verified files -------------------------------------------------------------------------------


def test_a_corrupt_data_file_is_refused(tmp_path: Path, data_dir: Path) -> None:
    data = tmp_path / "data"
    for source in data_dir.rglob("*"):
        target = data / source.relative_to(data_dir)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif source.name != "fox-news-comments.jsonl":
            target.symlink_to(source.resolve())  # absolute: a relative SPARSEBENCH_DATA (the README's ../shared/data) would dangle
    bad = data / "fox-news-comments" / "fox-news-comments.jsonl"
    bad.write_bytes((data_dir / "fox-news-comments" / "fox-news-comments.jsonl").read_bytes().replace(b"hate", b"love", 1))
    results = tmp_path / "results"
    args = ["run", "-d", "toxic-mix[negatives=500,positives=100]", "-g", "oversample", "-c", "logreg", "--data", str(data), "--no-download"]
    out = CliRunner().invoke(cli, [*args, "--results", str(results), "-q"])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert out.stderr.startswith(f"Error: {bad}: checksum mismatch (sha256 ")
    assert "expected 897af55e4b865678…); the file is corrupt or a different version" in out.stderr
    assert helpers.raw_rows(results) == []


class _Response(io.BytesIO):
    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.mark.parametrize("tampered", [True, False])
def test_downloads_are_verified_before_use(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, tampered: bool) -> None:
    from sparsebench.contracts.errors import DataError
    from sparsebench.plugins.datasets import _catalogue as catalogue

    name = "tweeteval/irony/val_text.txt"
    genuine = (data_dir / name).read_bytes()
    urls: list[str] = []

    def fake_urlopen(url: str, timeout: float) -> _Response:
        urls.append(url)
        return _Response(genuine + b"injected\n" if tampered else genuine)

    monkeypatch.setattr(catalogue.urllib.request, "urlopen", fake_urlopen)
    target = tmp_path / name
    if tampered:
        with pytest.raises(DataError, match="checksum .* does not match .*; not using it"):
            catalogue.ensure_files(tmp_path, [name], download=True)
        assert not target.exists() and list(target.parent.iterdir()) == []  # no partial or temporary file
    else:
        assert catalogue.ensure_files(tmp_path, [name], download=True) == {name: target}
        assert target.read_bytes() == genuine
    assert urls == [
        f"https://raw.githubusercontent.com/cardiffnlp/tweeteval/{catalogue.SOURCES['tweeteval'].commit}/datasets/irony/val_text.txt"
    ]


# --- names cannot address paths -------------------------------------------------------------------


@pytest.mark.parametrize("key", ["../../etc/passwd", "ab/../../x", "/etc/passwd", "AB" * 32, "a" * 63, ""])
def test_cache_keys_must_be_digests(tmp_path: Path, key: str) -> None:
    from sparsebench.storage.cache import Chunk, GenerationCache

    cache = GenerationCache(tmp_path / "cache")
    with pytest.raises(ValueError, match="not a cache key"):
        cache.get(key)
    with pytest.raises(ValueError, match="not a cache key"):
        cache.put(key, Chunk(texts=["x"], seconds=0.0), {})
    assert not any(tmp_path.rglob("*"))


@pytest.mark.parametrize("cell", ["../../etc/passwd", "abcd/../..", "abcd%2f", "' OR 1=1 --", "abc"])
def test_show_takes_only_cell_ids(hostile: Path, cell: str) -> None:
    out = CliRunner().invoke(cli, ["show", cell, "--results", str(hostile)])
    assert out.exit_code == 2 and "is not a cell id" in out.stderr


@pytest.mark.parametrize("suite", ["../../etc/passwd", "../../../../etc/shadow", "..", "~root/.ssh/id_rsa", "a/../../b"])
def test_suite_names_cannot_read_arbitrary_files(tmp_path: Path, suite: str) -> None:
    out = CliRunner().invoke(cli, ["run", "--suite", suite, "--results", str(tmp_path / "r"), "-q"])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert "must be a .toml file" in out.stderr or "is not a suite name" in out.stderr


def test_plugins_cannot_register_path_like_names() -> None:
    from faults.plugin import SlowGenerator

    from sparsebench.contracts.errors import RegistrationError
    from sparsebench.hooks.registry import Registry

    for name in ("../evil", "a/b", "a\\b", ".hidden", ""):
        cls = type("Evil", (SlowGenerator,), {"name": name})
        with pytest.raises(RegistrationError):
            Registry().add("generator", cls, "evil-plugin")


def test_hostile_fixture_is_independent(tmp_path: Path) -> None:
    """The hostile store is built from scratch each time (no state shared between the tests above)."""
    results = tmp_path / "r"
    assert len(_hostile_store(results)) == 10
    shutil.rmtree(results)
