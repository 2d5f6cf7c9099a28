"""The engine interface: register relations, run a query into a Parquet file. SQL is written once,
in DuckDB's dialect; an engine whose dialect differs gets it through SQLGlot's transpiler."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar


class Engine(ABC):
    name: ClassVar[str]
    dialect: ClassVar[str]  # SQLGlot dialect the engine speaks
    # COUNT(DISTINCT x) as SIZE(COLLECT_SET(x)): same result (both skip NULLs), but Spark plans many
    # distinct aggregates in one query as an Expand that copies every row once per aggregate.
    distinct_as_set: ClassVar[bool] = False
    # 60.0 is a DECIMAL literal in both engines, but DuckDB divides and averages decimals into
    # DOUBLE while Spark keeps DECIMAL and rounds (avg of 1.0/0.0 to 5 places): say DOUBLE.
    decimal_literals_as_double: ClassVar[bool] = False
    # Write each layer of the wide table and read it back, instead of one nested query: Spark's
    # optimiser otherwise works on one plan of ~1,000 columns and inlined tag expressions.
    materialise_layers: ClassVar[bool] = False
    # Run each source once per range of subscribers of about this many (0: never). The hash tables
    # of a source's GROUP BY msisdn then stay small; measured in docs/decisions/0011.
    slice_subscribers: ClassVar[int] = 0

    def sql(self, duckdb_sql: str) -> str:
        """The statement in this engine's dialect."""
        if self.dialect == "duckdb" and not (self.distinct_as_set or self.decimal_literals_as_double):
            return duckdb_sql
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
        distinct_as_set, decimals = self.distinct_as_set, self.decimal_literals_as_double

        def rewrite(node: exp.Expr) -> exp.Expr:
            if distinct_as_set and isinstance(node, exp.Count) and isinstance(node.this, exp.Distinct):
                args = node.this.expressions
                if len(args) == 1:
                    return exp.func("SIZE", exp.func("COLLECT_SET", args[0]))
            if (
                decimals
                and isinstance(node, exp.Literal)
                and not node.is_string
                and any(ch in node.this for ch in ".eE")
                and not isinstance(node.parent, exp.Cast)
            ):
                return exp.cast(node.copy(), exp.DataType.build("DOUBLE"))
            return node

        tree = tree.transform(rewrite)
        return tree.sql(dialect=self.dialect)

    @abstractmethod
    def register_files(
        self,
        name: str,
        files: Sequence[Path],
        base: Path | None,
        schema: Mapping[str, str],
        where: str | None = None,
    ) -> None:
        """Make Parquet ``files`` (hive-partitioned under ``base`` if given) queryable as ``name``,
        filtered by ``where`` (DuckDB SQL); with no files, an empty relation of ``schema``."""

    @abstractmethod
    def register_query(self, name: str, sql: str) -> None:
        """A view ``name`` over a query (DuckDB SQL)."""

    @abstractmethod
    def register_arrow(self, name: str, table: Any) -> None:
        """Make an Arrow table queryable as ``name``."""

    @abstractmethod
    def write_parquet(self, sql: str, path: Path) -> int:
        """Run a query (DuckDB SQL) and write its result to one Parquet file; return its rows."""

    @abstractmethod
    def close(self) -> None: ...

    @staticmethod
    def empty_select(schema: Mapping[str, str]) -> str:
        cols = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in schema.items())
        return f"SELECT {cols} WHERE 1 = 0"
