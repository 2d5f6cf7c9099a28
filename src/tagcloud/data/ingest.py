"""Ingestion that loses nothing: source files → validated warehouse Parquet + quarantine + ledger.

``ingest(source_dir, warehouse)`` finds the files of a drop, identifies each file's table, reads it
(Parquet, or delimited text in UTF-8 or GBK), checks every row against the canonical model with
DuckDB SQL, and writes accepted rows to the warehouse partitions and refused rows to the quarantine
with a :class:`~tagcloud.data.quarantine.Reason`. For every file, rows read = accepted + quarantined.

Each file is processed into a staging folder, its outputs are recorded as pending in the ledger,
moved into place by atomic rename, and only then recorded as done; a run killed at any point is
resumed by running it again (unfinished files are reprocessed into the same output names).
See ``docs/ingestion.md``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagcloud.data.codes import code_values
from tagcloud.data.ledger import DirtyReason, FileStatus, Ledger
from tagcloud.data.model import LOAD_ORDER, MONTH_START, TABLES, Column, Table, TableKind
from tagcloud.data.normalise import ColumnRule, rule
from tagcloud.data.quarantine import REASON_ORDER, Reason
from tagcloud.data.readers import ARCHIVES, copy_to, read_bytes, split_compression, zip_members
from tagcloud.data.warehouse import Warehouse, partition_key

if TYPE_CHECKING:
    import duckdb

TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".dat")
PARQUET_SUFFIXES = (".parquet", ".pq")
DELIMITERS = (",", "|", "\t")
ENCODINGS = ("auto", "utf-8", "gbk")
# Files of a simulator export that are never ingested.
SKIPPED_NAMES = frozenset({"manifest.json", "damage_manifest.json"})
SKIPPED_DIRS = frozenset({"ground_truth"})

EARLIEST = "2000-01-01"  # timestamps before this are clock or export errors
BLOCK_BYTES = 32 << 20  # text is decoded in blocks this large (cut at a newline)
SAMPLE_BYTES = 1 << 20  # --encoding auto decides on this much of the file
_BAD_LINE = "\x01"  # marks a line that did not decode; never a legitimate first character
_CUT_LINE = b"\x02"  # marks the partial last line of a stream that ended early
# the codec used for "gbk": GB18030 is its superset (same two-byte characters, plus four-byte ones)
_CODECS = {"gbk": "gb18030"}
COMPRESSION = "snappy"  # warehouse Parquet: cheaper to write and read than zstd, a little larger
FAULT_ENV = "TAGCLOUD_INGEST_FAULT"  # "<point>:<n>": SIGKILL self at the n-th <point> (crash tests)


class IngestError(Exception):
    """A file-level failure: the file cannot be read as its table at all (nothing is written)."""


# --- finding and identifying files -------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    """One file of a drop and the model table it belongs to."""

    path: Path
    table: str
    stem: str  # file name without suffix: identifies the source within its table
    format: str  # "parquet" or "text"
    compression: str | None = None  # "gzip" / "bz2" (the file), or None
    member: str | None = None  # the member of a zip archive this source is

    @property
    def name(self) -> str:
        """How the source is named in messages: the file, or ``archive.zip!member``."""
        return f"{self.path}!{self.member}" if self.member else str(self.path)


@dataclass(frozen=True)
class Unrecognised:
    path: Path
    problem: str


def identify_table(path: Path) -> str | None:
    """The model table of a file: its parent folder's name if that is a table, else the longest
    table name that prefixes the file name (followed by ``_``, ``.`` or nothing), else None."""
    if path.parent.name in TABLES:
        return path.parent.name
    stem = path.name.split(".", 1)[0]
    best = None
    for name in TABLES:
        if (stem == name or stem.startswith(name + "_")) and (best is None or len(name) > len(best)):
            best = name
    return best


def snapshot_date(name: str) -> str | None:
    """The YYYYMMDD a dated snapshot file carries in its name (``subscribers_20261101.csv``), if any."""
    m = re.search(r"_(\d{8})(?:\.|$)", name)
    return m.group(1) if m else None


def source_identity(table: str, stem: str) -> str:
    """What a file replaces when its content changes: itself (its stem), except for a dated snapshot.

    A snapshot table is the state of the business system on one day, delivered each day under a new
    dated name; each newer one replaces the table, so every ``<table>`` or ``<table>_YYYYMMDD`` file of
    a snapshot table is one source (the snapshot) rather than a new file whose rows would all be
    duplicates of the previous day's.
    """
    if TABLES[table].kind is TableKind.SNAPSHOT and re.fullmatch(rf"{re.escape(table)}(_\d{{8}})?", stem):
        return table
    return stem


def discover(source_dir: Path) -> tuple[list[SourceFile], list[Unrecognised]]:
    """All files under ``source_dir`` that belong to a model table, in load order, and the rest."""
    if not source_dir.is_dir():
        raise IngestError(f"source {source_dir}: not a directory")
    found: list[SourceFile] = []
    other: list[Unrecognised] = []
    for dirpath, dirnames, filenames in os.walk(source_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if Path(dirpath) == source_dir and name in SKIPPED_NAMES:
                continue
            if p.suffix.lower() in ARCHIVES:
                members, problem = zip_members(p)
                if not members:
                    other.append(Unrecognised(p, problem or "an empty zip archive"))
                for m in members:
                    _add_source(found, other, p, Path(dirpath) / Path(m).name, member=m)
                continue
            _add_source(found, other, p, p)
    order = {t: i for i, t in enumerate(LOAD_ORDER)}
    found.sort(key=lambda s: (order[s.table], s.name))
    return found, other


def _add_source(
    found: list[SourceFile], other: list[Unrecognised], path: Path, named: Path, member: str | None = None
) -> None:
    """Add the source ``path`` (named ``named``: the file, or a zip member beside it) to a list."""
    inner, compression = split_compression(named.name)
    suffix = Path(inner).suffix.lower()
    shown = f"{path}!{member}" if member else str(path)
    if suffix in PARQUET_SUFFIXES:
        fmt = "parquet"
    elif suffix in TEXT_SUFFIXES:
        fmt = "text"
    else:
        other.append(Unrecognised(Path(shown), f"unsupported file type {suffix or '(no suffix)'!r}"))
        return
    t = identify_table(named.with_name(inner))
    if t is None:
        other.append(Unrecognised(Path(shown), "no model table matches its folder or file name"))
        return
    stem = source_identity(t, inner[: -len(suffix)])
    found.append(SourceFile(path, t, stem, fmt, compression, member))


def fingerprint(data: bytes | None = None, path: Path | None = None) -> str:
    """blake2b-128 of the file's bytes (given, or streamed from ``path``)."""
    h = hashlib.blake2b(digest_size=16)
    if data is not None:
        h.update(data)
    elif path is not None:
        with path.open("rb") as f:
            while chunk := f.read(8 << 20):
                h.update(chunk)
    return h.hexdigest()


# --- reading text --------------------------------------------------------------------------------


def _bad_lines(sample: bytes, encoding: str) -> int:
    encoding = _CODECS.get(encoding, encoding)
    try:
        sample.decode(encoding)
        return 0
    except UnicodeDecodeError:
        pass
    bad = 0
    for line in sample.split(b"\n"):
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            bad += 1
    return bad


def detect_encoding(data: bytes) -> str:
    """``utf-8`` or ``gbk``: whichever leaves fewer undecodable lines in a MB of the file starting at
    its first non-ASCII line (ties, and pure ASCII: UTF-8). Starting there matters: an export whose
    first rows are ASCII-only (numbers, codes) looks like UTF-8 until the first Chinese name."""
    import numpy as np

    high = np.frombuffer(data, dtype=np.uint8) >= 0x80
    first = int(np.argmax(high)) if len(data) else 0
    if not len(data) or not high[first]:
        return "utf-8"
    start = data.rfind(b"\n", 0, first) + 1
    sample = data[start : start + SAMPLE_BYTES]
    if start + SAMPLE_BYTES < len(data):
        cut = sample.rfind(b"\n")
        sample = sample[: cut + 1] if cut > 0 else sample
    u = _bad_lines(sample, "utf-8")
    if u == 0:
        return "utf-8"
    return "gbk" if _bad_lines(sample, "gbk") < u else "utf-8"


def transcode(data: bytes, encoding: str) -> bytes:
    """UTF-8 bytes of ``data``; lines that do not decode, or carry a NUL byte (which no text export
    writes), become ``\\x01`` + the line with \\x escapes: that line is quarantined, not the file.

    Blocks of ~32 MB (cut at a newline: GBK never uses byte 0x0A inside a character) are decoded
    whole; only a block that fails (or holds a NUL) is split into lines, so line numbers never shift.
    """
    encoding = _CODECS.get(encoding, encoding)
    out: list[bytes] = []
    start, n = 0, len(data)
    while start < n:
        end = min(start + BLOCK_BYTES, n)
        if end < n:
            nl = data.rfind(b"\n", start, end)
            end = nl + 1 if nl >= start else (data.find(b"\n", end) + 1 or n)
        block = data[start:end]
        try:
            if b"\x00" in block:
                raise UnicodeDecodeError(encoding, b"", 0, 1, "NUL byte")
            text = block.decode(encoding)
            out.append(block if encoding == "utf-8" else text.encode("utf-8"))
        except UnicodeDecodeError:
            fixed = []
            for line in block.split(b"\n"):  # only a broken block pays for per-line work
                try:
                    if b"\x00" in line:
                        raise UnicodeDecodeError(encoding, line, 0, 1, "NUL byte")
                    fixed.append(line.decode(encoding))
                except UnicodeDecodeError:
                    shown = line.decode(encoding, errors="backslashreplace").replace("\x00", "\\x00")
                    # a line cut off by a broken stream stays marked as cut (truncated_row)
                    fixed.append(shown if line.startswith(_CUT_LINE) else _BAD_LINE + shown)
            out.append("\n".join(fixed).encode("utf-8"))
        start = end
    return out[0] if len(out) == 1 else b"".join(out)


def _split_header(line: str, delimiter: str) -> list[str]:
    import csv

    try:
        return [h.strip().lower() for h in next(csv.reader([line], delimiter=delimiter))]
    except csv.Error:  # e.g. a lone carriage return inside the line: not a header anyway
        return [h.strip().lower() for h in line.split(delimiter)]


def sniff_header(first_line: str, t: Table, path: Path) -> tuple[str, list[str]]:
    """The delimiter (``,`` ``|`` or tab) and header names of a text file; IngestError if the header
    does not name exactly the model's columns."""
    if not first_line.strip():
        raise IngestError(f"{path}: no header line (first line is empty)")
    if first_line.startswith(_BAD_LINE):
        raise IngestError(f"{path}: header line does not decode (binary content or wrong encoding?)")
    want = set(t.column_names)
    best: tuple[int, str] | None = None
    for d in DELIMITERS:
        names = _split_header(first_line, d)
        if set(names) == want and len(names) == len(want):
            return d, names
        if best is None or first_line.count(d) > best[0]:
            best = (first_line.count(d), d)
    assert best is not None
    names = _split_header(first_line, best[1])
    missing = [c for c in t.column_names if c not in names]
    extra = [n for n in names if n not in want]
    dup = sorted({n for n in names if names.count(n) > 1})
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(f"unexpected {', '.join(repr(e[:40]) for e in extra[:5])}")
    if dup:
        parts.append(f"repeated {', '.join(dup)}")
    raise IngestError(f"{path}: header does not match table {t.name}: {'; '.join(parts)}")


def _lines_table(buf: bytes) -> Any:
    """An Arrow table (_row, line) with one row per line of ``buf``, built on its bytes without copies."""
    import numpy as np
    import pyarrow as pa

    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    ends = nl + 1
    if len(buf) and (len(nl) == 0 or ends[-1] < len(buf)):
        ends = np.append(ends, len(buf))
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets.tobytes()), pa.py_buffer(buf))
    return pa.table({"_row": np.arange(1, len(ends) + 1, dtype=np.int64), "line": lines})


def parse_text(buf: bytes, delimiter: str, names: list[str]) -> Any | None:
    """Parse delimited text (header on line 1) with Arrow's C++ CSV reader; returns an Arrow
    table of the fields as text plus ``_row`` (line number) and ``_pre`` (encoding_error /
    truncated_row / NULL), one row per non-blank data line; None when the line numbers cannot be
    proven (a lone CR, a reader error), so the caller falls back to the SQL splitter.

    Lines are measured with numpy first: a line with an odd number of quotes is broken
    (``truncated_row``) and its quotes are neutralised so it cannot swallow the following lines.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    arr = np.frombuffer(buf, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    starts = np.concatenate([[0], nl + 1]).astype(np.int64)
    if starts[-1] == len(buf):
        starts = starts[:-1]
    if len(starts) < 2:
        return None
    spans = np.diff(np.append(starts, len(buf)))  # bytes of each line with its newline
    has_nl = np.append(np.ones(len(starts) - 1, bool), buf.endswith(b"\n"))
    content = spans - has_nl
    last = np.maximum(starts + content - 1, 0)
    has_cr = (content > 0) & (arr[last] == 13)
    if int((arr == 13).sum()) != int(has_cr.sum()):
        return None  # a CR inside a line would end a row for Arrow but not for us
    blank = (content - has_cr) == 0
    quotes = np.flatnonzero(arr == 34)
    odd = ((np.searchsorted(quotes, starts + spans) - np.searchsorted(quotes, starts)) % 2) == 1
    bad_enc = (content > 0) & (arr[starts] == 1)
    cut = (content > 0) & (arr[starts] == 2)
    data: bytes = buf
    if odd.any():
        fixed = arr.copy()
        fixed[np.repeat(odd, spans) & (arr == 34)] = ord("'")
        data = fixed.tobytes()
    invalid: list[int] = []

    def on_invalid(row: Any) -> str:
        if row.number is None:
            raise ValueError("row number unknown")
        invalid.append(row.number)
        return "skip"

    try:
        tbl = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(
                use_threads=False, skip_rows=1, column_names=names, block_size=1 << 26
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=True,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    line_no = np.arange(1, len(starts) + 1, dtype=np.int64)
    data_lines = line_no[1:][~blank[1:]]
    # Arrow numbers rows among non-blank lines (the header is 1): map them back to line numbers
    nonblank = np.concatenate([[1], data_lines])
    idx = np.array(sorted(invalid), dtype=np.int64)
    if len(idx) and (idx.min() < 2 or idx.max() > len(nonblank)):
        return None
    bad = nonblank[idx - 1]
    ok = data_lines[~np.isin(data_lines, bad)]
    if len(ok) != tbl.num_rows:
        return None

    def pre(lines: Any, broken: Any) -> Any:
        out = np.where(
            bad_enc[lines - 1],
            Reason.ENCODING_ERROR.value,
            np.where(broken | cut[lines - 1], Reason.TRUNCATED_ROW.value, ""),
        )
        return pa.array(out.astype(object), pa.string()).fill_null("")

    tbl = tbl.append_column("_row", pa.array(ok)).append_column("_pre", pre(ok, odd[ok - 1]))
    if len(bad):
        nulls = {c: pa.nulls(len(bad), pa.string()) for c in names}
        rest = pa.table({**nulls, "_row": pa.array(bad), "_pre": pre(bad, np.ones(len(bad), bool))})
        tbl = pa.concat_tables([tbl, rest])
    return tbl


# --- the checks ----------------------------------------------------------------------------------


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _ref_table(ref: str) -> str:
    t, c = ref.split(".")
    return f"ref__{t}__{c}"


def _is_duration(c: Column) -> bool:
    return c.unit == "s"


def check_sql(
    t: Table, now: datetime, cast_columns: set[str], refs_available: set[str]
) -> tuple[str, list[str]]:
    """The SQL CASE expression giving ``'reason:column'`` of a row's first failing check (NULL if it
    passes), over typed columns ``"c"`` and raw columns ``"_r_c"``; and the references not checked."""
    whens: list[str] = ["WHEN _pre IS NOT NULL THEN _pre || ':'"]
    skipped: list[str] = []
    numeric = ("INTEGER", "BIGINT", "SMALLINT", "DOUBLE", "DECIMAL")
    for reason in REASON_ORDER:
        if reason in (Reason.ENCODING_ERROR, Reason.TRUNCATED_ROW, Reason.DUPLICATE):
            continue  # decided while reading / after the row checks
        for c in t.columns:
            v, raw, typ = _q(c.name), _q("_r_" + c.name), c.type.upper()
            cond: str | None = None
            if reason is Reason.BAD_TYPE and c.name in cast_columns:
                cond = f"{raw} IS NOT NULL AND {v} IS NULL"
            elif reason is Reason.MISSING_VALUE and not c.nullable:
                cond = f"{v} IS NULL"  # a value that failed its cast was caught as bad_type already
            elif reason is Reason.BAD_NUMBER_FORMAT and c.pattern and c.pattern != MONTH_START:
                cond = f"NOT regexp_full_match({v}, {_lit(c.pattern)})"
            elif reason is Reason.BAD_CODE and c.codes:
                cond = f"{v} NOT IN ({', '.join(_lit(x) for x in code_values(c.codes))})"
            elif reason is Reason.OUT_OF_RANGE and (c.min is not None or c.max is not None):
                parts = []
                if c.min is not None:
                    # a negative duration is its own, more telling reason
                    parts.append(f"({v} < {c.min} AND {v} >= 0)" if _is_duration(c) else f"{v} < {c.min}")
                if c.max is not None:
                    parts.append(f"{v} > {c.max}")
                cond = " OR ".join(parts)
            elif reason is Reason.NEGATIVE_DURATION and _is_duration(c) and typ.startswith(numeric):
                cond = f"{v} < 0"
            elif reason is Reason.TIMESTAMP_OUT_OF_RANGE and typ in ("DATE", "TIMESTAMP"):
                parts = [f"{v} < DATE {_lit(EARLIEST)}"]
                # reference data may name future days (the calendar, planned launches)
                if t.kind is not TableKind.REFERENCE:
                    parts.append(f"{v} > TIMESTAMP {_lit(now.isoformat(sep=' ', timespec='seconds'))}")
                if c.pattern == MONTH_START:
                    parts.append(f"day({v}) <> 1")
                cond = " OR ".join(parts)
            elif reason in (Reason.UNKNOWN_CELL, Reason.UNKNOWN_REFERENCE) and c.references:
                is_cell = c.references == "cells.cell_id"
                if is_cell != (reason is Reason.UNKNOWN_CELL):
                    continue
                if c.references not in refs_available:
                    skipped.append(f"{c.name} → {c.references}")
                    continue
                cond = f"{v} IS NOT NULL AND {v} NOT IN (SELECT k FROM {_ref_table(c.references)})"
            if cond:
                whens.append(f"WHEN {cond} THEN {_lit(f'{reason.value}:{c.name}')}")
    return "CASE " + " ".join(whens) + " END", skipped


# --- results -------------------------------------------------------------------------------------


@dataclass
class FileResult:
    """What ingestion did with one file (also one row of the ``files`` ledger table)."""

    source_path: str
    table: str | None
    stem: str | None
    status: FileStatus
    error: str | None = None
    fingerprint: str | None = None
    size_bytes: int | None = None
    encoding: str | None = None
    delimiter: str | None = None
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    dirty: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    unexpected: bool = False  # failed on an exception ingestion did not foresee (a bug: a crash)
    normalised: int = 0  # accepted rows with at least one value rewritten to the canonical form
    normalisations: dict[str, int] = field(default_factory=dict)  # "column:kind" → values
    broken: str | None = None  # a compressed stream or archive that ended early: where

    def summary(self) -> str:
        """What happened to the file, in one paragraph a BI engineer reads."""
        name = Path(self.source_path).name
        if self.status is FileStatus.FAILED:
            return f"{name}: not loaded, nothing of it written. {self.error}"
        if self.status is not FileStatus.INGESTED:
            return f"{name}: {self.status.value}; " + "; ".join(self.notes)
        parts = [f"{name} ({self.table}): read {self.read:,} rows, accepted {self.accepted:,}"]
        if self.quarantined:
            why = ", ".join(f"{n:,} {r.replace('_', ' ')}" for r, n in self.reasons.items())
            parts.append(f"quarantined {self.quarantined:,} ({why})")
        if self.normalised:
            how = ", ".join(
                f"{k.replace(':', ' ').replace('_', ' ')} {n:,}" for k, n in self.normalisations.items()
            )
            parts.append(
                f"{self.normalised:,} accepted rows had values rewritten to the canonical form ({how})"
            )
        text = "; ".join(parts) + "."
        return text + (" " + " ".join(n[0].upper() + n[1:] + "." for n in self.notes) if self.notes else "")

    def ledger_row(self) -> dict[str, object]:
        return {
            "source_path": self.source_path,
            "table_name": self.table,
            "stem": self.stem,
            "fingerprint": self.fingerprint,
            "size_bytes": self.size_bytes,
            "status": self.status.value,
            "error": self.error,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "rows_read": self.read,
            "rows_accepted": self.accepted,
            "rows_quarantined": self.quarantined,
            "rows_normalised": self.normalised,
            "notes": "; ".join(self.notes) or None,
            "summary": self.summary(),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class IngestReport:
    """The result of one run: a FileResult per file seen, and the run id in the ledger."""

    run_id: int
    warehouse: Path
    files: list[FileResult]
    seconds: float = 0.0

    def _sum(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    @property
    def read(self) -> int:
        return self._sum("read")

    @property
    def accepted(self) -> int:
        return self._sum("accepted")

    @property
    def quarantined(self) -> int:
        return self._sum("quarantined")

    def with_status(self, *status: FileStatus) -> list[FileResult]:
        return [f for f in self.files if f.status in status]

    def reasons(self, table: str | None = None) -> Counter[str]:
        """Quarantined rows per reason (of one table, or all)."""
        out: Counter[str] = Counter()
        for f in self.files:
            if table is None or f.table == table:
                out.update(f.reasons)
        return out

    def by_table(self) -> dict[str, dict[str, int]]:
        """Per table: files, read, accepted, quarantined (in load order)."""
        out: dict[str, dict[str, int]] = {}
        for f in self.files:
            if f.table is None:
                continue
            row = out.setdefault(
                f.table, {"files": 0, "read": 0, "accepted": 0, "quarantined": 0, "normalised": 0}
            )
            row["normalised"] += f.normalised
            row["files"] += 1
            row["read"] += f.read
            row["accepted"] += f.accepted
            row["quarantined"] += f.quarantined
        order = {t: i for i, t in enumerate(LOAD_ORDER)}
        return dict(sorted(out.items(), key=lambda kv: order[kv[0]]))

    def totals(self) -> dict[str, int]:
        return {
            "files_total": len(self.files),
            "files_failed": len(self.with_status(FileStatus.FAILED)),
            "files_unrecognised": len(self.with_status(FileStatus.UNRECOGNISED)),
            "rows_read": self.read,
            "rows_accepted": self.accepted,
            "rows_quarantined": self.quarantined,
        }


@dataclass(frozen=True)
class IngestOptions:
    encoding: str = "auto"  # auto | utf-8 | gbk (for text files)
    now: datetime | None = None  # "the future" starts here (default: the wall clock)
    threads: int | None = None  # DuckDB threads (default: the core count)
    quiet: bool = False  # no progress bar


# --- the run -------------------------------------------------------------------------------------


_FAULT_COUNTS: Counter[str] = Counter()


def _fault(point: str) -> None:
    """Crash-test hook: with ``TAGCLOUD_INGEST_FAULT=<point>:<n>`` the process kills itself (SIGKILL)
    the n-th time it reaches ``point``, so tests can kill a real run at its worst moment."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, _, n = spec.partition(":")
    if name == point:
        _FAULT_COUNTS[point] += 1
        if _FAULT_COUNTS[point] >= int(n or 1):
            os.kill(os.getpid(), signal.SIGKILL)


def _own_output(stem: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(stem)}(-\d+)?\.parquet$")


class _Run:
    """State of one ingest run: the DuckDB connection, the ledger and the reference key sets."""

    def __init__(self, wh: Warehouse, ledger: Ledger, run_id: int, options: IngestOptions) -> None:
        import duckdb

        self.wh, self.ledger, self.run_id, self.options = wh, ledger, run_id, options
        self.now = options.now or datetime.now()
        self.con: duckdb.DuckDBPyConnection = duckdb.connect()
        self.con.execute(f"SET threads = {options.threads or os.cpu_count() or 1}")
        # row order is carried by _row where it matters; unordered plans are cheaper
        self.con.execute("SET preserve_insertion_order = false")
        wh.staging_dir.mkdir(parents=True, exist_ok=True)
        self.con.execute(f"SET temp_directory = {_lit(str(wh.staging_dir / '_duckdb_tmp'))}")
        self.refs_loaded: set[str] = set()
        self.stems_seen: dict[tuple[str, str], Path] = {}
        self._cast_cols: set[str] = set()
        self._rules: dict[str, ColumnRule] = {}  # the current file's normalised columns
        self._periods: list[str] = []  # partitions of the current file's accepted rows
        self._text_lines = False  # lines_arrow (the current text file's lines) is registered
        self._text_buf: bytes | None = None  # the current text file, transcoded to UTF-8

    def close(self) -> None:
        self.con.close()

    # references --------------------------------------------------------------------------------
    def refs_for(self, t: Table) -> set[str]:
        """Load the key sets of the tables ``t`` references (from the warehouse as it is now)."""
        available = set()
        for c in t.columns:
            if not c.references:
                continue
            if c.references not in self.refs_loaded:
                rt, rc = c.references.split(".")
                files = self.wh.table_files(rt)
                if not files:
                    continue
                lst = "[" + ", ".join(_lit(str(f)) for f in files) + "]"
                self.con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {_ref_table(c.references)} AS "
                    f"SELECT DISTINCT CAST({_q(rc)} AS VARCHAR) AS k FROM read_parquet({lst}) WHERE {_q(rc)} IS NOT NULL"
                )
                self.refs_loaded.add(c.references)
            available.add(c.references)
        return available

    def table_changed(self, table: str) -> None:
        """Forget cached key sets of ``table`` after it received new files."""
        self.refs_loaded = {r for r in self.refs_loaded if not r.startswith(table + ".")}

    # one file ------------------------------------------------------------------------------------
    def process(self, src: SourceFile) -> FileResult:
        started = time.perf_counter()
        res = FileResult(src.name, src.table, src.stem, FileStatus.INGESTED)
        try:
            key = (src.table, src.stem)
            if (
                key in self.stems_seen
                and src.stem == src.table
                and TABLES[src.table].kind is TableKind.SNAPSHOT
            ):
                raise IngestError(
                    f"{src.name}: a second snapshot of {src.table} in this drop (the other is "
                    f"{self.stems_seen[key]}); deliver one snapshot per drop"
                )
            if key in self.stems_seen:
                raise IngestError(
                    f"{src.name}: same table and name as {self.stems_seen[key]} in this drop; rename one"
                )
            self.stems_seen[key] = Path(src.name)
            self._process(src, res)
        except IngestError as e:
            res.status, res.error = FileStatus.FAILED, str(e)
        except Exception as e:  # a damaged file must never stop the others: record it, go on
            res.status, res.error = FileStatus.FAILED, f"{src.name}: {type(e).__name__}: {e}"
            res.unexpected = True
        finally:
            self._drop_temp()
        res.seconds = time.perf_counter() - started
        if res.status is FileStatus.FAILED:
            res.read = res.accepted = res.quarantined = 0
            res.reasons = {}
            self.ledger.record_file(self.run_id, res.ledger_row())
        elif res.status in (FileStatus.UNCHANGED, FileStatus.SUPERSEDED, FileStatus.COPY):
            self.ledger.record_file(self.run_id, res.ledger_row())
        shutil.rmtree(self._stage(src), ignore_errors=True)
        self._extracted(src).unlink(missing_ok=True)
        return res

    def _register_lines(self) -> None:
        """Register the current text file's lines as ``lines_arrow`` (_row, line), once."""
        if not self._text_lines and self._text_buf is not None:
            self.con.register("lines_arrow", _lines_table(self._text_buf))
            self._text_lines = True

    def _drop_temp(self) -> None:
        self._text_buf = None
        if self._text_lines:
            self.con.unregister("lines_arrow")
            self._text_lines = False
        self.con.execute(
            "DROP TABLE IF EXISTS f; DROP VIEW IF EXISTS v; DROP VIEW IF EXISTS raw; DROP TABLE IF EXISTS raw_text; "
            "DROP TABLE IF EXISTS split_text"
        )

    def _stage(self, src: SourceFile) -> Path:
        return self.wh.staging_dir / src.table / src.stem

    def _process(self, src: SourceFile, res: FileResult) -> None:
        t = TABLES[src.table]
        size = src.path.stat().st_size
        res.size_bytes = size
        if size == 0:
            raise IngestError(f"{src.name}: empty file (0 bytes)")
        data: bytes | None = None
        parquet_path = src.path
        broken: str | None = None
        if src.format == "text":
            payload = read_bytes(src.path, src.compression, src.member)
            data, broken = payload.data, payload.broken
            if not data:
                raise IngestError(f"{src.name}: {broken or 'empty file (no bytes after decompression)'}")
            if broken:
                # the partial last line is a row cut off by the break: quarantined, never accepted
                nl = data.rfind(b"\n")
                if nl + 1 < len(data):
                    data = data[: nl + 1] + _CUT_LINE + data[nl + 1 :]
            res.fingerprint = fingerprint(data=data)
        elif src.compression or src.member:
            parquet_path = self._extracted(src)
            broken = copy_to(src.path, src.compression, src.member, parquet_path)
            if broken:
                raise IngestError(f"{src.name}: {broken}; a Parquet file cut short cannot be read")
            res.fingerprint = fingerprint(path=parquet_path)
        else:
            res.fingerprint = fingerprint(path=src.path)
        prev = self.ledger.source(src.table, src.stem)
        if prev is not None and prev.state == "done" and prev.fingerprint == res.fingerprint:
            res.status = FileStatus.UNCHANGED
            res.notes.append("same content as already ingested")
            return
        twin = self.ledger.same_content(src.table, res.fingerprint, src.stem)
        if twin is not None:
            res.status = FileStatus.COPY
            res.notes.append(
                f"same content as {Path(twin.source_path).name}, already ingested: a copy under another "
                "name, not read (its rows would all be duplicates)"
            )
            return
        if broken:
            res.broken = broken
            res.notes.append(
                f"{broken}: the rows before the break are kept, the partial last line is quarantined "
                "(truncated_row), the rest of the file never arrived: ask the sender for it again"
            )
        if prev is not None and prev.state == "done" and src.stem == src.table:
            loaded, incoming = snapshot_date(Path(prev.source_path).name), snapshot_date(src.path.name)
            if loaded and incoming and incoming < loaded:
                res.status = FileStatus.SUPERSEDED
                res.notes.append(
                    f"older than the snapshot already loaded ({Path(prev.source_path).name}); kept out"
                )
                return
        con = self.con
        if src.format == "text":
            assert data is not None
            cast_cols = self._text_raw(src, t, data, res)
        else:
            cast_cols = self._parquet_raw(src, t, parquet_path)
        refs = self.refs_for(t)
        case, skipped = check_sql(t, self.now, cast_cols, refs)
        res.notes += [f"reference not checked (table empty): {s}" for s in skipped]
        pkey = partition_key(t.partition)
        if pkey == "day":
            period = f"strftime({_q(t.time_column or '')}, '%Y-%m-%d')"
        elif pkey == "month":
            period = f"strftime({_q(t.time_column or '')}, '%Y-%m')"
        else:
            period = "NULL::VARCHAR"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE f AS SELECT *, {case} AS _fail, {period} AS _period FROM v"
        )
        self._duplicates(src, t, pkey)
        self._cast_cols = cast_cols
        counts = dict(
            con.execute(
                "SELECT coalesce(split_part(_fail, ':', 1), '') AS r, count(*) FROM f GROUP BY ALL"
            ).fetchall()
        )
        res.accepted = counts.pop("", 0)
        res.reasons = {r.value: counts[r.value] for r in REASON_ORDER if r.value in counts}
        res.quarantined = sum(res.reasons.values())
        res.read = res.accepted + res.quarantined
        self._count_normalised(res)
        self._write_and_commit(src, t, pkey, res, prev)

    def _count_normalised(self, res: FileResult) -> None:
        """Count, over the accepted rows, the values each rule rewrote and how (one scan)."""
        if not self._rules or not res.accepted:
            return
        keys: list[str] = []
        exprs: list[str] = []
        changed: list[str] = []
        for name, rl in self._rules.items():
            raw, v = _q("_r_" + name), _q(name)
            # a normalised value differs from its raw text (typed columns: the raw text does not cast)
            typ = TABLES[res.table or ""].column(name).type
            diff = f"{v} <> {raw}" if typ.upper() == "VARCHAR" else f"TRY_CAST({raw} AS {typ}) IS NULL"
            changed.append(f"({raw} IS NOT NULL AND {diff})")
            for kind, cond in rl.counts.items():
                keys.append(f"{name}:{kind.value}")
                exprs.append(f"count_if(({cond}) AND {raw} IS NOT NULL AND {diff})")
        # the cheap "changed" test filters first: the kind conditions (regexes) then run only on
        # the few rewritten rows, not on every accepted one
        row = self.con.execute(
            f"SELECT count(*), {', '.join(exprs)} FROM f WHERE _fail IS NULL AND ({' OR '.join(changed)})"
        ).fetchone()
        assert row is not None
        res.normalised = int(row[0])
        res.normalisations = {k: int(n) for k, n in zip(keys, row[1:], strict=True) if n}

    def _extracted(self, src: SourceFile) -> Path:
        """Where a compressed or archived Parquet source is decompressed to (Parquet needs seeking)."""
        d = self.wh.staging_dir / "_sources"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{src.table}__{src.stem}.parquet"

    def _text_raw(self, src: SourceFile, t: Table, data: bytes, res: FileResult) -> set[str]:
        enc = self.options.encoding
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            # Excel's "Unicode text": UTF-16 with a byte-order mark (every other byte NUL)
            data, enc = data.decode("utf-16", errors="replace").encode("utf-8"), "utf-8"
            res.notes.append("UTF-16 text (byte-order mark) read as such")
        if enc == "auto" and data.startswith(b"\xef\xbb\xbf"):
            enc = "utf-8"  # a UTF-8 byte-order mark settles it, whatever foreign lines follow
        enc = detect_encoding(data) if enc == "auto" else enc
        buf = transcode(data, enc)
        del data
        first_end = buf.find(b"\n")
        first = buf[: first_end if first_end >= 0 else len(buf)].decode("utf-8").rstrip("\r").lstrip("\ufeff")
        delim, names = sniff_header(first, t, Path(src.name))
        res.encoding, res.delimiter = enc, {"\t": "tab"}.get(delim, delim)
        # the quarantine takes raw lines from the text, so it stays until the file is done
        self._text_buf = buf
        d = _lit(delim)
        n = len(names)
        cols = []
        for c in t.columns:
            i = names.index(c.name) + 1
            cols.append(f"NULLIF(_f[{i}], '') AS {_q('_r_' + c.name)}")
        parsed = parse_text(buf, delim, names)
        cast_cols = {c.name for c in t.columns if c.type.upper() != "VARCHAR"}
        if parsed is not None:
            self.con.register("parsed_arrow", parsed)
            fields = ", ".join(f"NULLIF({_q(c.name)}, '') AS {_q('_r_' + c.name)}" for c in t.columns)
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE raw_text AS SELECT _row, NULL::VARCHAR AS _raw_line, "
                f"NULLIF(_pre, '') AS _pre, {fields} FROM parsed_arrow"
            )
            self.con.unregister("parsed_arrow")
            self.con.execute("CREATE OR REPLACE TEMP VIEW raw AS SELECT * FROM raw_text")
            self._typed_view(t, cast_cols, set(t.column_names))
            return cast_cols
        if b'"' in buf:
            # Quoted fields. Most lines quote whole fields without inner quotes or delimiters
            # ("a","b",3): one cheap full-match test, then drop the quotes and split. Other lines
            # (a delimiter or "" inside quotes) go through a regex that keeps "a,b" together; a
            # line that grammar does not cover end to end (stray or unclosed quote) gets no
            # fields, i.e. it is a broken row.
            e = {"\t": "\\t", "|": "\\|"}.get(delim, delim)
            plain = f'(?:"[^"{e}]*"|[^"{e}]*)'
            simple = _lit(f"{plain}(?:{e}{plain})*")
            field_re = f'("(?:[^"]|"")*"|[^"{e}]*){e}'
            split = (
                f"CASE WHEN regexp_full_match(_line, {simple}) THEN string_split(replace(_line, '\"', ''), {d}) "
                f"WHEN regexp_full_match(_line || {d}, {_lit(f'(?:{field_re})*')}) THEN "
                f"list_transform(regexp_extract_all(_line || {d}, {_lit(field_re)}, 1), lambda x: "
                "CASE WHEN len(x) >= 2 AND starts_with(x, '\"') AND ends_with(x, '\"') "
                "THEN replace(x[2:-2], '\"\"', '\"') ELSE x END) END"
            )
        else:
            split = f"string_split(_line, {d})"
        # split once into a table: referenced per column, the split expression would be
        # evaluated once per column
        self._register_lines()
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE split_text AS SELECT _row, _line, {split} AS _f FROM "
            "(SELECT _row, rtrim(line, chr(13) || chr(10)) AS _line FROM lines_arrow WHERE _row > 1) "
            "WHERE _line <> ''"
        )
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE raw_text AS SELECT _row, "
            "CASE WHEN starts_with(_line, chr(1)) OR starts_with(_line, chr(2)) THEN _line[2:] ELSE _line END AS _raw_line, "
            f"CASE WHEN starts_with(_line, chr(1)) THEN {_lit(Reason.ENCODING_ERROR.value)} "
            f"WHEN starts_with(_line, chr(2)) THEN {_lit(Reason.TRUNCATED_ROW.value)} "
            f"WHEN _f IS NULL OR len(_f) <> {n} THEN {_lit(Reason.TRUNCATED_ROW.value)} END AS _pre, "
            + ", ".join(cols)
            + " FROM split_text"
        )
        self.con.execute("DROP TABLE split_text")
        self.con.execute("CREATE OR REPLACE TEMP VIEW raw AS SELECT * FROM raw_text")
        self._typed_view(t, cast_cols, set(t.column_names))
        return cast_cols

    def _typed_view(self, t: Table, cast_cols: set[str], text_cols: set[str]) -> None:
        """View ``v``: each column normalised (``normalise.rule``, text columns only) and typed as
        the model says; the raw value kept (as ``_r_<col>``) only where a cast or a normalisation
        happens, so the checked table is no wider than it must be."""
        cols = []
        self._rules = {}
        for c in t.columns:
            r = _q("_r_" + c.name)
            rl = rule(c, r, _q(c.name), c.name in cast_cols) if c.name in text_cols else None
            if rl is not None:
                self._rules[c.name] = rl
                cols += [r, f"{rl.value} AS {_q(c.name)}"]
            elif c.name in cast_cols:
                cols += [r, f"TRY_CAST({r} AS {c.type}) AS {_q(c.name)}"]
            else:
                cols.append(f"{r} AS {_q(c.name)}")
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW v AS SELECT _row, _raw_line, _pre, {', '.join(cols)} FROM raw"
        )

    def _parquet_raw(self, src: SourceFile, t: Table, file: Path) -> set[str]:
        if file.stat().st_size < 12:
            raise IngestError(f"{src.name}: not a Parquet file (too short: {file.stat().st_size} bytes)")
        with file.open("rb") as fh:
            head = fh.read(4)
            fh.seek(-4, os.SEEK_END)
            tail = fh.read(4)
        if head != b"PAR1" or tail != b"PAR1":
            raise IngestError(
                f"{src.name}: not a Parquet file (no PAR1 {'header' if head != b'PAR1' else 'footer'}: "
                "truncated or damaged)"
            )
        path = _lit(str(file))
        try:
            schema = dict(
                (r[0], r[1])
                for r in self.con.execute(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()
            )
        except Exception as e:
            raise IngestError(f"{src.name}: cannot read Parquet metadata: {e}") from None
        lower = {k.lower(): k for k in schema}
        missing = [c for c in t.column_names if c not in lower]
        extra = [k for k in schema if k.lower() not in set(t.column_names)]
        if missing or extra:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unexpected {', '.join(extra[:5])}"] if extra else []
            )
            raise IngestError(f"{src.name}: columns do not match table {t.name}: {'; '.join(parts)}")
        raw_cols = [f"{_q(lower[c.name])} AS {_q('_r_' + c.name)}" for c in t.columns]
        cast_cols = {
            c.name
            for c in t.columns
            if schema[lower[c.name]].upper().replace(" ", "") != c.type.upper().replace(" ", "")
        }
        self.con.execute(
            "CREATE OR REPLACE TEMP VIEW raw AS SELECT file_row_number + 1 AS _row, NULL::VARCHAR AS _raw_line, "
            f"NULL::VARCHAR AS _pre, {', '.join(raw_cols)} FROM read_parquet({path}, file_row_number = true)"
        )
        text_cols = {c.name for c in t.columns if schema[lower[c.name]].upper() == "VARCHAR"}
        self._typed_view(t, cast_cols, text_cols)
        return cast_cols

    def _duplicates(self, src: SourceFile, t: Table, pkey: str | None) -> None:
        """Mark the second and later rows of a key, and keys already ingested from another file of
        the same partition (the whole table when unpartitioned), as duplicates."""
        con = self.con
        keys = ", ".join(_q(k) for k in t.key)
        tag = _lit(f"{Reason.DUPLICATE.value}:{','.join(t.key)}")
        con.execute(
            f"UPDATE f SET _fail = {tag} WHERE _row IN (SELECT _row FROM f WHERE _fail IS NULL "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _row) > 1)"
        )
        periods = sorted(
            r[0] for r in con.execute("SELECT DISTINCT _period FROM f WHERE _fail IS NULL").fetchall()
        )
        self._periods = periods
        others = self._other_files(src, periods if pkey else [None])
        if others:
            lst = "[" + ", ".join(_lit(str(p)) for p in others) + "]"
            on = " AND ".join(f"f.{_q(k)} = e.{_q(k)}" for k in t.key)
            con.execute(
                f"UPDATE f SET _fail = {tag} WHERE _fail IS NULL AND _row IN (SELECT f._row FROM f "
                f"SEMI JOIN (SELECT DISTINCT {keys} FROM read_parquet({lst})) e ON {on} WHERE f._fail IS NULL)"
            )

    def _other_files(self, src: SourceFile, periods: list[str | None]) -> list[Path]:
        """Warehouse files of these partitions produced by other sources than ``src``."""
        own = _own_output(src.stem)
        out: list[Path] = []
        for p in periods:
            d = self.wh.partition_dir(src.table, p)
            if d.is_dir():
                out += [f for f in sorted(d.glob("*.parquet")) if not own.match(f.name)]
        return out

    def _write_and_commit(
        self, src: SourceFile, t: Table, pkey: str | None, res: FileResult, prev: Any
    ) -> None:
        con, wh, cast_cols = self.con, self.wh, self._cast_cols
        stage = self._stage(src)
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        cols = ", ".join(_q(c.name) for c in t.columns)
        # rows of one subscriber together (Table.cluster_by): what the tag build aggregates by
        order = f" ORDER BY {', '.join(_q(c) for c in t.cluster_by)}" if t.cluster_by else ""
        moves: list[tuple[Path, str]] = []  # (staged file, output path relative to the warehouse)
        new_periods: list[str] = []
        if res.accepted:
            if pkey:
                out_dir = stage / "tables"
                if len(self._periods) == 1:
                    # the usual day file: one partition, written without the partitioning pass
                    one = out_dir / f"{pkey}={self._periods[0]}" / "part_0.parquet"
                    one.parent.mkdir(parents=True)
                    con.execute(
                        f"COPY (SELECT {cols} FROM f WHERE _fail IS NULL{order}) TO {_lit(str(one))} "
                        f"(FORMAT parquet, COMPRESSION {COMPRESSION})"
                    )
                else:
                    con.execute(
                        f"COPY (SELECT {cols}, _period AS {pkey} FROM f WHERE _fail IS NULL{order}) TO {_lit(str(out_dir))} "
                        f"(FORMAT parquet, COMPRESSION {COMPRESSION}, PARTITION_BY ({pkey}), FILENAME_PATTERN 'part_{{i}}')"
                    )
                for part in sorted(out_dir.iterdir()):
                    new_periods.append(part.name.split("=", 1)[1])
                    files = sorted(part.glob("*.parquet"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
                    for i, f in enumerate(files):
                        name = f"{src.stem}.parquet" if i == 0 else f"{src.stem}-{i}.parquet"
                        moves.append((f, f"tables/{src.table}/{part.name}/{name}"))
            else:
                f_out = stage / f"{src.stem}.parquet"
                con.execute(
                    f"COPY (SELECT {cols} FROM f WHERE _fail IS NULL{order}) TO {_lit(str(f_out))} "
                    f"(FORMAT parquet, COMPRESSION {COMPRESSION})"
                )
                moves.append((f_out, f"tables/{src.table}/{src.stem}.parquet"))
        if res.quarantined:
            q_out = stage / "quarantine.parquet"
            raw = ", ".join(
                f"CAST({_q(('_r_' if c.name in cast_cols or c.name in self._rules else '') + c.name)} AS VARCHAR) AS {_q(c.name)}"
                for c in t.columns
            )
            rows, raw_line = "(SELECT * FROM f WHERE _fail IS NOT NULL) f", "_raw_line"
            if self._text_buf is not None:  # text: the line as read (without newline and bad-line mark)
                self._register_lines()
                rows += " LEFT JOIN lines_arrow l USING (_row)"
                line = "rtrim(l.line, chr(13) || chr(10))"
                raw_line = (
                    f"coalesce(_raw_line, CASE WHEN starts_with({line}, chr(1)) OR starts_with({line}, chr(2)) "
                    f"THEN {line}[2:] ELSE {line} END)"
                )
            con.execute(
                f"COPY (SELECT {_lit(src.name)} AS source_file, _row AS row_number, "
                "split_part(_fail, ':', 1) AS reason, split_part(_fail, ':', 2) AS column_name, "
                f"{raw_line} AS raw_line, {raw} FROM {rows} ORDER BY _row) "
                f"TO {_lit(str(q_out))} (FORMAT parquet, COMPRESSION {COMPRESSION})"
            )
            moves.append((q_out, f"quarantine/{src.table}/{src.stem}.parquet"))
        self._drop_temp()

        # dirty periods: decided against what other sources put in the table
        corrected = prev is not None and prev.state == "done"
        if pkey:
            old_periods = (
                {p.split("/")[2].split("=", 1)[1] for p in prev.outputs if p.startswith("tables/")}
                if corrected
                else set()
            )
            present = [p for p in wh.periods(src.table) if self._other_files(src, [p])]
            newest = max(present) if present else None
            for p in sorted(set(new_periods) | old_periods):
                if corrected:
                    why = DirtyReason.CORRECTED
                else:
                    why = DirtyReason.LATE if newest is not None and p < newest else DirtyReason.NEW
                res.dirty.append((p, why.value))
        elif res.accepted or corrected:
            res.dirty.append(("*", (DirtyReason.CORRECTED if corrected else DirtyReason.NEW).value))

        outputs = [rel for _, rel in moves]
        assert res.fingerprint is not None
        self.ledger.begin_commit(self.run_id, src.table, src.stem, src.name, res.fingerprint, outputs)
        _fault("before_move")
        old = (set(prev.outputs) | set(prev.pending_outputs)) if prev is not None else set()
        for rel in sorted(old - set(outputs)):
            dest = wh.root / rel
            dest.unlink(missing_ok=True)
            if (
                dest.parent != wh.tables_dir / src.table
                and dest.parent.is_dir()
                and not any(dest.parent.iterdir())
            ):
                dest.parent.rmdir()
        for i, (staged, rel) in enumerate(moves):
            dest = wh.root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, dest)
            if i == 0:
                _fault("mid_move")
        _fault("before_record")
        self.ledger.finish_commit(
            self.run_id,
            src.table,
            src.stem,
            src.name,
            res.fingerprint,
            outputs,
            (res.read, res.accepted, res.quarantined),
            res.reasons,
            res.dirty,
            res.ledger_row(),
            res.normalisations,
        )
        _fault("after_record")
        if res.accepted:
            self.table_changed(src.table)


@contextmanager
def _exclusive(wh: Warehouse) -> Iterator[None]:
    """One ingest at a time per warehouse; the OS drops the lock when a killed run's process dies."""
    import fcntl

    with (wh.root / ".ingest.lock").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestError(f"warehouse {wh.root}: another ingest is running into it") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ingest(
    source_dir: Path, warehouse: Warehouse | Path, options: IngestOptions | None = None
) -> IngestReport:
    """Ingest every model file under ``source_dir`` into ``warehouse``; returns the run's report.

    Reference tables are loaded first (LOAD_ORDER) so foreign keys of the same drop resolve. Files
    already ingested with the same content are skipped; a file that fails is recorded and the run
    goes on. The catalogue is refreshed at the end.
    """
    from tagcloud.progress import job

    options = options or IngestOptions()
    if options.encoding not in ENCODINGS:
        raise IngestError(f"encoding {options.encoding!r}: choose one of {', '.join(ENCODINGS)}")
    wh = warehouse if isinstance(warehouse, Warehouse) else Warehouse(warehouse)
    source_dir = Path(source_dir)
    sources, unrecognised = discover(source_dir)
    started = time.perf_counter()
    wh.root.mkdir(parents=True, exist_ok=True)
    with _exclusive(wh), wh.ledger() as ledger:
        run_id = ledger.start_run(
            str(source_dir), {"encoding": options.encoding, "now": options.now, "threads": options.threads}
        )
        report = IngestReport(run_id, wh.root, [])
        for u in unrecognised:
            fr = FileResult(str(u.path), None, None, FileStatus.UNRECOGNISED, error=f"{u.path}: {u.problem}")
            ledger.record_file(run_id, fr.ledger_row())
            report.files.append(fr)
        run = _Run(wh, ledger, run_id, options)
        try:
            with job("ingest", total=len(sources), quiet=options.quiet) as j:
                for src in sources:
                    fr = run.process(src)
                    report.files.append(fr)
                    j.advance(rows=fr.read, note=Path(src.name).name)
        finally:
            run.close()
        shutil.rmtree(wh.staging_dir, ignore_errors=True)
        wh.refresh_catalog()
        report.seconds = time.perf_counter() - started
        ledger.finish_run(run_id, report.totals())
    return report


def render_report(report: IngestReport, max_files: int = 40) -> list[Any]:
    """Rich renderables: the reconciliation per table, the files with problems, reasons per table."""
    from rich.table import Table as RichTable

    per_table = RichTable(title=f"Reconciliation (run {report.run_id}): read = accepted + quarantined")
    for h in ("table", "files", "read", "accepted", "quarantined", "normalised", "balanced"):
        per_table.add_column(h, justify="left" if h == "table" else "right")
    for name, row in report.by_table().items():
        ok = row["read"] == row["accepted"] + row["quarantined"]
        per_table.add_row(
            name,
            f"{row['files']:,}",
            f"{row['read']:,}",
            f"{row['accepted']:,}",
            f"{row['quarantined']:,}",
            f"{row['normalised']:,}",
            "✓" if ok else "[red]✗",
        )
    per_table.add_row(
        "[bold]total",
        f"{len(report.files):,}",
        f"{report.read:,}",
        f"{report.accepted:,}",
        f"{report.quarantined:,}",
        f"{sum(f.normalised for f in report.files):,}",
        "",
    )
    out: list[Any] = [per_table]

    # a month of day files is hundreds of rows: beyond a screenful, list only files worth a look
    shown = report.files
    if len(shown) > max_files:
        shown = [
            f
            for f in report.files
            if f.status in (FileStatus.FAILED, FileStatus.UNRECOGNISED, FileStatus.SUPERSEDED)
            or f.quarantined
            or f.normalised
            or (f.status in (FileStatus.INGESTED, FileStatus.COPY) and f.notes)
        ]
    hidden = len(report.files) - len(shown)
    files = RichTable(title="Files" + (f" ({hidden:,} clean files not listed)" if hidden else ""))
    for h in ("file", "table", "status", "read", "accepted", "quarantined", "note"):
        files.add_column(h, justify="right" if h in ("read", "accepted", "quarantined") else "left")
    for f in shown:
        fmt = f"{f.encoding}{' ' + repr(f.delimiter) if f.delimiter else ''}" if f.encoding else ""
        norm = ", ".join(f"{k.replace(':', ' ')} {v:,}" for k, v in f.normalisations.items())
        note = f.error or "; ".join(
            x
            for x in [
                ", ".join(f"{k} {v:,}" for k, v in f.reasons.items()),
                f"normalised: {norm}" if norm else "",
                fmt,
                *f.notes,
            ]
            if x
        )
        style = {FileStatus.FAILED: "[red]", FileStatus.UNRECOGNISED: "[yellow]"}.get(f.status, "")
        files.add_row(
            Path(f.source_path).name,
            f.table or "",
            style + f.status.value,
            f"{f.read:,}",
            f"{f.accepted:,}",
            f"{f.quarantined:,}",
            note,
        )
    if shown:
        out.append(files)
    else:
        status = Counter(f.status.value for f in report.files)
        out.append(", ".join(f"{n:,} {s}" for s, n in status.items()) + "; nothing to look at")

    reasons = RichTable(title="Quarantined rows by reason")
    reasons.add_column("table")
    for r in REASON_ORDER:
        reasons.add_column(r.value.replace("_", " "), justify="right")
    any_q = False
    for name in report.by_table():
        rc = report.reasons(name)
        if rc:
            any_q = True
            reasons.add_row(name, *(f"{rc[r.value]:,}" if rc[r.value] else "" for r in REASON_ORDER))
    if any_q:
        out.append(reasons)
    return out


@dataclass
class ClusterResult:
    files: int  # files rewritten
    rows: int
    seconds: float


def cluster(
    warehouse: Warehouse | Path, tables: Sequence[str] | None = None, *, quiet: bool = False
) -> ClusterResult:
    """Rewrite the files of clustered tables (``Table.cluster_by``) sorted by their cluster columns.

    Ingest writes new files sorted; this brings a warehouse ingested before that into the same
    layout. Each file is rewritten beside itself and swapped in by one rename, under the ingest
    lock, so a crash leaves every file either old or new, and the rows are the same either way
    (the row count of each rewritten file is checked before the swap).
    """
    import duckdb

    from tagcloud.progress import job

    wh = warehouse if isinstance(warehouse, Warehouse) else Warehouse(Path(warehouse))
    names = list(tables) if tables else [t for t in TABLES if TABLES[t].cluster_by]
    for t in names:
        if t not in TABLES:
            raise IngestError(f"unknown table {t!r}")
    todo = [(t, f) for t in names if TABLES[t].cluster_by for f in wh.table_files(t)]
    started = time.perf_counter()
    rows = 0
    with _exclusive(wh), job("cluster", total=len(todo), quiet=quiet) as j:
        con = duckdb.connect()
        try:
            for t, f in todo:
                order = ", ".join(_q(c) for c in TABLES[t].cluster_by)
                tmp = f.with_name(f.name + ".cluster.tmp")
                con.execute(
                    f"COPY (SELECT * FROM read_parquet({_lit(str(f))}) ORDER BY {order}) TO {_lit(str(tmp))} "
                    f"(FORMAT parquet, COMPRESSION {COMPRESSION})"
                )
                before, after = _parquet_rows(con, f), _parquet_rows(con, tmp)
                if before != after:
                    tmp.unlink(missing_ok=True)
                    raise IngestError(
                        f"{f}: rewritten with {after:,} rows instead of {before:,}; left as it was"
                    )
                os.replace(tmp, f)
                rows += before
                j.advance(1, rows=before, note=t)
        finally:
            con.close()
    return ClusterResult(len(todo), rows, time.perf_counter() - started)


def _parquet_rows(con: Any, path: Path) -> int:
    row = con.execute(f"SELECT count(*) FROM read_parquet({_lit(str(path))})").fetchone()
    return int(row[0]) if row else 0
