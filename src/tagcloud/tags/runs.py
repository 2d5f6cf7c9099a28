"""Build runs (``WAREHOUSE/tags/runs.sqlite``): per build and per column its rows, seconds, coverage
and coverage drift against the previous run of the same period, large drifts flagged."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tagcloud.tags.catalogue import Catalogue, Tag
    from tagcloud.tags.results import BuildResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS builds (
    build_id TEXT PRIMARY KEY, engine TEXT NOT NULL, period TEXT NOT NULL,
    window_start TEXT NOT NULL, window_end TEXT NOT NULL, finished_at TEXT NOT NULL,
    rows INTEGER NOT NULL, seconds REAL NOT NULL, rows_scanned INTEGER NOT NULL,
    sources_built TEXT NOT NULL, sources_reused TEXT NOT NULL, skipped_tags TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS build_columns (
    build_id TEXT NOT NULL REFERENCES builds(build_id), name TEXT NOT NULL, kind TEXT NOT NULL,
    source TEXT NOT NULL, rows INTEGER NOT NULL, seconds REAL NOT NULL, coverage REAL NOT NULL,
    previous_coverage REAL, drift REAL, flagged INTEGER NOT NULL,
    PRIMARY KEY (build_id, name)
);
"""


def coverage(wide: Path, cat: Catalogue, tags: list[Tag]) -> dict[str, float]:
    """Share of subscribers each column covers: TRUE for flags, non-NULL otherwise (one scan)."""
    import duckdb

    from tagcloud.tags.catalogue import AttrKind, TagKind

    exprs = []
    names = []
    for a in cat.attributes.values():
        names.append(a.id)
        if a.kind == AttrKind.FLAG:
            exprs.append(f'avg(CASE WHEN "{a.id}" THEN 1.0 ELSE 0.0 END)')
        elif a.kind == AttrKind.NUMBER:
            # a count that is 0 for everyone covers no one: non-NULL and non-zero
            exprs.append(f'avg(CASE WHEN "{a.id}" IS NOT NULL AND "{a.id}" <> 0 THEN 1.0 ELSE 0.0 END)')
        else:
            exprs.append(f'avg(CASE WHEN "{a.id}" IS NOT NULL THEN 1.0 ELSE 0.0 END)')
    for t in tags:
        names.append(t.id)
        if t.kind == TagKind.FLAG:
            exprs.append(f'avg(CASE WHEN "{t.id}" THEN 1.0 ELSE 0.0 END)')
        else:
            exprs.append(f'avg(CASE WHEN "{t.id}" IS NOT NULL THEN 1.0 ELSE 0.0 END)')
    con = duckdb.connect()
    try:
        path = str(wide).replace("'", "''")
        row = con.execute(f"SELECT {', '.join(exprs)} FROM read_parquet('{path}')").fetchone()
    finally:
        con.close()
    return {n: float(v or 0.0) for n, v in zip(names, row or (), strict=True)}


class RunLog:
    """The build-run record; a small SQLite file next to the warehouse."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(path)
        self.con.executescript(SCHEMA)

    def last_coverage(self, period: str) -> dict[str, float]:
        """Coverage per column in the previous build of ``period`` (or of any period if none)."""
        row = (
            self.con.execute(
                "SELECT build_id FROM builds WHERE period = ? ORDER BY finished_at DESC LIMIT 1", (period,)
            ).fetchone()
            or self.con.execute("SELECT build_id FROM builds ORDER BY finished_at DESC LIMIT 1").fetchone()
        )
        if row is None:
            return {}
        return dict(self.con.execute("SELECT name, coverage FROM build_columns WHERE build_id = ?", row))

    def record(self, r: BuildResult) -> None:
        from datetime import UTC, datetime

        with self.con:
            self.con.execute(
                "INSERT INTO builds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    r.build_id,
                    r.engine,
                    r.window.label,
                    r.window.start.isoformat(),
                    r.window.end.isoformat(),
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    r.rows,
                    r.seconds,
                    r.rows_scanned,
                    ",".join(r.sources_built),
                    ",".join(r.sources_reused),
                    ",".join(r.skipped_tags),
                ),
            )
            self.con.executemany(
                "INSERT INTO build_columns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.build_id,
                        c.name,
                        c.kind,
                        c.source,
                        c.rows,
                        c.seconds,
                        c.coverage,
                        c.previous,
                        c.drift,
                        int(c.flagged),
                    )
                    for c in r.columns
                ],
            )

    def builds(self, limit: int = 20) -> list[dict[str, Any]]:
        cur = self.con.execute("SELECT * FROM builds ORDER BY finished_at DESC LIMIT ?", (limit,))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def column_history(self, name: str, limit: int = 10) -> list[dict[str, Any]]:
        cur = self.con.execute(
            "SELECT b.build_id, b.period, b.engine, b.finished_at, c.rows, c.seconds, c.coverage, c.drift, c.flagged "
            "FROM build_columns c JOIN builds b USING (build_id) WHERE c.name = ? ORDER BY b.finished_at DESC LIMIT ?",
            (name, limit),
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def close(self) -> None:
        self.con.close()
