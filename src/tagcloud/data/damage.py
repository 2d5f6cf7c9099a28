"""A deliberately damaged copy of a clean export, and the manifest of what ingestion must report.

``damage(clean, out, seed)`` copies the export, rewrites one file of each event / fact table as
delimited text (``,`` ``|`` or tab; one in GBK) with a few rows broken in each way the checks know,
adds damaged files (truncated Parquet, binary garbage, wrong header, empty file) and stray files,
and writes ``out/damage_manifest.json``::

    {"seed": 7,
     "expected_reasons": {"voice_cdr": {"bad_code": 3, ...}, ...},
     "expected_rows": {"voice_cdr": {"read": 60012, "accepted": 59976, "quarantined": 36}, ...},
     "failed_files": [{"path": "voice_cdr/voice_cdr_truncated.parquet", "problem": "truncated parquet"}],
     "unrecognised_files": ["notes.xlsx", ...],
     "damaged_files": {"voice_cdr/voice_cdr_20261001.csv": {"delimiter": "|", "encoding": "utf-8"}}}

Only tables nothing references are damaged, so no damage spills into another table's checks.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tagcloud.data.model import MOBILE_NUMBER, TABLES, Column, Partitioning, Table
from tagcloud.data.quarantine import Reason

ROWS_PER_REASON = 3
_REFERENCED = {c.references.split(".")[0] for t in TABLES.values() for c in t.columns if c.references}


class DamageError(Exception):
    """The clean export cannot be damaged (missing, not empty output, nothing to damage)."""


def _applicable(t: Table) -> dict[Reason, Column | None]:
    """For each reason this table can show, the column to break (None: the row as a whole)."""
    out: dict[Reason, Column | None] = {Reason.ENCODING_ERROR: None, Reason.TRUNCATED_ROW: None}
    cols = list(t.columns)
    typed = [c for c in cols if c.type.upper() not in ("VARCHAR",) and c.name != t.time_column]
    if typed:
        out[Reason.BAD_TYPE] = typed[0]
    # a NOT NULL text column without pattern/code/reference, else any NOT NULL column
    notnull = [c for c in cols if not c.nullable]
    if notnull:
        out[Reason.MISSING_VALUE] = next((c for c in notnull if c.name == "msisdn"), notnull[0])
    pat = [c for c in cols if c.pattern == MOBILE_NUMBER]
    if pat:
        out[Reason.BAD_NUMBER_FORMAT] = pat[0]
    coded = [c for c in cols if c.codes]
    if coded:
        out[Reason.BAD_CODE] = coded[0]
    ranged = [c for c in cols if c.max is not None and c.unit != "s"] + [
        c for c in cols if c.max is not None and c.unit == "s"
    ]
    if ranged:
        out[Reason.OUT_OF_RANGE] = ranged[0]
    dur = [c for c in cols if c.unit == "s"]
    if dur:
        out[Reason.NEGATIVE_DURATION] = dur[0]
    if t.time_column:
        out[Reason.TIMESTAMP_OUT_OF_RANGE] = t.column(t.time_column)
    for c in cols:
        if c.references == "cells.cell_id":
            out[Reason.UNKNOWN_CELL] = c
        elif c.references:
            out.setdefault(Reason.UNKNOWN_REFERENCE, c)
    out[Reason.DUPLICATE] = None
    return out


def _bad_value(reason: Reason, c: Column) -> str:
    if reason is Reason.BAD_TYPE:
        return "not-a-" + c.type.split("(")[0].lower()
    if reason is Reason.MISSING_VALUE:
        return ""
    if reason is Reason.BAD_NUMBER_FORMAT:
        return "1380013"  # too short for a mobile number
    if reason is Reason.BAD_CODE:
        return "NO_SUCH_CODE"
    if reason is Reason.OUT_OF_RANGE:
        assert c.max is not None
        return str(int(c.max) + 1)
    if reason is Reason.NEGATIVE_DURATION:
        return "-5"
    if reason is Reason.TIMESTAMP_OUT_OF_RANGE:
        return "1999-12-31" if c.type.upper() == "DATE" else "1999-12-31 23:59:59"
    if reason is Reason.UNKNOWN_CELL:
        return "NOSUCHCELL99"
    return "NO_SUCH_REFERENCE"


def _file_lines(path: Path, t: Table, delimiter: str) -> tuple[list[str], str]:
    """Header + lines of a source file as text, and the delimiter actually used."""
    if path.suffix.lower() == ".parquet":
        import duckdb

        from tagcloud.data.fixtures import _text_lines

        tbl = duckdb.connect().sql(f"SELECT * FROM read_parquet('{path}')").to_arrow_table()
        for d in (delimiter, "|", "\t", ","):
            lines = _text_lines(tbl, d)
            if all(line.count(d) == len(t.columns) - 1 for line in lines):
                return lines, d
        raise DamageError(f"{path}: values contain every delimiter; cannot write it as text")
    from tagcloud.data.ingest import detect_encoding, sniff_header

    data = path.read_bytes()
    text = data.decode(detect_encoding(data))
    lines = [ln.rstrip("\r") for ln in text.split("\n") if ln.strip("\r")]
    d, _ = sniff_header(lines[0].lstrip("\ufeff"), t, path)
    return lines, d


def _rows_in(path: Path) -> int:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    # count on bytes: a damaged line may not decode, but it is still a row read
    return sum(1 for ln in path.read_bytes().split(b"\n") if ln.strip(b"\r")) - 1


def damage(
    clean_dir: Path, out_dir: Path, seed: int = 7, rows_per_reason: int = ROWS_PER_REASON
) -> dict[str, Any]:
    """Write the damaged copy of ``clean_dir`` into ``out_dir``; returns (and writes) the manifest."""
    import random

    from tagcloud.data.ingest import discover

    clean_dir, out_dir = Path(clean_dir), Path(out_dir)
    if not clean_dir.is_dir():
        raise DamageError(f"clean export {clean_dir}: not a directory")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise DamageError(f"output {out_dir}: exists and is not empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(clean_dir, out_dir, dirs_exist_ok=True)
    rng = random.Random(seed)
    sources, _ = discover(out_dir)
    by_table: dict[str, list[Path]] = {}
    for s in sources:
        by_table.setdefault(s.table, []).append(s.path)

    reasons: dict[str, dict[str, int]] = {}
    damaged_files: dict[str, dict[str, str]] = {}
    delims = [",", "|", "\t"]
    targets = [
        t
        for t in TABLES
        if t in by_table and t not in _REFERENCED and TABLES[t].partition is not Partitioning.NONE
    ]
    if not targets:
        raise DamageError(f"{clean_dir}: no event or fact table files to damage")
    for i, name in enumerate(targets):
        t = TABLES[name]
        path = rng.choice(sorted(by_table[name]))
        lines, d = _file_lines(path, t, delims[i % 3])
        header, rows = lines[0], lines[1:]
        plan = _applicable(t)
        need = len(plan) * rows_per_reason
        if len(rows) < need + rows_per_reason:
            continue  # too small to damage without touching the same row twice
        picked = rng.sample(range(len(rows)), need + rows_per_reason)
        spare = picked[need:]  # untouched rows that get a duplicate copy
        bad_bytes: set[int] = set()
        counts: dict[str, int] = {}
        for j, (reason, col) in enumerate(plan.items()):
            for r in picked[j * rows_per_reason : (j + 1) * rows_per_reason]:
                fields = rows[r].split(d)
                if reason is Reason.ENCODING_ERROR:
                    bad_bytes.add(r)
                elif reason is Reason.TRUNCATED_ROW:
                    rows[r] = d.join(fields[: max(1, len(fields) // 2)])
                elif reason is Reason.DUPLICATE:
                    rows.append(rows[spare.pop()])
                else:
                    assert col is not None
                    fields[t.column_names.index(col.name)] = _bad_value(reason, col)
                    rows[r] = d.join(fields)
                counts[reason.value] = counts.get(reason.value, 0) + 1
        encoding = "gbk" if i == 1 else "utf-8"
        parts = []
        for k, line in enumerate([header, *rows]):
            b = line.encode(encoding)
            # 0xFF is neither a UTF-8 byte nor a GBK lead byte: the line cannot decode in either
            parts.append(b + b"\xff\xfe" if (k - 1) in bad_bytes else b)
        new = path.with_suffix(".csv") if path.suffix.lower() != ".csv" else path
        path.unlink()
        new.write_bytes(b"\n".join(parts) + b"\n")
        reasons[name] = counts
        damaged_files[str(new.relative_to(out_dir))] = {
            "delimiter": {"\t": "tab"}.get(d, d),
            "encoding": encoding,
        }

    # file-level damage: new files next to the good ones, so nothing good is lost
    failed: list[dict[str, str]] = []
    ev = targets[0]
    a_parquet = next(
        (p for t in by_table for p in by_table[t] if p.suffix == ".parquet" and p.exists()), None
    )
    if a_parquet is not None:
        data = a_parquet.read_bytes()
        dest = a_parquet.parent / f"{a_parquet.parent.name}_truncated.parquet"
        dest.write_bytes(data[: len(data) // 2])
        failed.append({"path": str(dest.relative_to(out_dir)), "problem": "truncated parquet"})
    garbage = out_dir / ev / f"{ev}_garbage.csv"
    garbage.write_bytes(bytes(rng.getrandbits(8) for _ in range(4096)))
    failed.append({"path": str(garbage.relative_to(out_dir)), "problem": "binary garbage"})
    wrong = out_dir / ev / f"{ev}_wrongheader.csv"
    wrong.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    failed.append({"path": str(wrong.relative_to(out_dir)), "problem": "wrong header"})
    empty = out_dir / ev / f"{ev}_empty.csv"
    empty.write_bytes(b"")
    failed.append({"path": str(empty.relative_to(out_dir)), "problem": "empty file"})
    stray = [out_dir / "notes.xlsx", out_dir / "unknown_table_20261001.csv"]
    stray[0].write_bytes(b"PK\x03\x04 not really a spreadsheet")
    stray[1].write_text("x,y\n1,2\n", encoding="utf-8")

    # expected rows per table: everything readable, the duplicate copies included
    sources, _ = discover(out_dir)
    failed_paths = {out_dir / f["path"] for f in failed}
    expected_rows: dict[str, dict[str, int]] = {}
    for s in sources:
        if s.path in failed_paths:
            continue
        row = expected_rows.setdefault(s.table, {"read": 0, "accepted": 0, "quarantined": 0})
        row["read"] += _rows_in(s.path)
    for name, row in expected_rows.items():
        q = sum(reasons.get(name, {}).values())
        row["quarantined"] = q
        row["accepted"] = row["read"] - q
    manifest = {
        "seed": seed,
        "expected_reasons": reasons,
        "expected_rows": expected_rows,
        "failed_files": failed,
        "unrecognised_files": [str(p.relative_to(out_dir)) for p in stray],
        "damaged_files": damaged_files,
    }
    (out_dir / "damage_manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return manifest
