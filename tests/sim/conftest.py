"""A month-long province for the persona-signal tests (it spans Mid-Autumn and National Day)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def month_province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 subscribers × 24 days from 2026-09-15 (to 10-08), seed 11."""
    from tagcloud.sim.simulate import simulate

    out = tmp_path_factory.mktemp("month_province")
    simulate(out, subscribers=3000, days=24, seed=11, start=dt.date(2026, 9, 15), quiet=True)
    return out


@pytest.fixture(scope="session")
def con(month_province: Path) -> Iterator[object]:
    """DuckDB views over the month province: one per table, plus ``truth`` (ground truth subscribers)."""
    import duckdb

    from tagcloud.data.model import TABLES

    c = duckdb.connect()
    for name in TABLES:
        c.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{month_province}/{name}/*.parquet')")
    for name in ("subscribers", "propensity", "channel_response", "offnet"):
        c.execute(
            f"CREATE VIEW truth_{name} AS SELECT * FROM read_parquet('{month_province}/ground_truth/{name}.parquet')"
        )
    c.execute("CREATE VIEW truth AS SELECT * FROM truth_subscribers")
    yield c
    c.close()
