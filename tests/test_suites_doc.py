"""docs/suites.md documents every key the suite parser accepts, and its example runs (as a dry run)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from sparsebench.cli import cli
from sparsebench.engine import suite

DOC = Path(__file__).resolve().parents[1] / "docs" / "suites.md"


def test_every_suite_key_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))
    keys = (suite._TOP - {"protocol", "run", "params"}) | suite._PROTOCOL | suite._RUN
    assert keys - rows == set(), "docs/suites.md lacks a table row for these keys"
    assert rows - keys == set(), "docs/suites.md documents keys the parser does not accept"
    for section in ("## `[protocol]`", "## `[run]`", "## `[params.<kind>.<name>]`"):
        assert section in text


def test_the_documented_example_is_a_valid_suite(tmp_path: Path) -> None:
    example = re.search(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert example is not None
    path = tmp_path / "my-suite.toml"
    path.write_text(example.group(1), encoding="utf-8")
    parsed = suite.load_suite(str(path))
    assert (parsed.name, parsed.seeds, parsed.protocol.levels, parsed.bootstrap) == ("my-suite", [0, 1, 2], (0.01, 0.03), 200)
    assert parsed.params == {"classifier": {"logreg": {"C": 2.0}}}
    results = tmp_path / "results"
    out = CliRunner().invoke(cli, ["run", "--suite", str(path), "--dry-run", "--results", str(results)])
    assert out.exit_code == 0, out.output
    # 3 seeds x (real-only at the base share + oversample and eda at two levels) x 4 classifiers (bert and t5 excluded)
    assert "60 cells" in out.stdout and "t5" not in out.stdout and "bert" not in out.stdout
    assert not results.exists(), "--dry-run must not create the results store"
