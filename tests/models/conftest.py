"""A tiny hand-made warehouse (DuckDB tables named as the model's tables) for model tests."""

from __future__ import annotations

import duckdb
import pytest

from tagcloud.data.model import TABLES


def make_tables(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Create empty tables with the model's columns and types (tests insert the rows they need)."""
    for name in names:
        cols = ", ".join(f'"{c.name}" {c.type}' for c in TABLES[name].columns)
        con.execute(f'CREATE TABLE "{name}" ({cols})')


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


@pytest.fixture
def tables(con: duckdb.DuckDBPyConnection):  # type: ignore[no-untyped-def]
    """``tables("subscribers", "cells")`` creates those empty model tables on ``con``."""
    return lambda *names: make_tables(con, *names)
