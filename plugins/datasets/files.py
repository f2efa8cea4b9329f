"""``file``: the user's own labelled texts from a CSV, TSV, JSONL or Parquet file.

    bench run -d "file[path=comments.csv,text_column=body,label_column=toxic,positive=yes]" -g oversample -c logreg

Labels must be binary: 0/1 or true/false, or name the positive value(s) with ``positive=a|b`` (all
other values become 0). Problems are reported with the file and line: a file that cannot be read or
decoded, missing columns, empty texts or labels, over-long texts, labels that are not binary (with the
``positive=`` to pass), a single class, and one text given two different labels. UTF-8 (with or
without a BOM) and UTF-16 with a BOM are read; CRLF line ends and quoted newlines are fine.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sparsebench import DataContext, DataError, Dataset, LabelledTexts, Param, Register, current_reporter, dedup_key, format_spec, hookimpl, sha256_file

#: the version of how this loader turns a file into labelled texts; part of every cell's identity
RECIPE_VERSION = 2
_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "f"}
FORMATS = ("auto", "csv", "tsv", "jsonl", "parquet")


class FileDataset(Dataset):
    name: ClassVar[str] = "file"
    description: ClassVar[str] = "your own labelled texts from a CSV, TSV, JSONL or Parquet file"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("path", "str", "", "the file to read (required)"),
        Param("text_column", "str", "text", "column holding the text"),
        Param("label_column", "str", "label", "column holding the label"),
        Param("positive", "str", "", "label value(s) that mean toxic, separated by '|' (default: 1/true)"),
        Param("format", "str", "auto", "file format; auto picks it from the extension", choices=FORMATS),
        Param("max_chars", "int", 100_000, "longest text accepted; longer rows are an error", low=1),
        Param("skip_bad_rows", "bool", False, "drop rows with empty texts or labels instead of stopping"),
    )

    def fingerprint(self, ctx: DataContext) -> Any:
        """The file's SHA-256 and this loader's recipe version: a different or edited file is a different dataset."""
        path = self._path()
        return {"sha256": file_digest(path), "recipe": RECIPE_VERSION}

    def load(self, ctx: DataContext) -> LabelledTexts:
        path = self._path()
        rows = list(self._rows(path))
        if not rows:
            raise DataError(f"{path}: the file has no data rows")
        texts, raw_labels, lines = self._columns(path, rows)
        labels = self._labels(path, raw_labels, lines)
        if len(set(labels.tolist())) < 2:
            only = "toxic (1)" if labels[0] == 1 else "non-toxic (0)"
            raise DataError(f"{path}: every row is {only}; the benchmark needs both toxic and non-toxic rows")
        self._check_duplicates(path, texts, labels, lines)
        return LabelledTexts(
            texts=texts,
            labels=labels,
            sources=[path.name] * len(texts),
            provenance={"file": str(path), "sha256": file_digest(path), "rows": len(texts)},
        )

    def _path(self) -> Path:
        raw = self.config["path"]
        if not raw:
            raise DataError("file dataset: say which file to read, as in file[path=comments.csv]")
        path = Path(raw).expanduser()
        if not path.exists():
            raise DataError(f"{path}: no such file")
        if not path.is_file():
            raise DataError(f"{path}: not a file")
        return path

    def _format(self, path: Path) -> str:
        fmt = self.config["format"]
        if fmt != "auto":
            return str(fmt)
        suffix = path.suffix.lower()
        known = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
        if suffix not in known:
            raise DataError(f"{path}: cannot tell the format from {suffix or 'no extension'!r}; pass file[format=csv|tsv|jsonl|parquet]")
        return known[suffix]

    def _rows(self, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
        fmt = self._format(path)
        if fmt == "parquet":
            yield from _parquet_rows(path)
            return
        text = _decode(path)
        if fmt == "jsonl":
            yield from _jsonl_rows(path, text)
        else:
            yield from _delimited_rows(path, text, "\t" if fmt == "tsv" else ",")

    def _columns(self, path: Path, rows: list[tuple[int, dict[str, Any]]]) -> tuple[list[str], list[Any], list[int]]:
        text_col, label_col = self.config["text_column"], self.config["label_column"]
        first = rows[0][1]
        for column, option in ((text_col, "text_column"), (label_col, "label_column")):
            if not any(column in row for _, row in rows):
                found = ", ".join(map(repr, list(first)[:8])) or "none"
                raise DataError(f"{path}: no column {column!r} (columns: {found}); pass file[{option}=NAME]")
        texts, labels, lines = [], [], []
        for line, row in rows:
            text, label = row.get(text_col), row.get(label_col)
            problem = _row_problem(text, label, self.config["max_chars"])
            if problem:
                if self.config["skip_bad_rows"]:
                    continue
                raise DataError(f"{path} line {line}: {problem}; fix the row or pass file[skip_bad_rows=true] to drop such rows")
            texts.append(str(text))
            labels.append(label)
            lines.append(line)
        if not texts:
            raise DataError(f"{path}: no usable rows (every row had an empty text or label)")
        return texts, labels, lines

    def _labels(self, path: Path, raw: list[Any], lines: list[int]) -> np.ndarray:
        positive = {v.strip().lower() for v in self.config["positive"].split("|") if v.strip()}
        values = [_norm_label(v) for v in raw]
        if positive:
            if not positive & set(values):
                found = _found(Counter(values))
                raise DataError(f"{path}: no label equals {self.config['positive']!r} (labels found: {found}); fix file[positive=...]")
            return np.array([1 if v in positive else 0 for v in values], dtype=np.int8)
        out = np.zeros(len(values), dtype=np.int8)
        for i, value in enumerate(values):
            if value in _TRUE:
                out[i] = 1
            elif value not in _FALSE:
                counts = Counter(values)
                hint = format_spec("file", {"positive": "|".join(_guess_positive(counts))})
                raise DataError(
                    f"{path} line {lines[i]}: label {raw[i]!r} is not binary (labels found: {_found(counts)}); "
                    f"say which value(s) mean toxic, as in {hint}"
                )
        return out

    def _check_duplicates(self, path: Path, texts: list[str], labels: np.ndarray, lines: list[int]) -> None:
        """One text with two labels is an error (unless skipping bad rows); exact repeats count once."""
        first: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []
        for i, text in enumerate(texts):
            j = first.setdefault(dedup_key(text), i)
            if j == i:
                continue
            if labels[j] != labels[i] and not self.config["skip_bad_rows"]:
                raise DataError(
                    f"{path} line {lines[i]}: the same text as line {lines[j]} with the other label; fix one of them, "
                    f"or pass file[skip_bad_rows=true] to drop texts with conflicting labels"
                )
            repeats.append((lines[i], lines[j]))
        if repeats:
            line, original = repeats[0]
            current_reporter().note(f"{path}: {len(repeats)} repeated texts are counted once (first: line {line} repeats line {original})")


_DIGESTS: dict[tuple[str, int, int, int], str] = {}


def file_digest(path: Path) -> str:
    """SHA-256 of ``path``, computed once per process for each (file, size, modification time)."""
    info = path.stat()
    key = (str(path.resolve()), info.st_ino, info.st_size, info.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_file(path)
    return _DIGESTS[key]


def _found(counts: Counter[str], limit: int = 5) -> str:
    shown = ", ".join(f"{value!r} ×{n}" for value, n in counts.most_common(limit))
    return shown + (f" and {len(counts) - limit} more" if len(counts) > limit else "")


_NEGATION = re.compile(r"^(?:non|not|no|un)[\s_\-]*")


def _guess_positive(counts: Counter[str]) -> list[str]:
    """The label value(s) that most likely mean toxic: the one whose negation is also there
    (``toxic`` beside ``non-toxic``), else every value but the most common (toxic rows are rare)."""
    values = sorted(counts)
    for value in values:
        if any(other != value and _NEGATION.sub("", other) == value for other in values):
            return [value]
    common = counts.most_common(1)[0][0]
    return [v for v in values if v != common] or values[:1]


def _norm_label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def _row_problem(text: Any, label: Any, max_chars: int) -> str:
    if isinstance(text, (dict, list)) or isinstance(label, (dict, list)):
        return "the text and the label must be plain values, not JSON objects or lists"
    if text is None or (isinstance(text, float) and math.isnan(text)) or not str(text).strip() or str(text).strip().lower() == "nan":
        return "empty or missing text"
    if label is None or (isinstance(label, float) and math.isnan(label)) or not str(label).strip():
        return "empty or missing label"
    if len(str(text)) > max_chars:
        return f"text of {len(str(text)):,} characters is longer than max_chars={max_chars:,} (raise it with file[max_chars=N])"
    return ""


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if not data.strip():
        raise DataError(f"{path}: the file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode_utf16(path, data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path} line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); re-save the file as UTF-8") from None


def _decode_utf16(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-16")
    except UnicodeDecodeError:
        raise DataError(f"{path}: starts with a UTF-16 byte-order mark but is not valid UTF-16; re-save the file as UTF-8") from None


def _delimited_rows(path: Path, text: str, delimiter: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows with the line each starts on; over-long texts are left to the max_chars check, which can skip them."""
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # the whole file is in memory already
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise DataError(f"{path}: no header row (the first line must name the columns)")
        start = reader.line_num + 1
        for fields in reader:  # a blank line is an empty row, so each row starts right after the last
            if fields:
                yield start, _record(path, header, fields, start, reader.line_num)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{path} line {start}: {exc}") from None


def _record(path: Path, header: list[str], fields: list[str], start: int, end: int) -> dict[str, Any]:
    if len(fields) > len(header):
        raise DataError(f"{path} line {start}: {len(fields)} fields but the header has {len(header)} columns (quote texts with delimiters)")
    if len(fields) < len(header) and end > start:
        raise DataError(f"{path} line {start}: a quoted field opened here runs to line {end} and the row lacks columns; is a quote open?")
    return {name: fields[i] if i < len(fields) else None for i, name in enumerate(header)}


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path} line {number}: each line must be a JSON object")
        yield number, row


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("reading Parquet needs pyarrow: pip install 'sparsebench[parquet]'") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise DataError(f"{path}: cannot read as Parquet ({type(exc).__name__})") from None
    yield from enumerate(table.to_pylist(), start=1)


@hookimpl
def register_datasets(register: Register) -> None:
    register(FileDataset)
