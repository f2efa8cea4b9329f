"""Refusals that name the cause, not the symptom (issue #20: the failures of an independent torture run).

Each case feeds the exact bad input and checks the one line, the exit code and the results directory
byte for byte, ``-wal``/``-shm`` files included (their presence and bytes, taken before anything opens
the store). Inputs that are read after a better guess (UTF-16 without a byte-order mark, old Mac line
ends) are checked to load the same texts as the plain file and to say what was assumed.

``DOC_MESSAGES`` lists each case's message as docs/reliability.md shows it; a test checks the page.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from faults import helpers

from sparsebench.cli import cli
from sparsebench.storage.store import STORE_NAME

toxic_csv = helpers.toxic_csv  # shared fixture: 1,800 real rows as a CSV
ROWS = b"text,label\nyou are lovely,0\nwhat a nice day,0\nyou absolute idiot,1\n"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"

#: each refusal or note as docs/reliability.md must show it (checked by test_reliability_doc_lists_every_case)
DOC_MESSAGES = {
    "corrupt gzip stream": "…/data.csv.gz: the gzip-compressed data is damaged (",
    "semicolon-delimited .csv": "…/data.csv: the header 'text;label' is one column when split by a comma, but the fields look separated by a semicolon; pass file[delimiter=;]",
    "tab-delimited .csv": "but the fields look separated by a tab; pass file[format=tsv] (or file[delimiter=tab])",
    "UTF-16 without a byte-order mark": "…/data.csv: no byte-order mark, but every other byte is zero: read as UTF-16-LE",
    "CR-only line ends": "…/data.csv: lines end in a carriage return alone (old Mac line ends): read each CR as a line end",
    "labels 0/1 and a stray value": "label 'maybe' is not binary (labels found: '0' ×2, '1' ×1, 'maybe' ×1); fix that row (labels are 0/1 or true/false), or say which value(s) mean toxic, as in file[positive=1] (every other value is then non-toxic)",
    "suite path that is a directory": "suite file …/suite.toml is a directory, not a file; give the .toml file inside it",
    "--results that is a file": "the results directory …/results.txt is a file, not a directory; pass --results DIR with a directory (created if missing)",
    "-c LOGREG": "-c/--classifier: unknown classifier 'LOGREG' (registered: …); did you mean 'logreg'?",
    "-o into a missing directory": "-o …/missing/board.md: the directory …/missing does not exist; create it first (mkdir -p …/missing) or write elsewhere",
    "damaged store": "the results store …/sparsebench.sqlite is damaged (SQLite: database disk image is malformed); nothing was written to it. Copy it aside, then recover its rows with `sqlite3 …/sparsebench.sqlite .recover | sqlite3 recovered.sqlite`",
}


def exact_snapshot(results: Path) -> dict[str, str]:
    """The SHA-256 of every file under ``results`` (``-wal``/``-shm`` too), read without opening SQLite."""
    if not results.exists():
        return {}
    return {str(p.relative_to(results)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(results.rglob("*")) if p.is_file()}


template, results = helpers.one_cell_template, helpers.one_cell_results  # shared fixtures: one finished cell, a fresh copy per test


def _one_cell(data: Path | str, results: Path, *extra: str) -> list[str]:
    return helpers.one_cell(data, results, *extra, quiet=False)


def refused(args: list[str], results: Path, code: int = 2) -> str:
    """Run ``bench ARGS`` (never quiet: no progress line may come before the refusal); return its one line."""
    before = exact_snapshot(results)
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == code, out.output
    assert exact_snapshot(results) == before, "the results directory changed"
    assert out.stdout == "" and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("Error: "), repr(out.stderr)
    return out.stderr.strip()


def data_refusal(results: Path, path: Path, *params: str) -> str:
    spec = ",".join([f"path={path}", *params])
    return refused(["run", "-d", f"file[{spec}]", "-g", "oversample", "-c", "logreg", "-s", "5%", "--results", str(results)], results)


def documented(case: str, message: str, where: Path) -> None:
    """The message, with ``where`` written as the docs' ``…``, holds each piece of the documented text."""
    shown = message.removeprefix("Error: ").replace(str(where), "…")
    missing = [part for part in DOC_MESSAGES[case].split("…") if part.strip(" /") and part not in shown]
    assert not missing, (shown, missing)


# --- data files --------------------------------------------------------------------------------------


def test_corrupt_gzip_stream_is_refused_before_anything_runs(results: Path, tmp_path: Path, toxic_csv: Path) -> None:
    packed = bytearray(gzip.compress(toxic_csv.read_bytes()))
    packed[len(packed) // 2] ^= 0xFF  # one damaged byte in the middle of the deflate stream
    path = tmp_path / "data.csv.gz"
    path.write_bytes(bytes(packed))
    message = data_refusal(results, path)
    assert message.startswith(f"Error: {path}: the gzip-compressed data is damaged (") and "make or fetch it again" in message
    documented("corrupt gzip stream", message, tmp_path)


def test_semicolons_in_a_csv_name_the_delimiter_and_the_parameter(results: Path, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(ROWS.replace(b",", b";"))
    message = data_refusal(results, path)
    assert message == f"Error: {path}: " + DOC_MESSAGES["semicolon-delimited .csv"].removeprefix("…/data.csv: ")
    documented("semicolon-delimited .csv", message, tmp_path)


def test_the_delimiter_parameter_reads_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(ROWS.replace(b",", b";"))
    assert _load(path, delimiter=";").texts == ["you are lovely", "what a nice day", "you absolute idiot"]
    path.write_bytes(ROWS.replace(b",", b"\t"))
    assert _load(path, delimiter="tab").labels.tolist() == [0, 0, 1]


def test_tabs_in_a_csv_point_to_format_tsv(results: Path, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(ROWS.replace(b",", b"\t"))
    message = data_refusal(results, path)
    assert message.endswith(DOC_MESSAGES["tab-delimited .csv"]) and "'text\\tlabel'" in message
    tsv = tmp_path / "data.tsv"
    tsv.write_bytes(ROWS.replace(b",", b"\t"))
    assert _load(path, format="tsv").texts == _load(tsv).texts


def test_a_bad_delimiter_parameter_is_refused(results: Path, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(ROWS)
    assert "file[delimiter=ab]: give one character" in data_refusal(results, path, "delimiter=ab")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_read_and_named(tmp_path: Path, toxic_csv: Path, encoding: str) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(toxic_csv.read_text(encoding="utf-8").encode(encoding))
    notes: list[str] = []
    loaded = _load(path, notes=notes)
    plain = _load(toxic_csv)
    assert loaded.texts == plain.texts and loaded.labels.tolist() == plain.labels.tolist()
    assert f"{path}: no byte-order mark, but every other byte is zero: read as {encoding.upper()}" in notes[0]
    if encoding == "utf-16-le":
        assert DOC_MESSAGES["UTF-16 without a byte-order mark"].replace("…", str(tmp_path)) in notes[0]


def test_cr_only_line_ends_are_read_and_named(tmp_path: Path, toxic_csv: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(toxic_csv.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))
    notes: list[str] = []
    loaded = _load(path, notes=notes)
    plain = _load(toxic_csv)
    assert loaded.texts == plain.texts and loaded.labels.tolist() == plain.labels.tolist()
    assert notes[0] == DOC_MESSAGES["CR-only line ends"].replace("…", str(tmp_path))


def test_a_stray_label_is_not_suggested_as_toxic(results: Path, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"text,label\nhello,0\nyou idiot,1\nperhaps,maybe\nbye,0\n")
    message = data_refusal(results, path)
    assert message.startswith(f"Error: {path} line 4: ") and message.endswith(DOC_MESSAGES["labels 0/1 and a stray value"])
    assert "positive=1|maybe" not in message and "positive=maybe" not in message


def test_a_data_refusal_is_the_only_line(results: Path, tmp_path: Path) -> None:
    """No "loading dataset ... (seed 0)" and no blank line before the refusal, without -q too."""
    path = tmp_path / "data.csv"
    path.write_bytes(b"body,toxic\nhello,0\n")
    assert data_refusal(results, path) == f"Error: {path}: no column 'text' (columns: 'body', 'toxic'); pass file[text_column=NAME]"


# --- options and paths -------------------------------------------------------------------------------


def test_a_suite_path_that_is_a_directory(results: Path, tmp_path: Path) -> None:
    folder = tmp_path / "suite.toml"
    folder.mkdir()
    message = refused(["run", "--suite", str(folder), "--results", str(results)], results)
    assert message == f"Error: suite file {folder} is a directory, not a file; give the .toml file inside it"
    documented("suite path that is a directory", message, tmp_path)


def test_results_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "results.txt"
    target.write_bytes(b"my notes\n")
    message = refused(_one_cell(tmp_path / "none.csv", target), tmp_path)
    assert message == "Error: " + DOC_MESSAGES["--results that is a file"].replace("…", str(tmp_path))
    nested = target / "deeper"
    message = refused(_one_cell(tmp_path / "none.csv", nested), tmp_path)
    assert f"the results directory {nested} lies under {target}, which is a file" in message
    assert target.read_bytes() == b"my notes\n"


def test_run_suggests_the_lower_case_name(results: Path) -> None:
    message = refused(["run", "-g", "oversample", "-c", "LOGREG", "--results", str(results)], results)
    assert message.startswith("Error: -c/--classifier: unknown classifier 'LOGREG' (registered: ")
    assert message.endswith("; did you mean 'logreg'?")


@pytest.mark.parametrize("command", ["leaderboard", "report"])
def test_output_into_a_missing_directory_is_refused(results: Path, tmp_path: Path, command: str) -> None:
    name = "board.md" if command == "leaderboard" else "report.html"
    target = tmp_path / "missing" / name
    message = refused([command, "--results", str(results), "-o", str(target)], results)
    parent = tmp_path / "missing"
    assert message == f"Error: -o {target}: the directory {parent} does not exist; create it first (mkdir -p {parent}) or write elsewhere"
    assert not parent.exists()
    if command == "leaderboard":
        documented("-o into a missing directory", message.replace(name, "board.md"), tmp_path)


# --- a damaged store ---------------------------------------------------------------------------------


def _damage(store: Path) -> None:
    """Overwrite the header of every b-tree page after the first (sqlite_master stays readable)."""
    data = bytearray(store.read_bytes())
    size = int.from_bytes(data[16:18], "big")
    for start in range(size, len(data), size):
        data[start : start + 8] = b"\xff" * 8
    store.write_bytes(bytes(data))


@pytest.mark.parametrize("command", ["run", "leaderboard"])
def test_a_damaged_store_says_so_and_how_to_recover(results: Path, toxic_csv: Path, command: str) -> None:
    _damage(results / STORE_NAME)
    args = _one_cell(toxic_csv, results) if command == "run" else ["leaderboard", "--results", str(results)]
    message = refused(args, results, code=1)
    path = results / STORE_NAME
    assert message.startswith(f"Error: the results store {path} is damaged (SQLite: database disk image is malformed); nothing was written")
    assert f"`sqlite3 {path} .recover | sqlite3 recovered.sqlite`" in message and "another --results DIR" in message
    assert not (results / f"{STORE_NAME}-wal").exists() and not (results / f"{STORE_NAME}-shm").exists()
    documented("damaged store", message.replace(str(results), "…"), results)


# --- what reaches the terminal -----------------------------------------------------------------------


def test_a_hostile_file_name_is_escaped_everywhere_it_is_printed(tmp_path: Path, toxic_csv: Path) -> None:
    """A data file named with an ANSI escape and rich markup: the run's lines, controls and leaderboard show it escaped."""
    folder = tmp_path / "\x1b[2Jevil[bold red]x[link=file:x]\u202e"
    folder.mkdir()
    path = folder / "data.csv"
    shutil.copy(toxic_csv, path)
    results = tmp_path / "results"
    run = CliRunner().invoke(cli, _one_cell(path, results))
    assert run.exit_code == 0, run.output
    board = CliRunner().invoke(cli, ["leaderboard", "--results", str(results), "--wide"])
    assert board.exit_code == 0, board.output
    for out in (run.stdout, run.stderr, board.stdout, board.stderr):
        assert "\x1b" not in out and "\u202e" not in out
    assert "controls" in run.stdout and "\\x1b[2Jevil[bold red]x[link=file:x]\\u202e" in run.stdout + board.stdout


def test_json_for_the_terminal_escapes_bidi_and_control_characters() -> None:
    from sparsebench.analysis.leaderboard import to_json
    from sparsebench.storage.samples import to_json as samples_json

    records = [{"text": "abc\u202edef\x1b[2J\u2066é", "index": 0}]
    for dump in (to_json, samples_json):
        text = dump(records)
        assert "\u202e" not in text and "\x1b" not in text and "\u2066" not in text
        assert "\\u202e" in text and "é" in text  # other non-ASCII stays readable
        assert json.loads(text) == records


# --- the docs ----------------------------------------------------------------------------------------


def test_reliability_doc_lists_every_case() -> None:
    """docs/reliability.md shows the message of each case here and in tests/test_badinput.py (data files,
    options, suites), so the page cannot drift from the code."""
    import test_badinput as badinput

    page = " ".join(DOCS.read_text(encoding="utf-8").split())
    cases = dict(DOC_MESSAGES)
    for table in (badinput.FILE_CASES, badinput.OPTION_CASES, badinput.SUITE_CASES):
        cases.update({case: expected for case, (_, expected) in table.items()})
    missing = {case: message for case, message in cases.items() if message.replace("|", "\\|") not in page and message not in page}
    assert not missing, f"docs/reliability.md lacks: {missing}"


def _load(path: Path, notes: list[str] | None = None, **params: Any) -> Any:
    from sparsebench.contracts.components import DataContext
    from sparsebench.contracts.progress import SilentReporter, installed
    from sparsebench.plugins.datasets.files import FileDataset

    class Notes(SilentReporter):
        def note(self, message: str) -> None:
            (notes if notes is not None else []).append(message)

    defaults = {p.name: p.default for p in FileDataset.parameters}
    with installed(Notes()):
        return FileDataset(**{**defaults, "path": str(path), **params}).load(DataContext(path.parent))


# --- a cell another process finishes meanwhile ---------------------------------------------------------


def test_totals_count_a_cell_another_process_finished_meanwhile(tmp_path: Path, toxic_csv: Path) -> None:
    """While this run works on its first cell, a second connection to the store (as another `bench run`
    would) stores the second cell as done: the run does not compute it again, and its totals say so."""
    from sparsebench.contracts.progress import SilentReporter
    from sparsebench.engine.planner import plan, run
    from sparsebench.storage.store import CellRow, ResultStore

    results = tmp_path / "results"
    grid = plan(datasets=[f"file[path={toxic_csv}]"], generators=["oversample"], classifiers=["logreg"], levels=["1%", "5%"],
                seeds=[0], bootstrap=10)
    first, second = (cell.cell_id for cell in grid.cells)

    class OtherProcess(SilentReporter):
        def cell_finished(self, label: str, status: str, reason: str, metrics: dict[str, Any] | None = None) -> None:
            other = ResultStore(results)
            try:
                [row] = other.rows([first])
                fields = {k: row[k] for k in CellRow.__dataclass_fields__ if k in row and k != "cell_id"}
                other.write(CellRow(cell_id=second, **fields))
            finally:
                other.close()

    outcome = run(grid, results, reporter=OtherProcess())
    summary = outcome.summary
    assert (summary.computed, summary.reused, summary.elsewhere) == (1, 0, 1)
    assert summary.statuses == {"done": 2} == {"done": sum(r["status"] == "done" for r in outcome.records)}
