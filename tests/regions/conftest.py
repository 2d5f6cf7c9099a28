"""A small simulated province with the market flow (joins, rivals' numbers, planted anomalies),
ingested, with its daily KPIs computed: once per test run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest


def market_province(root: Path, subscribers: int = 3000) -> dict[str, Any]:
    """Simulate (``subscribers`` × 12 days, market flow), ingest, compute every day's KPIs."""
    from tagcloud.data.ingest import IngestOptions, ingest
    from tagcloud.data.warehouse import Warehouse
    from tagcloud.regions.kpi import compute_day, default_store, warehouse_days
    from tagcloud.sim.simulate import simulate

    export, wh_dir = root / "export", root / "warehouse"
    simulate(export, subscribers, 12, seed=3, quiet=True, market=True)
    ingest(export, wh_dir, IngestOptions(quiet=True, now=dt.datetime(2030, 1, 1)))
    wh = Warehouse(wh_dir)
    for d in warehouse_days(wh):
        compute_day(wh, d)
    return {
        "warehouse": wh,
        "store": default_store(wh),
        "truth": Path(export) / "ground_truth",
        "export": export,
    }


@pytest.fixture(scope="session")
def market_warehouse(tmp_path_factory: Any) -> dict[str, Any]:
    return market_province(tmp_path_factory.mktemp("market"))
