"""The embedded default engine: DuckDB in process."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from tagcloud.tags.engines.base import Engine


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class DuckDBEngine(Engine):
    name: ClassVar[str] = "duckdb"
    dialect: ClassVar[str] = "duckdb"
    # 1 M subscribers × 30 days on 2 cores (bench/build.py --compare-slices): the whole build 440.9 s
    # with every source in one piece, 401.8 s in 10 slices; identical tables (docs/decisions/0011).
    slice_subscribers: ClassVar[int] = 100_000

    def __init__(self, threads: int | None = None, memory_limit: str | None = None) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute(f"SET threads = {threads or os.cpu_count() or 1}")
        if memory_limit:
            self.con.execute(f"SET memory_limit = {_lit(memory_limit)}")
        # Keep row order stable and memory bounded on wide results.
        self.con.execute("SET preserve_insertion_order = false")

    def register_files(
        self,
        name: str,
        files: Sequence[Path],
        base: Path | None,
        schema: Mapping[str, str],
        where: str | None = None,
    ) -> None:
        if not files:
            self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {self.empty_select(schema)}')
            return
        paths = "[" + ", ".join(_lit(str(f.resolve())) for f in files) + "]"
        hive = ", hive_partitioning = true, hive_types_autocast = false" if base is not None else ""
        cols = ", ".join(f'"{c}"' for c in schema)
        sql = f'CREATE OR REPLACE VIEW "{name}" AS SELECT {cols} FROM read_parquet({paths}{hive}, union_by_name = true)'
        if where:
            sql += f" WHERE {where}"
        self.con.execute(sql)

    def register_query(self, name: str, sql: str) -> None:
        self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')

    def register_arrow(self, name: str, table: Any) -> None:
        self.con.register(f"_arrow_{name}", table)
        self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM "_arrow_{name}"')

    def write_parquet(self, sql: str, path: Path) -> int:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.parquet")
        self.con.execute(f"COPY ({sql}) TO {_lit(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
        os.replace(tmp, path)
        row = self.con.execute(f"SELECT count(*) FROM read_parquet({_lit(str(path))})").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.con.close()
