"""Streaming rows out of the user's file: CSV, TSV and JSON lines (plain or gzip), and Parquet.

Rows are read one at a time with the line each starts on, so memory stays bounded by what the caller
keeps, and the bytes read so far drive a progress bar. The content is checked for what it really is:
gzip data, an Excel workbook (a zip), a JSON array, UTF-16 with a byte-order mark, and bytes that are
not UTF-8 are each named with the fix.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

from sparsebench import DataError, current_reporter

GZIP = b"\x1f\x8b"
ZIP = b"PK\x03\x04"
Advance = Callable[[int], None]


def content_problem(path: Path, head: bytes, fmt: str, compressed: bool) -> str:
    """What is wrong with a file whose first bytes are ``head``, or ''."""
    if head.startswith(ZIP):
        return "is a zip archive (an Excel .xlsx workbook?), not text; export it as CSV (File > Save As > CSV UTF-8)"
    if head.startswith(GZIP) and not compressed:
        return f"holds gzip-compressed data; name it {path.name}.gz or pass file[format=...] with a .gz file"
    if fmt == "jsonl" and head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        return "holds a JSON array, not JSON lines (one object per line); convert it, e.g. jq -c '.[]' FILE > FILE.jsonl"
    return ""


@contextmanager
def open_binary(path: Path) -> Iterator[IO[bytes]]:
    """The file's bytes, decompressed when it is gzip (by its content, whatever its name)."""
    try:
        handle: IO[bytes] = path.open("rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    try:
        if handle.read(2) == GZIP:
            handle.seek(0)
            with gzip.GzipFile(fileobj=handle) as unzipped:
                yield cast(IO[bytes], unzipped)
        else:
            handle.seek(0)
            yield handle
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: the gzip-compressed data is damaged ({exc}); the file is corrupt or cut short: make or fetch it again") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    finally:
        handle.close()


def text_lines(path: Path, raw: IO[bytes], advance: Advance) -> Iterator[str]:
    """Decoded lines (line ends kept): UTF-8 with or without a BOM, UTF-16 with a BOM or without one
    (recognised by its zero bytes), and CR-only line ends; what was assumed without a mark is noted."""
    note = current_reporter().note
    head = raw.read(_HEAD)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        yield from _utf16_lines(path, head + raw.read(), advance, "utf-16")
        return
    guessed = utf16_without_bom(head)
    if guessed:
        note(f"{path}: no byte-order mark, but every other byte is zero: read as {guessed.upper()} (re-save it as UTF-8 to silence this)")
        yield from _utf16_lines(path, head + raw.read(), advance, guessed)
        return
    head = head[3:] if head.startswith(codecs.BOM_UTF8) else head
    cr_only = b"\r" in head and b"\n" not in head
    if cr_only:
        note(f"{path}: lines end in a carriage return alone (old Mac line ends): read each CR as a line end")
    for number, line in enumerate(_cr_lines(head, raw) if cr_only else _lf_lines(head, raw), start=1):
        advance(len(line))
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path} line {number}: not valid UTF-8 (byte 0x{line[exc.start]:02x}); re-save the file as UTF-8") from None


_HEAD = 1 << 16


def utf16_without_bom(head: bytes) -> str:
    """``utf-16-le`` or ``utf-16-be`` when ``head`` is text with a zero byte beside every character, else ''."""
    sample = head[: len(head) // 2 * 2][:4096]
    if len(sample) < 4:
        return ""
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.1 * len(odd):
        return "utf-16-be"
    return ""


def _lf_lines(head: bytes, raw: IO[bytes]) -> Iterator[bytes]:
    """Lines ending in LF (CRLF included): the first block's, then the rest of the stream's."""
    for line in io.BytesIO(head):
        yield line if line.endswith(b"\n") else line + raw.readline()
    yield from iter(raw.readline, b"")


def _cr_lines(head: bytes, raw: IO[bytes]) -> Iterator[bytes]:
    """Lines ending in CR, read in blocks (a file with no LF is one line to ``readline``)."""
    rest = b""
    for block in _blocks(head, raw):
        parts = (rest + block).split(b"\r")
        rest = parts.pop()
        yield from (part + b"\r" for part in parts)
    if rest:
        yield rest


def _blocks(head: bytes, raw: IO[bytes]) -> Iterator[bytes]:
    yield head
    yield from iter(lambda: raw.read(_HEAD), b"")


def _utf16_lines(path: Path, data: bytes, advance: Advance, encoding: str) -> Iterator[str]:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        mark = "starts with a UTF-16 byte-order mark" if encoding == "utf-16" else f"looks like {encoding.upper()}"
        raise DataError(f"{path}: {mark} but is not valid UTF-16; re-save the file as UTF-8") from None
    advance(len(data))
    yield from io.StringIO(text, newline="")


def delimited_rows(path: Path, lines: Iterator[str], delimiter: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows with the line each starts on; a duplicated column name is refused."""
    csv.field_size_limit(2**31 - 1)  # over-long texts are left to the max_chars check, which can skip them
    reader = csv.reader(lines, delimiter=delimiter)
    start = 1
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise DataError(f"{path}: the file is empty" if is_blank(path) else f"{path}: no header row (the first line must name the columns)")
        _check_header(path, header)
        _check_delimiter(path, header, delimiter)
        start = reader.line_num + 1
        for fields in reader:  # a blank line is an empty row, so each row starts right after the last
            if fields:
                yield start, _record(path, header, fields, start, reader.line_num)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{path} line {start}: {exc}") from None


_NAMES = {",": "a comma", ";": "a semicolon", "\t": "a tab", "|": "a vertical bar"}


def _check_delimiter(path: Path, header: list[str], delimiter: str) -> None:
    """A header read as one column that another delimiter would split: say which, and how to pass it."""
    if len(header) != 1:
        return
    for other, name in _NAMES.items():
        if other != delimiter and len([h for h in header[0].split(other) if h.strip()]) >= 2:
            fix = "file[format=tsv] (or file[delimiter=tab])" if other == "\t" else f"file[delimiter={other}]"
            if other == ",":
                fix = "file[format=csv] (or file[delimiter=\",\"])"
            raise DataError(
                f"{path}: the header {header[0]!r} is one column when split by {_NAMES.get(delimiter, repr(delimiter))}, "
                f"but the fields look separated by {name}; pass {fix}"
            )


def _check_header(path: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for index, name in enumerate(header, start=1):
        if name in seen:
            raise DataError(f"{path}: column {name!r} appears twice in the header (columns {seen[name]} and {index}); rename one")
        seen[name] = index


def _record(path: Path, header: list[str], fields: list[str], start: int, end: int) -> dict[str, Any]:
    if len(fields) > len(header):
        raise DataError(f"{path} line {start}: {len(fields)} fields but the header has {len(header)} columns (quote texts with delimiters)")
    if len(fields) < len(header) and end > start:
        raise DataError(f"{path} line {start}: a quoted field opened here runs to line {end} and the row lacks columns; is a quote open?")
    return {name: fields[i] if i < len(fields) else None for i, name in enumerate(header)}


def jsonl_rows(path: Path, lines: Iterator[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
        except _DuplicateKey as exc:
            raise DataError(f"{path} line {number}: key {exc.args[0]!r} appears twice in one object; rename one") from None
        if not isinstance(row, dict):
            raise DataError(f"{path} line {number}: each line must be a JSON object")
        yield number, row


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def parquet_rows(path: Path, advance: Advance) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows in record batches, never the whole table at once."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("reading Parquet needs pyarrow: pip install 'sparsebench[parquet]'") from None
    try:
        reader = pq.ParquetFile(path)
        names = reader.schema_arrow.names
        if len(set(names)) < len(names):
            twice = next(n for n in names if names.count(n) > 1)
            raise DataError(f"{path}: column {twice!r} appears twice; rename one")
        line = 1
        for batch in reader.iter_batches(batch_size=65536):
            advance(batch.nbytes)
            for row in batch.to_pylist():
                yield line, row
                line += 1
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise DataError(f"{path}: cannot read as Parquet ({type(exc).__name__})") from None


def is_blank(path: Path) -> bool:
    """Whether the (decompressed) file holds nothing but whitespace."""
    with open_binary(path) as raw:
        for block in iter(lambda: raw.read(1 << 20), b""):
            if block.strip(b" \t\r\n\x0b\x0c\xef\xbb\xbf"):
                return False
    return True
