"""The ingest ledger (``WAREHOUSE/ledger.sqlite``): what was ingested, from where, with what result.

Tables:

- ``runs``: one row per ``tagcloud ingest`` (status running / finished / interrupted).
- ``files``: one row per source file seen by a run, with its fingerprint, status and counts.
- ``reason_counts``: quarantined rows per run, file and reason.
- ``normalised_counts``: values rewritten to the canonical form per run, file, column and kind
  (``tagcloud.data.normalise.Normalisation``); ``files.summary`` says in one paragraph what
  happened to the file, ``files.notes`` the remarks (a stream that ended early, a copy skipped …).
- ``sources``: the current state of each source (table, stem): its fingerprint and the warehouse and
  quarantine files it produced. ``state = 'committing'`` means a run died while moving its outputs
  into place; the next run reprocesses that source.
- ``dirty_periods``: partitions to rebuild, with reason new / late / corrected; the tag builder
  consumes them (``consumed_at``).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    source_dir TEXT NOT NULL,
    options TEXT NOT NULL,
    status TEXT NOT NULL,
    files_total INTEGER, files_failed INTEGER, files_unrecognised INTEGER,
    rows_read INTEGER, rows_accepted INTEGER, rows_quarantined INTEGER
);
CREATE TABLE IF NOT EXISTS files (
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    source_path TEXT NOT NULL,
    table_name TEXT,
    stem TEXT,
    fingerprint TEXT,
    size_bytes INTEGER,
    status TEXT NOT NULL,
    error TEXT,
    encoding TEXT,
    delimiter TEXT,
    rows_read INTEGER NOT NULL DEFAULT 0,
    rows_accepted INTEGER NOT NULL DEFAULT 0,
    rows_quarantined INTEGER NOT NULL DEFAULT 0,
    seconds REAL,
    recorded_at TEXT NOT NULL,
    rows_normalised INTEGER NOT NULL DEFAULT 0,
    notes TEXT,
    summary TEXT
);
CREATE TABLE IF NOT EXISTS reason_counts (
    run_id INTEGER NOT NULL, source_path TEXT NOT NULL, table_name TEXT NOT NULL,
    reason TEXT NOT NULL, rows INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS normalised_counts (
    run_id INTEGER NOT NULL, source_path TEXT NOT NULL, table_name TEXT NOT NULL,
    column_name TEXT NOT NULL, kind TEXT NOT NULL, "values" INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
    table_name TEXT NOT NULL,
    stem TEXT NOT NULL,
    source_path TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    rows_read INTEGER, rows_accepted INTEGER, rows_quarantined INTEGER,
    outputs TEXT NOT NULL,
    pending_outputs TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (table_name, stem)
);
CREATE TABLE IF NOT EXISTS dirty_periods (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    period TEXT NOT NULL,
    reason TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    source_stem TEXT NOT NULL,
    created_at TEXT NOT NULL,
    consumed_at TEXT
);
"""


# files columns added since the first ledgers were written (added to an older ledger on open)
_ADDED_FILE_COLUMNS = {
    "rows_normalised": "INTEGER NOT NULL DEFAULT 0",
    "notes": "TEXT",
    "summary": "TEXT",
}


class FileStatus(StrEnum):
    """What a run did with one source file."""

    INGESTED = "ingested"  # read, validated and written (new or corrected content)
    UNCHANGED = "unchanged"  # same content as already ingested under that name: nothing to do
    SUPERSEDED = "superseded"  # a snapshot older than the one already loaded: kept out, nothing written
    COPY = "copy"  # the same bytes as another source of the table already ingested: not read again
    FAILED = "failed"  # file-level failure (damaged, wrong columns, empty …): nothing written
    UNRECOGNISED = "unrecognised"  # not a model table, or not a readable file type


class DirtyReason(StrEnum):
    """Why a partition must be rebuilt by the tag builder."""

    NEW = "new"  # a period newer than (or equal to) the newest already present
    LATE = "late"  # a file for a period older than the newest already present
    CORRECTED = "corrected"  # a source file came again with different content


@dataclass(frozen=True)
class SourceState:
    table_name: str
    stem: str
    source_path: str
    fingerprint: str
    state: str  # 'done' or 'committing'
    outputs: tuple[str, ...]
    pending_outputs: tuple[str, ...]


@dataclass(frozen=True)
class DirtyPeriod:
    id: int
    table_name: str
    period: str  # YYYY-MM-DD, YYYY-MM, or '*' for an unpartitioned table
    reason: str
    run_id: int
    source_stem: str


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


class Ledger:
    """Small typed access to ``ledger.sqlite``. Each method is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=FULL")  # a recorded file must survive a power cut
        self.con.executescript(SCHEMA)
        have = {r[1] for r in self.con.execute("PRAGMA table_info(files)")}
        for col, decl in _ADDED_FILE_COLUMNS.items():
            if col not in have:
                self.con.execute(f"ALTER TABLE files ADD COLUMN {col} {decl}")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- runs ------------------------------------------------------------------------------------
    def start_run(self, source_dir: str, options: dict[str, object]) -> int:
        """Open a run; runs left 'running' by a killed process become 'interrupted'."""
        with self.con:
            self.con.execute("BEGIN")
            self.con.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running'")
            cur = self.con.execute(
                "INSERT INTO runs (started_at, source_dir, options, status) VALUES (?, ?, ?, 'running')",
                (_now(), source_dir, json.dumps(options, default=str)),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_run(self, run_id: int, totals: dict[str, int]) -> None:
        with self.con:
            self.con.execute("BEGIN")
            self.con.execute(
                "UPDATE runs SET status='finished', finished_at=?, files_total=?, files_failed=?, "
                "files_unrecognised=?, rows_read=?, rows_accepted=?, rows_quarantined=? WHERE run_id=?",
                (
                    _now(),
                    totals["files_total"],
                    totals["files_failed"],
                    totals["files_unrecognised"],
                    totals["rows_read"],
                    totals["rows_accepted"],
                    totals["rows_quarantined"],
                    run_id,
                ),
            )

    # --- sources ---------------------------------------------------------------------------------
    def source(self, table: str, stem: str) -> SourceState | None:
        row = self.con.execute(
            "SELECT table_name, stem, source_path, fingerprint, state, outputs, pending_outputs "
            "FROM sources WHERE table_name = ? AND stem = ?",
            (table, stem),
        ).fetchone()
        if row is None:
            return None
        return SourceState(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            tuple(json.loads(row[5])),
            tuple(json.loads(row[6] or "[]")),
        )

    def same_content(self, table: str, fingerprint: str, stem: str) -> SourceState | None:
        """Another source of ``table`` already ingested with exactly this content, if any."""
        row = self.con.execute(
            "SELECT stem FROM sources WHERE table_name = ? AND fingerprint = ? AND stem <> ? "
            "AND state = 'done' ORDER BY updated_at LIMIT 1",
            (table, fingerprint, stem),
        ).fetchone()
        return self.source(table, row[0]) if row else None

    def begin_commit(
        self, run_id: int, table: str, stem: str, source_path: str, fingerprint: str, outputs: list[str]
    ) -> None:
        """Record the outputs about to be moved into place (so a crash in between can be undone)."""
        with self.con:
            self.con.execute("BEGIN")
            self.con.execute(
                "INSERT INTO sources (table_name, stem, source_path, fingerprint, state, run_id, outputs, "
                "pending_outputs, updated_at) VALUES (?, ?, ?, ?, 'committing', ?, '[]', ?, ?) "
                "ON CONFLICT (table_name, stem) DO UPDATE SET state='committing', "
                "pending_outputs=excluded.pending_outputs, run_id=excluded.run_id, "
                "updated_at=excluded.updated_at",
                (table, stem, source_path, fingerprint, run_id, json.dumps(outputs), _now()),
            )

    def finish_commit(
        self,
        run_id: int,
        table: str,
        stem: str,
        source_path: str,
        fingerprint: str,
        outputs: list[str],
        counts: tuple[int, int, int],
        reasons: dict[str, int],
        dirty: list[tuple[str, str]],
        file_row: dict[str, object],
        normalised: dict[str, int] | None = None,
    ) -> None:
        """Mark a source done, with its file record, reason counts and dirty periods, atomically."""
        read, accepted, quarantined = counts
        with self.con:
            self.con.execute("BEGIN")
            self.con.execute(
                "UPDATE sources SET source_path=?, fingerprint=?, state='done', run_id=?, rows_read=?, "
                "rows_accepted=?, rows_quarantined=?, outputs=?, pending_outputs=NULL, updated_at=? "
                "WHERE table_name=? AND stem=?",
                (
                    source_path,
                    fingerprint,
                    run_id,
                    read,
                    accepted,
                    quarantined,
                    json.dumps(outputs),
                    _now(),
                    table,
                    stem,
                ),
            )
            self.con.executemany(
                "INSERT INTO reason_counts VALUES (?, ?, ?, ?, ?)",
                [(run_id, source_path, table, r, n) for r, n in reasons.items()],
            )
            self.con.executemany(
                "INSERT INTO normalised_counts VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (run_id, source_path, table, *key.split(":", 1), n)
                    for key, n in (normalised or {}).items()
                ],
            )
            self.con.executemany(
                "INSERT INTO dirty_periods (table_name, period, reason, run_id, source_stem, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(table, p, why, run_id, stem, _now()) for p, why in dirty],
            )
            self._insert_file(run_id, file_row)

    def record_file(self, run_id: int, file_row: dict[str, object]) -> None:
        """Record a file that produced nothing (unchanged, failed, unrecognised)."""
        with self.con:
            self.con.execute("BEGIN")
            self._insert_file(run_id, file_row)

    def _insert_file(self, run_id: int, f: dict[str, object]) -> None:
        cols = [
            "source_path",
            "table_name",
            "stem",
            "fingerprint",
            "size_bytes",
            "status",
            "error",
            "encoding",
            "delimiter",
            "rows_read",
            "rows_accepted",
            "rows_quarantined",
            "rows_normalised",
            "notes",
            "summary",
            "seconds",
        ]
        self.con.execute(
            f"INSERT INTO files (run_id, {', '.join(cols)}, recorded_at) VALUES (?, {', '.join('?' * len(cols))}, ?)",
            (run_id, *(f.get(c) for c in cols), _now()),
        )

    # --- dirty periods -------------------------------------------------------------------------
    def dirty_periods(self, table: str | None = None, include_consumed: bool = False) -> list[DirtyPeriod]:
        """Dirty periods not yet consumed (all if ``include_consumed``), oldest first."""
        sql = "SELECT id, table_name, period, reason, run_id, source_stem FROM dirty_periods WHERE 1=1"
        args: list[object] = []
        if table is not None:
            sql += " AND table_name = ?"
            args.append(table)
        if not include_consumed:
            sql += " AND consumed_at IS NULL"
        return [DirtyPeriod(*r) for r in self.con.execute(sql + " ORDER BY id", args).fetchall()]

    def consume_dirty(self, ids: list[int]) -> None:
        """Mark dirty periods as rebuilt (called by the tag builder after a successful build)."""
        with self.con:
            self.con.execute("BEGIN")
            self.con.executemany(
                "UPDATE dirty_periods SET consumed_at = ? WHERE id = ?", [(_now(), i) for i in ids]
            )
