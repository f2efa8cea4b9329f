"""Fuzzing the ``file`` dataset loader: whatever the bytes, it returns clean labelled texts or raises
a ``DataError`` that names the file; never any other exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparsebench.contracts.components import DataContext
from sparsebench.contracts.errors import DataError
from sparsebench.plugins.datasets.files import FileDataset

_PIECES = st.sampled_from(
    ["text", "label", ",", '"', '""', "\n", "\r\n", "\r", "\t", "0", "1", "toxic", "non-toxic", "nan", " ", "x", "é", "\ufeff", "\x00"]
)
CSV_LIKE = st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=40).map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))
HEADED = CSV_LIKE.map(lambda body: b"text,label\n" + body)
RAW = st.binary(max_size=200)
JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 3), st.floats(allow_nan=True), st.text(max_size=6), st.lists(st.integers(), max_size=2)
)
JSONL = st.lists(st.fixed_dictionaries({}, optional={"text": JSON_VALUES, "label": JSON_VALUES}), max_size=8).map(
    lambda rows: "\n".join(json.dumps(r) for r in rows).encode("utf-8")
)
DEFAULTS = {p.name: p.default for p in FileDataset.parameters}
FUZZ = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load(content: bytes, suffix: str, **params: object) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(content)
        try:
            data = FileDataset(**{**DEFAULTS, "path": str(path), **params}).load(DataContext(Path(tmp)))
        except DataError as exc:
            assert str(exc).startswith(str(path)), exc
            return
    assert data.texts and all(isinstance(t, str) and t.strip() for t in data.texts)
    assert len(data.texts) == len(data.labels) and set(data.labels.tolist()) == {0, 1}


@FUZZ
@given(HEADED, st.booleans())
def test_csv_with_a_header(content: bytes, skip_bad_rows: bool) -> None:
    _load(content, ".csv", skip_bad_rows=skip_bad_rows)


@FUZZ
@given(st.one_of(CSV_LIKE, RAW))
def test_any_bytes_as_csv_or_tsv(content: bytes) -> None:
    _load(content, ".csv")
    _load(content, ".tsv")


@FUZZ
@given(st.one_of(JSONL, RAW), st.sampled_from(["", "toxic", "1|true"]))
def test_jsonl(content: bytes, positive: str) -> None:
    _load(content, ".jsonl", positive=positive)
