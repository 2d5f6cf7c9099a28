"""Build engines: one file per engine behind the small interface of :mod:`.base`, chosen by name."""

from __future__ import annotations

from tagcloud.tags.engines.base import Engine


def engine(name: str = "duckdb", **options: object) -> Engine:
    """A new engine of that name (``duckdb``, the default, or ``spark``)."""
    if name == "duckdb":
        from tagcloud.tags.engines.duckdb import DuckDBEngine

        return DuckDBEngine(**options)  # type: ignore[arg-type]
    if name == "spark":
        from tagcloud.tags.engines.spark import SparkEngine

        return SparkEngine(**options)  # type: ignore[arg-type]
    raise ValueError(f"unknown engine {name!r}; engines: duckdb, spark")


ENGINES = ("duckdb", "spark")
