"""``corpus``: pre-generated synthetic texts from a file, and ``toxigen``, its preset over ToxiGen.

    bench run -g "corpus[path=generated.jsonl,text_column=text]" -c logreg
    bench run -g "corpus[path=toxigen.csv,where=toxicity_human>=4]" -c logreg
    bench run -g toxigen -c logreg

Any pipeline that writes its texts to a file (distilabel, DataDreamer, a served model, your own) can
enter the benchmark this way: CSV, TSV, JSONL or Parquet, plain or gzipped (read by the ``file``
dataset's reader). ``where`` keeps rows whose column compares to a value (``toxicity_human>=4``;
several conditions joined by ``&``). Every kept row goes through the ``llm`` generator's cleaning once
when the file is read (:mod:`._cleaning`: empty, refusals, explanations, too short, duplicates and
near duplicates inside the file); what is dropped there is counted in the row's resources. Each
request then draws rows in a seeded order without replacement (a text accepted by an earlier chunk is
never drawn again), drops texts that match a real row or nearly duplicate a real training positive or
another accepted text, and the runner's guard drops near-duplicates of validation and test rows as for
every generator. A corpus that runs out is an error that says how many texts it had, never a hang.

Identity: the file's SHA-256 (``fingerprint``), so an edited file is a different generator.
``toxigen`` reads ``toxigen-annotated/annotated_train.csv`` under the data directory
(``SPARSEBENCH_DATA``), verified by its checksum, and keeps the 2,307 texts people rated toxic.
"""

from __future__ import annotations

import errno
import functools
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sparsebench import (
    DataContext,
    DataError,
    GeneratedBatch,
    GenerationRequest,
    Generator,
    Param,
    Register,
    Unavailable,
    UsageError,
    data_dir,
    dedup_key,
    hookimpl,
    sha256_file,
)

from ..datasets import _filereader as reader
from ._cleaning import KNOWN, Cleaner

FORMATS = ("auto", "csv", "tsv", "jsonl", "parquet")
CLEANING = ("strict", "relaxed")
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_CONDITION = re.compile(r"^\s*([^<>=!&]+?)\s*(>=|<=|==|!=|=|>|<)\s*(.*?)\s*$")
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "=": operator.eq, "!=": operator.ne,
}

TOXIGEN_FILE = "toxigen-annotated/annotated_train.csv"
TOXIGEN_SHA256 = "b37fd3d00c6f265bddb1e4c6f7e5d9d9f5c51702a90e46c6cffde734c7ae5efc"
TOXIGEN_SOURCE = "ToxiGen annotated training split (Hartvigsen et al., ACL 2022; MIT): GPT-3 statements rated by people"


@dataclass(frozen=True)
class Condition:
    """``column OP value``: numbers compare as numbers, anything else as text."""

    column: str
    op: str
    value: str

    def holds(self, row: dict[str, Any]) -> bool:
        cell = row.get(self.column)
        if cell is None:
            return False
        left, right = _number(cell), _number(self.value)
        if left is not None and right is not None:
            return _OPERATORS[self.op](left, right)
        if self.op in ("==", "=", "!="):
            return _OPERATORS[self.op](str(cell).strip(), self.value)
        return False

    def __str__(self) -> str:
        return f"{self.column}{self.op}{self.value}"


def parse_where(text: str) -> tuple[Condition, ...]:
    """``a>=4&b=topk`` as conditions; a malformed one is a usage error."""
    conditions = []
    for part in (p for p in text.split("&") if p.strip()):
        match = _CONDITION.match(part)
        if not match:
            raise UsageError(f"where={text!r}: {part.strip()!r} is not COLUMN OP VALUE (OP one of >=, <=, >, <, =, !=), as in toxicity_human>=4")
        conditions.append(Condition(*match.groups()))
    return tuple(conditions)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


@dataclass
class Pool:
    """The usable texts of a corpus file, in file order, and what reading and cleaning it dropped."""

    texts: tuple[str, ...]
    rows: int
    matching: int
    dropped: dict[str, int] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"rows": self.rows, "matching": self.matching, "usable": len(self.texts), "dropped_when_read": dict(self.dropped)}


class CorpusGenerator(Generator):
    name: ClassVar[str] = "corpus"
    description: ClassVar[str] = "pre-generated synthetic texts from a file (CSV, TSV, JSONL, Parquet, .gz), sampled without replacement"
    chunk_size: ClassVar[int] = 64
    needs_parameters: ClassVar[bool] = True  # a file to read: not part of "*"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("path", "str", "", "the file of generated texts (required)"),
        Param("text_column", "str", "text", "column holding the text"),
        Param("where", "str", "", "keep rows where COLUMN OP VALUE holds, e.g. toxicity_human>=4; several joined by '&'"),
        Param("format", "str", "auto", "file format; auto picks it from the extension", choices=FORMATS),
        Param("cleaning", "str", "strict", "strict: the llm generator's checks; relaxed: duplicate checks only", choices=CLEANING),
        Param("min_words", "int", 3, "shortest accepted text in words", low=1),
        Param("near_duplicate", "float", 0.6, "word-bigram Jaccard similarity that counts as a near duplicate", low=0.05, high=1.0),
    )

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self._taken: set[str] = set()  # accepted by earlier requests of this instance: skipped, not counted
        self._pool: Pool | None = None

    # --- the file -------------------------------------------------------------------------------

    def corpus_path(self) -> Path:
        raw = self.config["path"]
        if not raw:
            raise Unavailable(f"{self.name}: say which file to read, as in corpus[path=generated.jsonl,text_column=text]")
        return _existing(Path(raw).expanduser())

    def fingerprint(self, ctx: DataContext) -> Any:
        """The file's SHA-256: an edited file is a different generator."""
        return {"sha256": sha256_file(self.corpus_path())}

    def check_available(self) -> None:
        parse_where(self.config["where"])
        self.pool()

    def pool(self) -> Pool:
        if self._pool is None:
            path = self.corpus_path()
            stat = path.stat()
            key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
            self._pool = _read_pool(key, self.config["text_column"], self.config["where"], self._format(path),
                                    self.config["cleaning"], self.config["min_words"], self.config["near_duplicate"])
        return self._pool

    def _format(self, path: Path) -> str:
        if self.config["format"] != "auto":
            return str(self.config["format"])
        name = Path(path.stem) if path.suffix.lower() == ".gz" else path
        suffix = name.suffix.lower()
        if suffix not in _SUFFIXES:
            raise UsageError(f"{path}: cannot tell the format from {suffix or 'no extension'!r}; pass {self.name}[format=csv|tsv|jsonl|parquet]")
        return _SUFFIXES[suffix]

    def resources(self) -> dict[str, Any]:
        info: dict[str, Any] = {"where": self.config["where"]}
        if self._pool is not None:
            info["corpus"] = self._pool.describe()
        return info

    # --- drawing --------------------------------------------------------------------------------

    def generate(self, request: GenerationRequest) -> Iterator[GeneratedBatch]:
        pool = self.pool()
        cleaner = Cleaner(is_known=request.is_known, min_words=self.config["min_words"], near_threshold=self.config["near_duplicate"],
                          strict=self.config["cleaning"] == "strict", reference=request.positives)
        accepted: list[str] = []
        rejected: Counter[str] = Counter()
        kept: list[tuple[str, str]] = []
        raw = 0
        for index in np.random.default_rng([request.seed, 0xC0C0]).permutation(len(pool.texts)):
            if len(accepted) >= request.n:
                break
            text = pool.texts[index]
            if dedup_key(text) in self._taken:
                continue
            raw += 1
            report = cleaner.clean([(text, True, "")])
            rejected.update(report.rejected)
            kept += report.rejected_texts
            accepted += report.accepted
        self._taken.update(dedup_key(t) for t in accepted)
        yield GeneratedBatch(texts=accepted, raw=raw, rejected=dict(rejected), rejected_texts=kept)
        if len(accepted) < request.n:
            raise DataError(self._exhausted(pool, request.n - len(accepted), rejected))

    def _exhausted(self, pool: Pool, missing: int, rejected: Counter[str]) -> str:
        where = f" where {self.config['where']}" if self.config["where"] else ""
        known = f", {rejected[KNOWN]} match real rows" if rejected.get(KNOWN) else ""
        return (f"{self.name} ran out of texts: {pool.matching} rows of {pool.rows}{where}, {len(pool.texts)} usable after cleaning"
                f"{known}, {len(self._taken)} drawn; {missing} more were needed (use a lower level or a larger corpus)")


def _existing(path: Path) -> Path:
    try:
        path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
            raise DataError(f"{path}: a symbolic link loop; point it at the real file") from None
        raise DataError(f"{path}: no such file") from None
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    return path


@functools.lru_cache(maxsize=8)
def _read_pool(key: tuple[str, int, int], column: str, where: str, fmt: str, cleaning: str, min_words: int, near: float) -> Pool:
    """The usable texts of a file (memoised per file version and settings: a run draws from one file many times)."""
    path = Path(key[0])
    conditions = parse_where(where)
    cleaner = Cleaner(min_words=min_words, near_threshold=near, strict=cleaning == "strict")
    texts: list[str] = []
    dropped: Counter[str] = Counter()
    rows = matching = 0
    for line, row in _rows(path, fmt):
        rows += 1
        if column not in row:
            raise DataError(f"{path} line {line}: no column {column!r} (columns: {', '.join(map(str, row))}); pass text_column=NAME")
        if not all(c.holds(row) for c in conditions):
            continue
        matching += 1
        report = cleaner.clean([(" ".join(str(row[column] or "").split()), True, "")])
        dropped.update(report.rejected)
        texts += report.accepted
    if conditions and rows and not matching:
        raise DataError(f"{path}: no row of {rows} has {where}")
    if not texts:
        raise DataError(f"{path}: no usable text in column {column!r} ({rows} rows)")
    return Pool(tuple(texts), rows, matching, dict(dropped))


def _rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as handle:
        head = handle.read(64)
    compressed = path.suffix.lower() == ".gz"
    problem = reader.content_problem(path, head, fmt, compressed or head.startswith(reader.GZIP))
    if problem:
        raise DataError(f"{path}: {problem}")
    if fmt == "parquet":
        yield from reader.parquet_rows(path, lambda n: None)
        return
    with reader.open_binary(path) as raw:
        lines = reader.text_lines(path, raw, lambda n: None)
        if fmt == "jsonl":
            yield from reader.jsonl_rows(path, lines)
        else:
            yield from reader.delimited_rows(path, lines, "\t" if fmt == "tsv" else ",")


class ToxiGen(CorpusGenerator):
    name: ClassVar[str] = "toxigen"
    description: ClassVar[str] = "ToxiGen: GPT-3 statements that people rated toxic (toxicity_human >= 4; 2,307 of 8,960)"
    needs_parameters: ClassVar[bool] = False  # reads the shared data directory: part of "*" and the default suite
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("where", "str", "toxicity_human>=4", "which rated rows to use (columns of annotated_train.csv)"),
        *(p for p in CorpusGenerator.parameters if p.name in ("cleaning", "min_words", "near_duplicate")),
    )

    def corpus_path(self) -> Path:
        return verified_toxigen(data_dir())

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "path": "", "text_column": "text", "format": "csv"}

    def fingerprint(self, ctx: DataContext) -> Any:
        return {"sha256": TOXIGEN_SHA256}  # the file is verified against it before use

    def resources(self) -> dict[str, Any]:
        return {"source": TOXIGEN_SOURCE, "file": TOXIGEN_FILE, **super().resources()}


def verified_toxigen(data_dir: Path) -> Path:
    """``annotated_train.csv`` under ``data_dir``, checked against its SHA-256."""
    path = data_dir / TOXIGEN_FILE
    if not path.is_file():
        raise DataError(f"missing {TOXIGEN_FILE} under {data_dir}: point SPARSEBENCH_DATA at a directory holding it (for example ../shared/data)")
    stat = path.stat()
    if _digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns) != TOXIGEN_SHA256:
        raise DataError(f"{path}: checksum mismatch (expected sha256 {TOXIGEN_SHA256[:16]}…); the file is corrupt or a different version")
    return path


@functools.lru_cache(maxsize=4)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))


@hookimpl
def register_generators(register: Register) -> None:
    register(CorpusGenerator)
    register(ToxiGen)
