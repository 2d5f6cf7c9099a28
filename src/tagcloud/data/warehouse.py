"""The warehouse: Parquet files partitioned as the model says, a DuckDB catalogue and a ledger.

Layout (a contract other parts rely on)::

    WAREHOUSE/tables/<table>/day=YYYY-MM-DD/<source-stem>.parquet     day-partitioned events
    WAREHOUSE/tables/<table>/month=YYYY-MM/<source-stem>.parquet      month-partitioned facts
    WAREHOUSE/tables/<table>/<source-stem>.parquet                    reference and snapshot tables
    WAREHOUSE/quarantine/<table>/<source-stem>.parquet                refused rows with their reason
    WAREHOUSE/catalog.duckdb                                          one view per table (for tools)
    WAREHOUSE/ledger.sqlite                                           ingest runs, files, dirty periods

Use :meth:`Warehouse.connect` to query: it returns an in-memory DuckDB connection with one view per
table present (``SELECT … FROM voice_cdr``), a ``quarantine_<table>`` view per quarantined table and
a ``quarantine`` view over all of them. It never locks the catalogue file, so it is safe to use while
an ingest runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tagcloud.data.model import TABLES, Partitioning

if TYPE_CHECKING:
    import duckdb

    from tagcloud.data.ledger import Ledger

WAREHOUSE_ENV = "TAGCLOUD_WAREHOUSE"
DEFAULT_WAREHOUSE = Path("var/warehouse")


def default_warehouse() -> Path:
    """``$TAGCLOUD_WAREHOUSE`` if set, else ``var/warehouse`` relative to the working directory."""
    env = os.environ.get(WAREHOUSE_ENV)
    return Path(env) if env else DEFAULT_WAREHOUSE


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def partition_key(p: Partitioning) -> str | None:
    """The hive folder key of a partitioning (``day`` / ``month``), or None for unpartitioned tables."""
    return {Partitioning.DAY: "day", Partitioning.MONTH: "month"}.get(p)


@dataclass(frozen=True)
class Warehouse:
    """A warehouse folder. Cheap to create; nothing is read until asked."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # --- paths -------------------------------------------------------------------------------
    @property
    def tables_dir(self) -> Path:
        return self.root / "tables"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def staging_dir(self) -> Path:
        """Work area of a running ingest; files move from here into place by atomic rename."""
        return self.root / "_staging"

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.duckdb"

    @property
    def ledger_path(self) -> Path:
        return self.root / "ledger.sqlite"

    def table_dir(self, table: str) -> Path:
        return self.tables_dir / table

    def partition_dir(self, table: str, period: str | None) -> Path:
        """Folder of one partition (``period`` like ``2026-11-01`` or ``2026-11``), or the table folder."""
        key = partition_key(TABLES[table].partition)
        if key is None or period is None:
            return self.table_dir(table)
        return self.table_dir(table) / f"{key}={period}"

    # --- what is there ---------------------------------------------------------------------------
    def table_files(self, table: str) -> list[Path]:
        """All Parquet files of a table, sorted."""
        d = self.table_dir(table)
        if not d.is_dir():
            return []
        pattern = "*.parquet" if partition_key(TABLES[table].partition) is None else "*=*/*.parquet"
        return sorted(d.glob(pattern))

    def tables(self) -> list[str]:
        """Model tables that have at least one file, in load order."""
        return [t for t in TABLES if self.table_files(t)]

    def periods(self, table: str) -> list[str]:
        """Partition values present for a table (``YYYY-MM-DD`` or ``YYYY-MM``), sorted; [] if unpartitioned."""
        key = partition_key(TABLES[table].partition)
        d = self.table_dir(table)
        if key is None or not d.is_dir():
            return []
        return sorted(
            p.name.split("=", 1)[1]
            for p in d.iterdir()
            if p.is_dir() and p.name.startswith(f"{key}=") and any(p.glob("*.parquet"))
        )

    def quarantine_files(self, table: str) -> list[Path]:
        d = self.quarantine_dir / table
        return sorted(d.glob("*.parquet")) if d.is_dir() else []

    def ledger(self) -> Ledger:
        """The ingest ledger (created if absent)."""
        from tagcloud.data.ledger import Ledger

        self.root.mkdir(parents=True, exist_ok=True)
        return Ledger(self.ledger_path)

    # --- querying --------------------------------------------------------------------------------
    def view_sql(self, table: str) -> str | None:
        """``CREATE VIEW`` statement of one table over its Parquet files, or None if it has none."""
        if not self.table_files(table):
            return None
        key = partition_key(TABLES[table].partition)
        base = self.table_dir(table).resolve()
        if key is None:
            src = f"read_parquet({_sql_str(str(base / '*.parquet'))})"
        else:
            # hive_types_autocast off: day=2026-11-01 would become a DATE and month= stay text;
            # both stay text so that a period compares the same way everywhere.
            src = (
                f"read_parquet({_sql_str(str(base / '*=*' / '*.parquet'))}, hive_partitioning = true, "
                "hive_types_autocast = false)"
            )
        return f'CREATE OR REPLACE VIEW "{table}" AS SELECT * FROM {src}'

    def _quarantine_view_sql(self, table: str) -> str | None:
        if not self.quarantine_files(table):
            return None
        path = (self.quarantine_dir / table).resolve() / "*.parquet"
        return (
            f'CREATE OR REPLACE VIEW "quarantine_{table}" AS SELECT {_sql_str(table)} AS table_name, * '
            f"FROM read_parquet({_sql_str(str(path))}, union_by_name = true)"
        )

    def _create_views(self, con: duckdb.DuckDBPyConnection) -> None:
        q_tables = []
        for t in TABLES:
            sql = self.view_sql(t)
            if sql:
                con.execute(sql)
            qsql = self._quarantine_view_sql(t)
            if qsql:
                con.execute(qsql)
                q_tables.append(t)
        if q_tables:
            cols = "table_name, source_file, row_number, reason, column_name, raw_line"
            union = " UNION ALL ".join(f'SELECT {cols} FROM "quarantine_{t}"' for t in q_tables)
            con.execute(f"CREATE OR REPLACE VIEW quarantine AS {union}")

    def connect(self, threads: int | None = None) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with a view per table present and the quarantine views."""
        import duckdb

        con = duckdb.connect()
        con.execute(f"SET threads = {threads or os.cpu_count() or 1}")
        self._create_views(con)
        return con

    def refresh_catalog(self) -> None:
        """Rewrite ``catalog.duckdb`` (views with absolute paths) for tools such as the duckdb CLI."""
        import duckdb

        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.catalog_path.with_suffix(".duckdb.tmp")
        tmp.unlink(missing_ok=True)
        con = duckdb.connect(str(tmp))
        try:
            self._create_views(con)
        finally:
            con.close()
        os.replace(tmp, self.catalog_path)


def status(wh: Warehouse) -> dict[str, object]:
    """What the warehouse holds: per table its files, rows, periods and quarantined rows; the
    latest ingest runs; the dirty periods not yet consumed, per table and reason."""
    con = wh.connect()
    quarantined: dict[str, int] = {}
    if any(wh.quarantine_files(t) for t in TABLES):
        quarantined = dict(con.execute("SELECT table_name, count(*) FROM quarantine GROUP BY ALL").fetchall())
    tables = []
    for t in wh.tables():
        periods = wh.periods(t)
        rows = con.execute(f'SELECT count(*) FROM "{t}"').fetchone()
        tables.append(
            {
                "table": t,
                "files": len(wh.table_files(t)),
                "rows": rows[0] if rows else 0,
                "periods": len(periods),
                "first": periods[0] if periods else None,
                "last": periods[-1] if periods else None,
                "quarantined": quarantined.get(t, 0),
            }
        )
    runs: list[tuple[object, ...]] = []
    dirty: dict[tuple[str, str], int] = {}
    if wh.ledger_path.exists():
        with wh.ledger() as led:
            runs = led.con.execute(
                "SELECT run_id, status, started_at, files_total, files_failed, rows_read, rows_accepted, "
                "rows_quarantined FROM runs ORDER BY run_id DESC LIMIT 5"
            ).fetchall()
            for d in led.dirty_periods():
                dirty[(d.table_name, d.reason)] = dirty.get((d.table_name, d.reason), 0) + 1
    return {"tables": tables, "runs": runs, "dirty": dirty}
