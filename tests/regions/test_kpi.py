"""Daily KPIs: they reconcile with the warehouse, roll up across levels, and bad definitions are refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tagcloud.regions.kpi import KPIS, Kpi, KpiError, Measure, check_kpis, get_kpi
from tagcloud.tags.condition import ConditionError


def _kpi(store: Any, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    return store.connect().execute(sql, params).fetchall()  # type: ignore[no-any-return]


def test_new_subscribers_reconcile_with_the_snapshot(market_warehouse: dict[str, Any]) -> None:
    wh, store = market_warehouse["warehouse"], market_warehouse["store"]
    con = wh.connect()
    for day in store.days()[1:4]:
        (joined,) = con.execute(
            "SELECT count(*) FROM subscribers WHERE join_date = ? AND status <> 'closed'", [day]
        ).fetchone()
        rows = _kpi(
            store,
            "SELECT level, sum(value) FROM kpi_daily WHERE kpi = 'new_subscribers' AND channel = '*' AND day = ? "
            "AND level IN ('province', 'city', 'county', 'township') GROUP BY level",
            [day],
        )
        assert joined > 0
        assert {lv: v for lv, v in rows} == {lv: joined for lv in ("province", "city", "county", "township")}
        by_channel = _kpi(
            store,
            "SELECT sum(value) FROM kpi_daily WHERE kpi = 'new_subscribers' AND level = 'province' "
            "AND channel <> '*' AND day = ?",
            [day],
        )
        assert by_channel[0][0] == joined


def test_revenue_equals_the_days_payments(market_warehouse: dict[str, Any]) -> None:
    wh, store = market_warehouse["warehouse"], market_warehouse["store"]
    day = store.days()[5]
    (paid,) = (
        wh.connect()
        .execute(
            "SELECT sum(amount) FROM payments p JOIN subscribers s USING (msisdn) WHERE p.day = ? "
            "AND s.join_date <= CAST(? AS DATE)",
            [day.isoformat(), day],
        )
        .fetchone()
    )
    ((rev,),) = _kpi(
        store,
        "SELECT value FROM kpi_daily WHERE kpi = 'revenue' AND level = 'province' AND channel = '*' AND day = ?",
        [day],
    )
    assert rev == pytest.approx(float(paid))


def test_ratio_is_numerator_over_denominator(market_warehouse: dict[str, Any]) -> None:
    store = market_warehouse["store"]
    rows = _kpi(
        store,
        "SELECT numerator, denominator, value FROM kpi_daily WHERE kpi = 'two_party_share' AND denominator > 0",
        [],
    )
    assert rows
    for n, d, v in rows:
        assert v == pytest.approx(100.0 * n / d)
        assert 0 <= v <= 100


def test_the_planted_cell_outage_shows(market_warehouse: dict[str, Any]) -> None:
    from tagcloud.sim.market import load_anomalies

    store = market_warehouse["store"]
    outage = next(a for a in load_anomalies(market_warehouse["truth"]) if a.kind == "cell_outage")
    t = store.values(
        "active_subscribers", store.days(), level="cell", region_ids=[outage.cell_id]
    ).to_pylist()
    by_day = {r["day"]: r["value"] for r in t}
    first = dt.date.fromisoformat(outage.first_day)
    assert by_day.get(first, 0) == 0  # no traffic on the cell during the outage
    assert by_day[first - dt.timedelta(days=7)] >= 10


def test_kpi_conditions_go_through_the_condition_language() -> None:
    check_kpis(KPIS)
    with pytest.raises(KpiError, match="unknown KPI"):
        get_kpi("nope")
    bad = Kpi("x", "x", "x", "", "", "", Measure("evnt = 'join'"))
    with pytest.raises(KpiError, match="did you mean 'event'"):
        check_kpis([bad])
    with pytest.raises(ConditionError):
        Measure("event = 'join'; DROP TABLE events").condition()
    with pytest.raises(KpiError, match="measure"):
        Measure("event = 'join'", "price").condition()
    assert "event" in Measure("event = 'join' AND is_high_value").sql()


def test_a_day_without_data_is_refused(market_warehouse: dict[str, Any], tmp_path: Any) -> None:
    from tagcloud.regions.kpi import KpiStore, compute_day

    store = KpiStore(tmp_path / "kpi")
    with pytest.raises(KpiError, match="no calls on 2031-01-01"):
        compute_day(market_warehouse["warehouse"], dt.date(2031, 1, 1), store)
    assert not (tmp_path / "kpi").exists() or not list((tmp_path / "kpi").rglob("*.parquet"))
