"""``file``: the user's own labelled texts from a CSV, TSV, JSONL or Parquet file (CSV/TSV/JSONL may be gzipped).

    bench run -d "file[path=comments.csv,text_column=body,label_column=toxic,positive=yes]" -g oversample -c logreg
    bench run -d "file[path=ghc.tsv.gz,text_column=text,label_column=hd|cv]" -g oversample -c logreg

Labels must be binary: 0/1 or true/false, or name the positive value(s) with ``positive=a|b`` (all
other values become 0). ``label_column=hd|cv`` makes a row toxic when any of the columns is
(``hd&cv``: when all are). One text given different labels is an error unless ``conflicts=drop``
(drop every row of such a text) or ``conflicts=majority`` (keep the majority label; ties are dropped).

The file is streamed: memory grows with the texts kept, not with the file, and a progress bar shows
the bytes read. Problems are reported with the file and line: a file that cannot be read or decoded,
what the file really holds (gzip data under a plain name, an Excel workbook, a JSON array), a symbolic
link loop, a column named twice, missing columns, empty texts or labels, over-long texts, labels that
are not binary (with the ``positive=`` to pass), a single class, conflicting labels, and a header that
another delimiter would split (``delimiter=;``, or ``format=tsv`` for tabs). UTF-8 (with or without a
BOM) and UTF-16 are read (without a BOM it is recognised by its zero bytes, and the run says so); CRLF
and CR-only line ends and quoted newlines are fine.
"""

from __future__ import annotations

import errno
import math
import re
from array import array
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sparsebench import DataContext, DataError, Dataset, LabelledTexts, Param, Register, current_reporter, dedup_key, format_spec, hookimpl, phase, sha256_file

from . import _filereader as reader

#: the version of how this loader turns a file into labelled texts; part of every cell's identity
RECIPE_VERSION = 3
_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "f"}
FORMATS = ("auto", "csv", "tsv", "jsonl", "parquet")
CONFLICTS = ("error", "drop", "majority")
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}


class FileDataset(Dataset):
    name: ClassVar[str] = "file"
    description: ClassVar[str] = "your own labelled texts from a CSV, TSV, JSONL or Parquet file (.gz too)"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("path", "str", "", "the file to read (required)"),
        Param("text_column", "str", "text", "column holding the text"),
        Param("label_column", "str", "label", "column holding the label; a|b: toxic when any is, a&b: when all are"),
        Param("positive", "str", "", "label value(s) that mean toxic, separated by '|' (default: 1/true)"),
        Param("format", "str", "auto", "file format; auto picks it from the extension", choices=FORMATS),
        Param("delimiter", "str", "", "field separator of a CSV or TSV file: one character, or tab (default: ',' for csv, tab for tsv)"),
        Param("max_chars", "int", 100_000, "longest text accepted; longer rows are an error", low=1),
        Param("skip_bad_rows", "bool", False, "drop rows with empty texts or labels instead of stopping"),
        Param("conflicts", "str", "error", "one text with different labels: error, drop its rows, or keep the majority label",
              choices=CONFLICTS),
    )

    def fingerprint(self, ctx: DataContext) -> Any:
        """The file's SHA-256 and this loader's recipe version: a different or edited file is a different dataset."""
        path = self._path()
        return {"sha256": file_digest(path), "recipe": RECIPE_VERSION}

    def load(self, ctx: DataContext) -> LabelledTexts:
        path = self._path()
        columns = _Columns(path, self.config)
        with phase(f"reading {path.name}", total=path.stat().st_size) as advance:
            for line, row in self._rows(path, advance):
                columns.add(line, row)
        if not columns.lines:
            if columns.rows == 0:
                raise DataError(f"{path}: the file is empty" if reader.is_blank(path) else f"{path}: the file has no data rows")
            raise DataError(f"{path}: no usable rows (every row had an empty text or label)")
        labels = columns.labels()
        texts, labels = self._resolve_duplicates(path, columns, labels)
        if len(set(labels.tolist())) < 2:
            only = "toxic (1)" if labels[0] == 1 else "non-toxic (0)"
            raise DataError(f"{path}: every row is {only}; the benchmark needs both toxic and non-toxic rows")
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
        try:
            path.resolve(strict=True)
        except RuntimeError:
            raise DataError(f"{path}: a symbolic link loop (the link points back to itself); point it at the real file") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise DataError(f"{path}: a symbolic link loop (the link points back to itself); point it at the real file") from None
            dangling = path.is_symlink()
            raise DataError(f"{path}: a symbolic link to a file that does not exist" if dangling else f"{path}: no such file") from None
        if not path.is_file():
            raise DataError(f"{path}: not a file")
        return path

    def _format(self, path: Path) -> tuple[str, bool]:
        """The format, and whether the name says gzip (``data.csv.gz``)."""
        compressed = path.suffix.lower() == ".gz"
        fmt = self.config["format"]
        if fmt != "auto":
            return str(fmt), compressed
        suffix = Path(path.stem).suffix.lower() if compressed else path.suffix.lower()
        if suffix not in _SUFFIXES:
            raise DataError(f"{path}: cannot tell the format from {suffix or 'no extension'!r}; pass file[format=csv|tsv|jsonl|parquet]")
        return _SUFFIXES[suffix], compressed

    def _rows(self, path: Path, advance: reader.Advance) -> Iterator[tuple[int, dict[str, Any]]]:
        fmt, compressed = self._format(path)
        if self.config["delimiter"] and fmt not in ("csv", "tsv"):
            raise DataError(f"{path}: file[delimiter=...] applies to CSV and TSV files, not {fmt}")
        head = _head(path)
        problem = reader.content_problem(path, head, fmt, compressed)
        if problem and not (fmt == "parquet" and not head.startswith(reader.GZIP)):
            raise DataError(f"{path}: {problem}")
        if fmt == "parquet":
            yield from reader.parquet_rows(path, advance)
            return
        with reader.open_binary(path) as raw:
            if compressed or head.startswith(reader.GZIP):
                advance = _scaled(advance, path)
            lines = reader.text_lines(path, raw, advance)
            if fmt == "jsonl":
                yield from reader.jsonl_rows(path, lines)
            else:
                yield from reader.delimited_rows(path, lines, self._delimiter(fmt))

    def _delimiter(self, fmt: str) -> str:
        given = str(self.config["delimiter"])
        if not given:
            return "\t" if fmt == "tsv" else ","
        if given.lower() in ("tab", "\\t", "\t"):
            return "\t"
        if len(given) != 1 or given in "\"\r\n" or given.isalnum():
            raise DataError(f"file[delimiter={given}]: give one character other than a letter, digit, quote or line end, or tab")
        return given

    def _resolve_duplicates(self, path: Path, columns: _Columns, labels: np.ndarray) -> tuple[list[str], np.ndarray]:
        policy = self.config["conflicts"]
        if policy == "error" and self.config["skip_bad_rows"]:
            policy = "drop"  # skip_bad_rows has always dropped conflicting texts
        groups = columns.repeats()
        drop: list[int] = []
        flips: dict[int, int] = {}
        plain: list[list[int]] = []
        conflicted = 0
        for indices in groups:
            values = Counter(int(labels[i]) for i in indices)
            if len(values) == 1:
                plain.append(indices)
                continue
            conflicted += 1
            if policy == "error":
                first = next(i for i in indices if labels[i] != labels[indices[0]])
                raise DataError(
                    f"{path} line {columns.lines[first]}: the same text as line {columns.lines[indices[0]]} with the other label; "
                    "fix one of them, or pass file[skip_bad_rows=true] or file[conflicts=drop] to drop texts with conflicting "
                    "labels, or file[conflicts=majority] to keep each one's majority label"
                )
            (top, n_top), (_, n_next) = values.most_common(2)
            if policy == "drop" or n_top == n_next:
                drop += indices
            else:
                flips.update({i: top for i in indices})
        _note_duplicates(path, columns, plain, conflicted, len(drop), policy)
        for i, value in flips.items():
            labels[i] = value
        if not drop:
            return columns.texts, labels
        keep = np.ones(len(labels), dtype=bool)
        keep[drop] = False
        return [t for t, k in zip(columns.texts, keep, strict=True) if k], labels[keep]


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(64)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def _scaled(advance: reader.Advance, path: Path) -> reader.Advance:
    """Progress in compressed bytes for a gzip file: decompressed bytes scaled by a guessed ratio of 4."""
    def scaled(amount: int) -> None:
        advance(max(amount // 4, 0))

    return scaled


def _note_duplicates(path: Path, columns: _Columns, plain: list[list[int]], conflicted: int, dropped: int, policy: str) -> None:
    """Say what happened to repeated texts: conflicting ones by the policy, the others counted once."""
    if conflicted:
        what = f"dropped their {dropped} rows" if policy == "drop" else f"kept the majority label ({dropped} rows of tied texts dropped)"
        current_reporter().note(f"{path}: {conflicted} texts had conflicting labels; {what} (conflicts={policy})")
    repeated = sum(len(g) - 1 for g in plain)
    if repeated:
        line, original = columns.lines[plain[0][1]], columns.lines[plain[0][0]]
        current_reporter().note(f"{path}: {repeated} repeated texts are counted once (first: line {line} repeats line {original})")


class _Columns:
    """The text and label of each row, kept compactly while the file streams past."""

    def __init__(self, path: Path, config: dict[str, Any]) -> None:
        self.path, self.config = path, config
        self.text_column = str(config["text_column"])
        self.label_columns, self.any_of = _label_columns(str(config["label_column"]))
        self.texts: list[str] = []
        self.lines = array("q")
        self.codes = array("i")
        self.values: dict[tuple[str, ...], int] = {}
        self.hashes = array("q")  # hash of each kept row's dedup key: 8 bytes a row, not a dict entry
        self.rows = 0

    def add(self, line: int, row: dict[str, Any]) -> None:
        if self.rows == 0:
            self._check_columns(row)
        self.rows += 1
        text = row.get(self.text_column)
        raw = [row.get(c) for c in self.label_columns]
        problem = _row_problem(text, raw, self.config["max_chars"])
        if problem:
            if self.config["skip_bad_rows"]:
                return
            raise DataError(f"{self.path} line {line}: {problem}; fix the row or pass file[skip_bad_rows=true] to drop such rows")
        value = tuple(_norm_label(v) for v in raw)
        index = len(self.texts)
        self.texts.append(str(text))
        self.lines.append(line)
        self.codes.append(self.values.setdefault(value, len(self.values)))
        self._track(index, str(text))

    def _track(self, index: int, text: str) -> None:
        self.hashes.append(hash(dedup_key(text)))

    def repeats(self) -> list[list[int]]:
        """Groups of rows sharing a text (by dedup key), in the order their first repeat appeared."""
        hashes = np.frombuffer(self.hashes, dtype=np.int64)
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        ends = np.r_[starts[1:], len(ordered)]
        groups: list[list[int]] = []
        for start, end in zip(starts, ends, strict=True):
            if end - start > 1:
                groups += _by_key(self.texts, [int(i) for i in order[start:end]])
        return sorted((g for g in groups if len(g) > 1), key=lambda g: g[1])

    def _check_columns(self, row: dict[str, Any]) -> None:
        wanted = [(self.text_column, "text_column")] + [(c, "label_column") for c in self.label_columns]
        for column, option in wanted:
            if column not in row:
                found = ", ".join(map(repr, list(row)[:8])) or "none"
                raise DataError(f"{self.path}: no column {column!r} (columns: {found}); pass file[{option}=NAME]")

    def labels(self) -> np.ndarray:
        """0/1 for every kept row; a value that is not binary is an error naming the ``positive=`` to pass."""
        positive = {v.strip().lower() for v in self.config["positive"].split("|") if v.strip()}
        counts = self._counts()
        if positive and not positive & set(counts):
            raise DataError(f"{self.path}: no label equals {self.config['positive']!r} (labels found: {_found(counts)}); fix file[positive=...]")
        table = np.zeros(len(self.values), dtype=np.int8)
        for value, code in self.values.items():
            bits = [_binary(v, positive) for v in value]
            if None in bits:
                self._not_binary(code, value[bits.index(None)], counts)
            table[code] = any(bits) if self.any_of else all(bits)
        return table[np.frombuffer(self.codes, dtype=np.int32)] if len(self.codes) else np.zeros(0, dtype=np.int8)

    def _counts(self) -> Counter[str]:
        per_code = np.bincount(np.frombuffer(self.codes, dtype=np.int32), minlength=len(self.values))
        counts: Counter[str] = Counter()
        for value, code in self.values.items():
            for v in value:
                counts[v] += int(per_code[code])
        return counts

    def _not_binary(self, code: int, value: str, counts: Counter[str]) -> None:
        index = int(np.argmax(np.frombuffer(self.codes, dtype=np.int32) == code))
        truthy = sorted(v for v in counts if v in _TRUE)
        hint = format_spec("file", {"positive": "|".join(truthy or _guess_positive(counts))})
        ask = (
            f"fix that row (labels are 0/1 or true/false), or say which value(s) mean toxic, as in {hint} (every other value is then non-toxic)"
            if truthy else f"say which value(s) mean toxic, as in {hint}"
        )
        raise DataError(f"{self.path} line {self.lines[index]}: label {value!r} is not binary (labels found: {_found(counts)}); {ask}")


def _by_key(texts: list[str], indices: list[int]) -> list[list[int]]:
    """Rows whose hashes matched, split by their actual dedup keys (a hash collision is not a repeat)."""
    found: dict[str, list[int]] = {}
    for i in indices:
        found.setdefault(dedup_key(texts[i]), []).append(i)
    return list(found.values())


def _label_columns(spec: str) -> tuple[list[str], bool]:
    """``a|b`` (toxic when any column is) or ``a&b`` (when all are); one kind of operator per expression."""
    if "|" in spec and "&" in spec:
        raise DataError(f"label_column={spec!r}: use either '|' (any of the columns) or '&' (all of them), not both")
    any_of = "&" not in spec
    names = [c.strip() for c in re.split(r"[|&]", spec)]
    if not all(names):
        raise DataError(f"label_column={spec!r}: a column name is empty; write e.g. label_column=hd|cv")
    return names, any_of


def _binary(value: str, positive: set[str]) -> int | None:
    if positive:
        return 1 if value in positive else 0
    if value in _TRUE:
        return 1
    return 0 if value in _FALSE else None


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


def _row_problem(text: Any, labels: list[Any], max_chars: int) -> str:
    if isinstance(text, (dict, list)) or any(isinstance(label, (dict, list)) for label in labels):
        return "the text and the label must be plain values, not JSON objects or lists"
    if text is None or (isinstance(text, float) and math.isnan(text)) or not str(text).strip() or str(text).strip().lower() == "nan":
        return "empty or missing text"
    if any(label is None or (isinstance(label, float) and math.isnan(label)) or not str(label).strip() for label in labels):
        return "empty or missing label"
    if len(str(text)) > max_chars:
        return f"text of {len(str(text)):,} characters is longer than max_chars={max_chars:,} (raise it with file[max_chars=N])"
    return ""


@hookimpl
def register_datasets(register: Register) -> None:
    register(FileDataset)
