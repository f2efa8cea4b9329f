"""Bad input gets one clear line, exit code 2, no traceback, and leaves the results store untouched.

Every case runs ``bench run`` (click's CliRunner, plus the real console script for a few) against a
copy of a store that already holds a finished cell, and compares the store's rows and the bytes of
every file in the results directory before and after.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from faults import helpers
from faults.helpers import snapshot

from sparsebench.cli import cli

toxic_csv = helpers.toxic_csv  # shared fixture: 1,800 real rows as a CSV

GOOD = b"text,label\nyou are lovely,0\nwhat a nice day,0\nyou absolute idiot,1\n"


one_cell = helpers.one_cell
template, results = helpers.one_cell_template, helpers.one_cell_results  # shared fixtures: one finished cell, a fresh copy per test


def run_bad(results: Path, *args: str, debug: bool = False) -> str:
    """Run ``bench run ARGS`` that must fail as bad input; return its one-line message."""
    before = snapshot(results)
    out = CliRunner().invoke(cli, [*(["--debug"] if debug else []), "run", *args, "--results", str(results), "-q"])
    assert out.exit_code == 2, out.output
    assert snapshot(results) == before, "the results store changed"
    if not debug:
        assert "Traceback" not in out.output
        assert out.stdout == ""
        assert out.stderr.count("\n") == 1 and out.stderr.startswith("Error: "), out.stderr
    return out.stderr.strip()


def file_run(results: Path, path: Path, *params: str) -> str:
    spec = ",".join([f"path={path}", *params])
    return run_bad(results, "-d", f"file[{spec}]", "-g", "oversample", "-c", "logreg", "-s", "5%")


# --- the user's own dataset file -----------------------------------------------------------------

FILE_CASES = {
    "missing file": (None, "data.csv: no such file"),
    "empty file": (b"", "data.csv: the file is empty"),
    "only blank lines": (b"\n\r\n  \n", "data.csv: the file is empty"),
    "header only": (b"text,label\r\n", "data.csv: the file has no data rows"),
    "non-UTF-8 bytes": (
        b"text,label\nfine,0\ncaf\xe9 au lait,1\n",
        "data.csv line 3: not valid UTF-8 (byte 0xe9); re-save the file as UTF-8",
    ),
    "wrong columns": (b"body,toxic\nhello,0\n", "data.csv: no column 'text' (columns: 'body', 'toxic'); pass file[text_column=NAME]"),
    "missing label column value": (b"text,label\nhello,0\nno label here\n", "data.csv line 3: empty or missing label"),
    "too many fields": (b"text,label\nhello,0\nhello, world,1\n", "data.csv line 3: 3 fields but the header has 2 columns"),
    "empty text": (b"text,label\nhello,0\n  ,1\n", "data.csv line 3: empty or missing text; fix the row or pass file[skip_bad_rows=true]"),
    "NaN text": (b"text,label\nhello,0\nNaN,1\n", "data.csv line 3: empty or missing text"),
    "single class": (b"text,label\nhello,0\nworld,0\n", "data.csv: every row is non-toxic (0); the benchmark needs both"),
    "toxic/non-toxic labels": (
        b"text,label\nhello,non-toxic\nyou idiot,toxic\nbye,non-toxic\n",
        "data.csv line 2: label 'non-toxic' is not binary (labels found: 'non-toxic' \u00d72, 'toxic' \u00d71); "
        "say which value(s) mean toxic, as in file[positive=toxic]",
    ),
    "three label values": (b"text,label\na,none\nb,none\nc,mild\nd,severe\n", "as in file[positive=mild|severe]"),
    "duplicate with the other label": (
        b"text,label\nyou idiot,1\nhello,0\nYou  idiot!,0\n",
        "data.csv line 4: the same text as line 2 with the other label; fix one of them, or pass file[skip_bad_rows=true]",
    ),
    "quoted newline, then a bad row": (b'text,label\n"one\nline two\nline three",0\n,1\n', "data.csv line 5: empty or missing text"),
    "quote left open": (b'text,label\nhello,0\n"never closed,1\nmore,0\n', "data.csv line 3: a quoted field opened here runs to line 4"),
    "row of megabytes": (
        b"text,label\nhello,0\n" + b"x" * 5_000_000 + b",1\n",
        "data.csv line 3: text of 5,000,000 characters is longer than max_chars=100,000",
    ),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_bad_data_file(results: Path, tmp_path: Path, case: str) -> None:
    content, expected = FILE_CASES[case]
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_bytes(content)
    message = file_run(results, path)
    assert str(path) in message and expected in message


def test_positive_matching_no_label(results: Path, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"text,label\nhello,ok\nidiot,bad\n")
    assert "no label equals 'toxic' (labels found: 'ok' \u00d71, 'bad' \u00d71)" in file_run(results, path, "positive=toxic")


def test_bad_jsonl_line(results: Path, tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "hello", "label": 0}\n{"text": "oops", "label": 1\n', encoding="utf-8")
    assert f"{path} line 2: not valid JSON" in file_run(results, path)


def test_json_object_as_text(results: Path, tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "hello", "label": 0}\n{"text": {"nested": 1}, "label": 1}\n', encoding="utf-8")
    assert f"{path} line 2: the text and the label must be plain values" in file_run(results, path)


def test_unknown_extension(results: Path, tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(GOOD)
    assert "cannot tell the format from '.xlsx'; pass file[format=csv|tsv|jsonl|parquet]" in file_run(results, path)


def test_directory_instead_of_file(results: Path, tmp_path: Path) -> None:
    assert f"{tmp_path}: not a file" in file_run(results, tmp_path)


def test_unreadable_file(results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(GOOD)
    real = Path.open

    def denied(self: Path, *args: Any, **kwargs: Any) -> Any:  # root reads a chmod 000 file, so refuse it here
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    assert f"{path}: cannot read the file (Permission denied)" in file_run(results, path)


def test_too_few_rows_for_the_splits(results: Path, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(GOOD)
    message = file_run(results, path)
    assert message.startswith(f"Error: dataset file[path={path}] (seed 0): the val split would miss a class")


def test_debug_shows_the_traceback(results: Path, tmp_path: Path) -> None:
    out = CliRunner().invoke(
        cli,
        [
            "--debug",
            "run",
            "-d",
            f"file[path={tmp_path / 'nope.csv'}]",
            "-g",
            "oversample",
            "-c",
            "logreg",
            "--results",
            str(results),
            "-q",
        ],
    )
    assert out.exit_code == 2
    assert "Traceback (most recent call last)" in out.stderr and "DataError" in out.stderr


def test_bom_crlf_and_quoted_newlines_read_like_plain_utf8(results: Path, tmp_path: Path, toxic_csv: Path) -> None:
    """A BOM, CRLF line ends and quoting are no problem: the metrics equal those of the plain file."""
    import json

    variant = tmp_path / "excel.csv"
    variant.write_bytes(b"\xef\xbb\xbf" + toxic_csv.read_bytes().replace(b"\n", b"\r\n"))
    boards = []
    for path in (toxic_csv, variant):
        assert CliRunner().invoke(cli, one_cell(path, results)).exit_code == 0
        out = CliRunner().invoke(cli, ["leaderboard", "--results", str(results), "--format", "json", "-d", f"file[path={path}]"])
        [row] = json.loads(out.stdout)
        boards.append({k: row[k] for k in ("status", "auprc", "auroc", "f1@val", "train_size", "test_rows")})
    assert boards[0] == boards[1]


def test_repeated_rows_with_one_label_are_counted_once_and_named(tmp_path: Path, toxic_csv: Path) -> None:
    """Exact repeats are not an error (the protocol deduplicates), but the run says where they are."""
    out = CliRunner().invoke(
        cli, ["run", "-d", f"file[path={toxic_csv}]", *SELECT, "-s", "5%", "--bootstrap", "10", "--results", str(tmp_path / "r")]
    )
    assert out.exit_code == 0, out.output
    assert f"{toxic_csv}: 2 repeated texts are counted once (first: line 457 repeats line 236)" in " ".join(out.stderr.split())


def test_quoted_newlines_and_line_numbers(tmp_path: Path) -> None:
    from sparsebench.contracts.components import DataContext
    from sparsebench.plugins.datasets.files import FileDataset

    path = tmp_path / "data.csv"
    path.write_bytes(b'\xef\xbb\xbftext,label\r\n"first\r\nsecond",1\r\n\r\n"say ""hi""",0\r\n')
    data = FileDataset(**{**_defaults(), "path": str(path)}).load(DataContext(tmp_path))
    assert data.texts == ["first\r\nsecond", 'say "hi"'] and data.labels.tolist() == [1, 0]


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    from sparsebench.contracts.components import DataContext
    from sparsebench.plugins.datasets.files import FileDataset

    path = tmp_path / "data.csv"
    path.write_bytes("text,label\nhéllo,0\nidiot,1\n".encode("utf-16"))
    data = FileDataset(**{**_defaults(), "path": str(path)}).load(DataContext(tmp_path))
    assert data.texts == ["héllo", "idiot"]


def test_skip_bad_rows_drops_them(tmp_path: Path) -> None:
    from sparsebench.contracts.components import DataContext
    from sparsebench.plugins.datasets.files import FileDataset

    path = tmp_path / "data.csv"
    path.write_bytes(b"text,label\nhello,0\n,1\nidiot,1\n" + b"x" * 200_000 + b",0\nbye,\n")
    data = FileDataset(**{**_defaults(), "path": str(path), "skip_bad_rows": True}).load(DataContext(tmp_path))
    assert data.texts == ["hello", "idiot"]


def _defaults() -> dict[str, object]:
    from sparsebench.plugins.datasets.files import FileDataset

    return {p.name: p.default for p in FileDataset.parameters}


# --- command-line options ------------------------------------------------------------------------

SELECT = ("-g", "oversample", "-c", "logreg")
OPTION_CASES = {
    "unknown generator": (("-g", "nope", "-c", "logreg"), "-g/--generator: unknown generator 'nope' (registered: "),
    "misspelt classifier": (("-g", "oversample", "-c", "logrge"), "-c/--classifier: unknown classifier 'logrge'"),
    "did you mean": (("-g", "oversampel", "-c", "logreg"), "did you mean 'oversample'?"),
    "unknown parameter": (
        ("-g", "oversample", "-c", "logreg[D=2]"),
        "-c/--classifier: classifier 'logreg': unknown parameter 'D' (known: C,",
    ),
    "bad parameter value": (
        ("-g", "oversample", "-c", "logreg[C=lots]"),
        "classifier 'logreg': parameter 'C' must be a number, got 'lots'",
    ),
    "unknown dataset": (("-d", "toxic-max", *SELECT), "-d/--dataset: unknown dataset 'toxic-max'"),
    "path as component name": (("-g", "../oversample", "-c", "logreg"), "is not a valid component name"),
    "level at the base share": ((*SELECT, "-s", "0.25%"), "-s/--level: sparsity level 0.0025 must be above the base share 0.0025"),
    "level below the base share": ((*SELECT, "-s", "0.1%"), "-s/--level: sparsity level 0.001 must be above the base share 0.0025"),
    "level of 100 %": ((*SELECT, "-s", "100%"), "-s/--level: sparsity level 1 must be below 1 (100 %)"),
    "level of 5 meaning 5 %": ((*SELECT, "-s", "5"), "-s/--level: sparsity level 5 must be below 1 (100 %); write 5 % as 0.05"),
    "level not a number": ((*SELECT, "-s", "lots"), "-s/--level: sparsity level 'lots' is not a number"),
    "level NaN": ((*SELECT, "-s", "nan"), "-s/--level: sparsity level nan is not a number"),
    "repeated level": ((*SELECT, "-s", "1%", "-s", "0.01"), "-s/--level: sparsity levels repeat"),
    "base share zero": ((*SELECT, "--base-share", "0"), "--base-share: base share must be between 0 and 1"),
    "base share above a level": ((*SELECT, "--base-share", "2%"), "--base-share: sparsity level 0.01 must be above the base share 0.02"),
    "prevalence 100 %": ((*SELECT, "--prevalence", "100%"), "--prevalence: deployment prevalence must be between 0 and 1"),
    "negative seed": ((*SELECT, "--seeds=-1"), "--seeds: seed '-1' must be a whole number from 0 to 4294967295"),
    "fractional seed": ((*SELECT, "--seeds", "1.5"), "--seeds: seed '1.5' must be a whole number"),
    "seed too large": ((*SELECT, "--seeds", "4294967296"), "--seeds: seed '4294967296' must be a whole number from 0 to 4294967295"),
    "empty seed range": ((*SELECT, "--seeds", "5-2"), "--seeds: seed range '5-2' is empty; write it low-high"),
    "huge seed range": ((*SELECT, "--seeds", "0-99999999"), "--seeds: seed range '0-99999999' has 100,000,000 seeds; at most 10,000"),
    "no seeds": ((*SELECT, "--seeds", ","), "--seeds: no seeds given"),
    "zero timeout": ((*SELECT, "--timeout", "0"), "--timeout must be a positive number of seconds, got 0"),
    "NaN timeout": ((*SELECT, "--timeout", "nan"), "--timeout must be a positive number of seconds, got nan"),
    "infinite generation timeout": ((*SELECT, "--generation-timeout", "inf"), "--generation-timeout must be a positive number of seconds"),
    "bad device": ((*SELECT, "--device", "tpu"), "--device must be auto, cpu, cuda or cuda:N, got 'tpu'"),
    "nothing selected": ((), "nothing selected: pass --all"),
    "suite path that is not TOML": (("--suite", "../../etc/passwd"), "suite file ../../etc/passwd must be a .toml file"),
    "suite name with odd characters": (("--suite", "de fault"), "'de fault' is not a suite name"),
    "unknown suite name": (("--suite", "nightly"), "no suite named 'nightly' (shipped: "),
    "missing suite file": (("--suite", "missing.toml"), "suite file missing.toml does not exist"),
}


@pytest.mark.parametrize("case", list(OPTION_CASES))
def test_bad_option(results: Path, case: str) -> None:
    args, expected = OPTION_CASES[case]
    assert expected in run_bad(results, *args)


# --- suites --------------------------------------------------------------------------------------

SUITE_HEAD = 'name = "mine"\ndatasets = ["toxic-mix[negatives=500,positives=100]"]\ngenerators = ["oversample"]\nclassifiers = ["logreg"]\n'
SUITE_CASES = {
    "invalid TOML": ("name = \n", "invalid TOML"),
    "unknown top-level key": (SUITE_HEAD + "levels = [0.05]\n", "unknown key 'levels' in the top level (allowed: "),
    "unknown generator": (SUITE_HEAD.replace('"oversample"', '"nope"'), "suite.toml: generators: unknown generator 'nope'"),
    "unknown parameter": (
        SUITE_HEAD + "[params.classifier.logreg]\nD = 2\n",
        "suite.toml: [params.classifier.logreg]: unknown parameter 'D'",
    ),
    "bad parameter value": (
        SUITE_HEAD + "[params.classifier.logreg]\nC = -1\n",
        "[params.classifier.logreg]: parameter 'C' must be >= 1e-06",
    ),
    "misspelt params table": (
        SUITE_HEAD + "[params.classifier.logrge]\nC = 2\n",
        "[params.classifier.logrge]: no classifier named 'logrge' is registered; did you mean",
    ),
    "params of an unknown kind": (SUITE_HEAD + "[params.model.x]\na = 1\n", "[params.model] must be one of params.dataset"),
    "level at the base share": (
        SUITE_HEAD + "[protocol]\nlevels = [0.0025]\n",
        "suite.toml: [protocol] sparsity level 0.0025 must be above the base share",
    ),
    "level of 100 %": (SUITE_HEAD + '[protocol]\nlevels = ["100%"]\n', "suite.toml: [protocol] sparsity level 1 must be below 1"),
    "unknown protocol key": (SUITE_HEAD + "[protocol]\nlevel = [0.05]\n", "unknown key 'level' in [protocol]"),
    "negative seed": (SUITE_HEAD + "seeds = [-1]\n", "suite.toml: seeds: seed -1 must be a whole number"),
    "seed as a float": (SUITE_HEAD + "seeds = [0.5]\n", "suite.toml: seeds: seed 0.5 must be a whole number"),
    "NaN timeout": (SUITE_HEAD + "[run]\ntimeout = nan\n", "suite.toml: run.timeout must be a positive number, got nan"),
    "generators not a list": (SUITE_HEAD.replace('["oversample"]', '"oversample"'), "suite.toml: generators must be a list"),
    "non-UTF-8 suite": ('name = "caf\udce9"\n', "cannot read the suite"),
}


@pytest.mark.parametrize("case", list(SUITE_CASES))
def test_bad_suite(results: Path, tmp_path: Path, case: str) -> None:
    text, expected = SUITE_CASES[case]
    path = tmp_path / "suite.toml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    message = run_bad(results, "--suite", str(path))
    assert expected in message and (str(path) in message or "suite.toml" in message)


# --- the real console script ---------------------------------------------------------------------


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("bench")
    cmd = [str(script)] if script.exists() else [sys.executable, "-c", "from sparsebench.cli import main; main()"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("-d", "file[path=/nonexistent/comments.csv]", *SELECT), "Error: /nonexistent/comments.csv: no such file\n"),
        (("-g", "nope", "-c", "logreg"), "Error: -g/--generator: unknown generator 'nope'"),
    ],
)
def test_console_script(results: Path, args: tuple[str, ...], expected: str) -> None:
    before = snapshot(results)
    done = _console("run", *args, "--results", str(results), "-q")
    assert done.returncode == 2
    assert done.stderr.startswith(expected) and done.stderr.count("\n") == 1, done.stderr
    assert done.stdout == ""
    assert snapshot(results) == before


def test_fresh_results_directory_gets_no_rows(tmp_path: Path) -> None:
    """Bad data found while loading leaves a new results directory without any row."""
    results = tmp_path / "fresh"
    out = CliRunner().invoke(cli, ["run", "-d", f"file[path={tmp_path / 'nope.csv'}]", *SELECT, "--results", str(results), "-q"])
    assert out.exit_code == 2
    assert helpers.raw_rows(results) == []
