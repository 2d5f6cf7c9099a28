"""Run the simulator: draw the province and population, stream the days, write everything.

``simulate(out, subscribers=N, days=D, seed=S)`` writes the layout described in
``docs/simulator.md`` and returns the manifest (also written as ``DIR/manifest.json``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.progress import job
from tagcloud.sim import calendar as cal
from tagcloud.sim.behaviour import DaySimulator
from tagcloud.sim.catalogue import (
    MARKETABLE,
    PRODUCTS,
    build_handsets,
    competitor_ranges_table,
    products_table,
)
from tagcloud.sim.geography import build_geography, cells_table, regions_table
from tagcloud.sim.history import (
    bills,
    handset_history,
    handsets_rows_table,
    historical_orders,
    orders_table,
    registered_township,
    subscribers_table,
)
from tagcloud.sim.market import MarketFlow
from tagcloud.sim.personas import PERSONA_NAMES, TRAITS
from tagcloud.sim.population import CHANNELS, RURAL_TYPES, Population, build_population

if TYPE_CHECKING:
    import pyarrow as pa

    from tagcloud.sim.geography import Geography
    from tagcloud.sim.writer import TableWriter

DEFAULT_START = dt.date(2026, 9, 15)  # 30 days cover Mid-Autumn (9-25) and National Day (10-1..7)
REFERENCE_TABLES = ("regions", "townships", "cells", "products", "handsets", "competitor_ranges", "calendar")
# data_xdr last: its write (the biggest) overlaps the generation of the next day
DAY_TABLES = ("voice_cdr", "sms", "roaming", "payments", "service_contacts", "data_xdr")
MONTH_TABLES = ("billing_monthly", "orders", "subscriber_handsets")


def simulate(
    out: Path,
    subscribers: int,
    days: int,
    seed: int,
    fmt: str = "parquet",
    start: dt.date = DEFAULT_START,
    delimiter: str = ",",
    encoding: str = "utf-8",
    quiet: bool = False,
    market: bool = False,
    profile: str = "dev",
) -> dict[str, Any]:
    """Simulate ``subscribers`` for ``days`` from ``start`` into ``out``; returns the manifest.

    ``market``: add the daily joins, rivals' new numbers and planted anomalies (``sim/market.py``).
    ``profile`` "test" draws the generator's knobs from their ranges and adds the realism of
    :mod:`tagcloud.sim.profile` (a province the models were not tuned on)."""
    from tagcloud.sim.profile import apply_realism, knobs_for
    from tagcloud.sim.writer import TableWriter

    if subscribers < 50:
        raise ValueError(
            f"--subscribers must be at least 50 (got {subscribers}): families and schools need company"
        )
    if days < 1:
        raise ValueError(f"--days must be at least 1 (got {days})")
    end = start + dt.timedelta(days=days - 1)
    if start < cal.FIRST_DAY or end > cal.LAST_DAY:
        raise ValueError(f"window {start}..{end} is outside the calendar {cal.FIRST_DAY}..{cal.LAST_DAY}")
    knobs = knobs_for(profile, seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    writer = TableWriter(out, fmt, delimiter, encoding, threads=1)
    try:
        rng = np.random.default_rng([seed, 0])
        g = build_geography(subscribers, rng)
        h = build_handsets(rng)
        pop = build_population(subscribers, g, h, start, days, rng, knobs.persona_share_factors)
        if profile != "dev":
            apply_realism(pop, g, knobs, np.random.default_rng([seed, 4243]))
        _write_reference(writer, g, h)
        sim = DaySimulator(pop, g, h, seed, knobs)
        flow = (
            MarketFlow(pop, g, start, days, seed, registered_township(pop, g, knobs.registered_elsewhere))
            if market
            else None
        )
        window_orders: list[dict[str, np.ndarray]] = []
        window_handsets: list[dict[str, np.ndarray]] = []
        with job(f"simulate {subscribers:,} subscribers × {days} days", total=days, quiet=quiet) as j:
            for d in range(days):
                day = sim.day(d)
                if flow is not None:
                    flow.apply(d, day, sim)
                stamp = pop.days[d].date.strftime("%Y%m%d")
                rows = 0
                for name in DAY_TABLES:
                    writer.write(name, day.tables[name], stamp)
                    rows += day.tables[name].num_rows
                window_orders.append(day.orders)
                window_handsets.append(day.handsets)
                j.advance(1, rows=rows, note=str(pop.days[d].date))
        rng_h = np.random.default_rng([seed, 5])
        if flow is not None:  # the snapshot shows the joins; the history before the window is kept
            before, pop.join_date = pop.join_date, flow.join_dates()
            writer.write("subscribers", subscribers_table(pop, g, sim.plan, end, knobs.registered_elsewhere))
            pop.join_date = before
            flow.write_truth(out)
        else:
            writer.write("subscribers", subscribers_table(pop, g, sim.plan, end, knobs.registered_elsewhere))
        orders = _concat([historical_orders(pop, start, rng_h), *window_orders])
        _write_by_month(writer, "orders", orders, lambda o: orders_table(o, pop, 1))
        hs = _concat([handset_history(pop, h, start, rng_h), *window_handsets])
        _write_by_month(writer, "subscriber_handsets", hs, lambda o: handsets_rows_table(o, pop, h, seed))
        for month, t in bills(pop, sim.usage, sim.holdings, sim.plan, start, rng_h):
            writer.write("billing_monthly", t, month.strftime("%Y%m"))
        _write_truth(out, pop, g)
    finally:
        writer.close()
    manifest = {
        "seed": seed,
        "profile": profile,
        "generator": knobs.manifest(),
        "subscribers": subscribers,
        "days": days,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "format": fmt,
        "delimiter": delimiter,
        "encoding": encoding,
        "rows": dict(sorted(writer.rows.items())),
        "files": {k: dict(sorted(v.items())) for k, v in sorted(writer.files.items())},
        "ground_truth": sorted(p.name for p in (out / "ground_truth").glob("*.parquet")),
        **({"market": True} if market else {}),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    # timings vary run to run, so they are returned but kept out of the manifest file
    return {**manifest, "generation_seconds": dict(sim.seconds)}


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    keys = parts[0].keys()
    return {k: np.concatenate([p[k] for p in parts if len(p.get("sub", ()))] or [parts[0][k]]) for k in keys}


def _write_by_month(writer: TableWriter, name: str, rows: dict[str, np.ndarray], build: Any) -> None:
    """Build the whole table once (ids in time order), then write one file per month of its time."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t: pa.Table = build(rows)
    tcol = t.column(_time_column(name))
    month = pc.strftime(tcol, "%Y%m")
    months = month.to_numpy(zero_copy_only=False)
    order = np.argsort(months, kind="stable")
    sm = months[order]
    bounds = np.flatnonzero(np.r_[True, sm[1:] != sm[:-1], True])
    for a, b in itertools.pairwise(bounds):
        writer.write(name, t.take(pa.array(order[a:b])), str(sm[a]))


def _time_column(name: str) -> str:
    from tagcloud.data.model import table

    tc = table(name).time_column
    assert tc is not None
    return tc


def _from_columns(name: str, cols: dict[str, Any]) -> pa.Table:
    """A model table from plain columns (lists or numpy arrays), decimals rounded to cents."""
    import pyarrow as pa

    from tagcloud.data.model import arrow_schema, table

    schema = arrow_schema(table(name))
    arrays = []
    for f in schema:
        v = cols[f.name]
        if pa.types.is_decimal(f.type):
            arrays.append(pa.array(np.round(np.asarray(v, float), 2)).cast(f.type))
        elif isinstance(v, np.ndarray) and v.dtype != object:
            arrays.append(pa.array(v).cast(f.type))
        else:
            arrays.append(pa.array(list(v), f.type))
    return pa.table(arrays, schema=schema)


def _write_reference(w: TableWriter, g: Geography, h: Any) -> None:
    w.write("regions", _from_columns("regions", regions_table(g)))
    w.write("townships", _from_columns("townships", g.township_info))
    w.write("cells", _from_columns("cells", cells_table(g)))
    w.write("products", _from_columns("products", products_table()))
    w.write(
        "handsets",
        _from_columns(
            "handsets",
            {
                "tac": h.tac,
                "brand": h.brand,
                "model": h.model,
                "supports_4g": h.supports_4g,
                "supports_5g": h.supports_5g,
                "os": h.os,
                "price_tier": h.price_tier,
                "release_year": h.release_year,
            },
        ),
    )
    w.write("competitor_ranges", _from_columns("competitor_ranges", competitor_ranges_table()))
    days = cal.all_days()
    w.write(
        "calendar",
        _from_columns(
            "calendar",
            {
                "date": [x.date for x in days],
                "day_type": [x.day_type for x in days],
                "festival": [x.festival for x in days],
            },
        ),
    )


def _write_truth(out: Path, pop: Population, g: Geography) -> None:
    """The yardstick for models and campaigns: latent profiles, propensities, channel responses."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = out / "ground_truth"
    d.mkdir(parents=True, exist_ok=True)
    n = pop.n
    msisdn = pa.array(pop.msisdn).cast(pa.string())
    cell_ids = pa.array(g.cell_id.tolist(), pa.string())
    sites = np.array([*g.site_id, None], object)
    is_student = pop.school_site >= 0
    from tagcloud.sim.personas import PERSONA_INDEX

    school_type = np.full(n, None, object)
    uni = pop.persona == PERSONA_INDEX["university_student"]
    school_type[is_student] = np.where(uni, "university", "middle_school")[is_student]
    tiers = np.array(["low", "mid", "high"], object)[pop.value_tier]
    cols: dict[str, Any] = {
        "msisdn": msisdn,
        "persona": pa.array(list(PERSONA_NAMES)).take(pa.array(pop.persona.astype(np.int64))),
        "home_cell": cell_ids.take(pa.array(pop.home_cell)),
        "work_cell": cell_ids.take(pa.array(pop.work_cell)),
        "home_township": pa.array(np.array(g.township_id, object)[g.cell_township[pop.home_cell]].tolist()),
        "family_id": pa.array(pop.family_id, mask=pop.family_id < 0),
        "is_family_head": pa.array(pop.is_family_head),
        "school_id": pa.array(sites[pop.school_site].tolist(), pa.string()),
        "school_type": pa.array(school_type.tolist(), pa.string()),
        "rural_type": pa.array([None, *RURAL_TYPES], pa.string()).take(
            pa.array(pop.rural_type.astype(np.int64) + 1)
        ),
        "migrant": pa.array(pop.persona == PERSONA_INDEX["migrant_worker"]),
        "business_traveller": pa.array(pop.persona == PERSONA_INDEX["business_traveller"]),
        "shift_worker": pa.array(pop.persona == PERSONA_INDEX["shift_worker"]),
        # teachers, canteen staff and residents in campus cells every day (test profile)
        "campus_daily": pa.array(pop.traits.get("campus_daily", np.zeros(n, bool))),
    }
    for t in TRAITS:
        if t != "family":
            cols[t] = pa.array(pop.traits[t])
    for k, v in pop.interests.items():
        cols[f"interest_{k}"] = pa.array(v)
    cols.update(
        {
            "churn_prob": pa.array(pop.churn_prob),
            "churn": pa.array(pop.churner),
            # the day the churner leaves: after the window (label = churns in the month after the cut)
            "churn_date": pa.array(
                np.datetime64(pop.days[0].date, "D") + np.maximum(pop.churn_day, 0).astype("timedelta64[D]"),
                pa.date32(),
                mask=~pop.churner,
            ),
            "influence": pa.array(pop.influence),
            "value_tier": pa.array(tiers.tolist(), pa.string()),
        }
    )
    pq.write_table(pa.table(cols), d / "subscribers.parquet")
    # propensity: long form, one row per subscriber and marketable product
    P = len(MARKETABLE)
    pq.write_table(
        pa.table(
            {
                "msisdn": msisdn.take(pa.array(np.repeat(np.arange(n), P))),
                "product_id": pa.array(list(MARKETABLE)).take(pa.array(np.tile(np.arange(P), n))),
                "probability": pa.array(pop.propensity.reshape(-1).astype(np.float64)),
            }
        ),
        d / "propensity.parquet",
    )
    cr = {"msisdn": msisdn}
    for i, c in enumerate(CHANNELS):
        cr[c] = pa.array(pop.channel_response[:, i].astype(np.float64))
    pq.write_table(pa.table(cr), d / "channel_response.parquet")
    off = pop.offnet
    from tagcloud.sim.catalogue import COMPETITORS

    pq.write_table(
        pa.table(
            {
                "number": pa.array(off.number).cast(pa.string()),
                "operator": pa.array(list(COMPETITORS)).take(pa.array(off.operator.astype(np.int64))),
                "is_competitor_migrant": pa.array(off.is_migrant),
                "home_township": pa.array(
                    np.array(g.township_id, object)[off.township].tolist(), pa.string()
                ),
            }
        ),
        d / "offnet.parquet",
    )
    # the products each subscriber held at the start of the window (derivable from orders)
    sub, prod = np.nonzero(pop.holdings)
    pq.write_table(
        pa.table(
            {
                "msisdn": msisdn.take(pa.array(sub)),
                "product_id": pa.array([p.product_id for p in PRODUCTS]).take(pa.array(prod)),
            }
        ),
        d / "holdings_at_start.parquet",
    )


def simulated_warehouse(
    warehouse: Path, subscribers: int, days: int, *, start: dt.date, seed: int = 5, work: Path | None = None
) -> Path:
    """Simulate a province and ingest it into ``warehouse`` (for benchmarks); the export is written
    under ``work`` (default: beside the warehouse) and removed once ingested. Returns ``warehouse``."""
    import shutil

    from tagcloud.data.ingest import IngestOptions, ingest

    export = (work or warehouse.parent) / f"{warehouse.name}-export"
    simulate(export, subscribers, days, seed=seed, start=start, quiet=True)
    try:
        ingest(export, warehouse, IngestOptions(quiet=True, now=dt.datetime(2030, 1, 1)))
    finally:
        shutil.rmtree(export, ignore_errors=True)
    return warehouse
