"""Daily KPIs per region level and channel (异动指标, seed 003 §2.1), computed from the warehouse.

Each day becomes a table of **events** (one row per thing that happened: a subscriber joined, a
payment, an order, a subscriber was active, went silent, a rival's new number appeared …) with
the dimensions the drill-down needs (city, county, township, cell, channel, brand, plan, product)
and two measures (``qty`` = 1, ``amount`` in yuan). A KPI is a sum of a measure over the events
that satisfy a **condition of the one condition language** (``tagcloud.tags.condition``), or the
ratio of two such sums, with its 口径 in words. Staff may define more KPIs the same way.

Storage (under the KPI root, default ``<warehouse>/marts``)::

    kpi_events/day=YYYY-MM-DD/events.parquet   the day's events (for drill-down)
    kpi_daily/day=YYYY-MM-DD/kpi.parquet       day, kpi, level, region_id, channel, numerator,
                                               denominator, value   (channel '*' = all channels)
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from tagcloud.tags.condition import Condition, NameInfo, NameKind, parse_condition

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from tagcloud.data.warehouse import Warehouse

ALL_CHANNELS = "*"
LEVELS = ("province", "city", "county", "township", "cell")
EVENTS = ("member", "active", "join", "churn", "order", "payment", "rival_new")
HIGH_VALUE_ARPU = 100  # yuan: last closed bill at or above it is a 中高端 customer
SILENT_DAYS = 7  # a subscriber silent (no call, no SMS) for this many days after an active day churned
RIVAL_LOOKBACK_DAYS = 7  # a rival number is new when it was not seen in calls for this many days
RIVAL_OPERATORS = ("CU", "CT", "CBN")
MEASURES = ("qty", "amount")


class KpiError(ValueError):
    """A KPI definition or request that cannot be accepted (names the KPI and the reason)."""


@dataclass(frozen=True)
class Measure:
    """``SUM(<measure>)`` over the events satisfying ``where`` (a condition-language text)."""

    where: str
    measure: str = "qty"

    def condition(self) -> Condition:
        if self.measure not in MEASURES:
            raise KpiError(f"measure {self.measure!r} is not one of {', '.join(MEASURES)}")
        return parse_condition(self.where, event_names())

    def sql(self) -> str:
        return f'SUM(CASE WHEN {self.condition().to_sql()} THEN "{self.measure}" ELSE 0 END)'


@dataclass(frozen=True)
class Kpi:
    """One KPI: numerator (and denominator for a ratio), times ``scale``; its 口径 in two languages."""

    kpi_id: str
    name: str
    name_en: str
    unit: str
    caliber: str  # 口径
    caliber_en: str
    numerator: Measure
    denominator: Measure | None = None
    scale: float = 1.0  # 100 for a percentage
    by_channel: bool = True  # meaningful per channel (a rival's number has no channel of ours)
    higher_is_better: bool = True

    def format(self, value: float | None) -> str:
        """The value as staff read it (``63.3%``, ``1,204``, ``52.10元``)."""
        if value is None:
            return "—"
        if self.unit == "%":
            return f"{value:.1f}%"
        if self.unit == "元":
            return f"{value:,.2f}元"
        return f"{value:,.0f}"


KPIS: tuple[Kpi, ...] = (
    Kpi(
        "new_subscribers", "新增用户数", "new subscribers", "户",
        "当日入网的本网号码数 (用户资料 join_date = 当日), 按号码归属片区; 渠道为入网当日首笔订购的渠道",
        "numbers of ours that joined on the day (subscribers.join_date), by home district; channel = "
        "channel of the first order on the joining day",
        Measure("event = 'join'"),
    ),
    Kpi(
        "rival_new", "竞争对手新增号码数", "rivals' new numbers", "个",
        f"当日与本网用户通话或短信、且此前{RIVAL_LOOKBACK_DAYS}天未出现过的联通/电信/广电号码数, 按首次接触所在小区的片区",
        f"China Unicom / Telecom / Broadnet numbers seen in calls or SMS with our subscribers on the day "
        f"and not in the {RIVAL_LOOKBACK_DAYS} days before, by the district of the cell of first contact",
        Measure("event = 'rival_new'"), by_channel=False, higher_is_better=False,
    ),
    Kpi(
        "two_party_share", "两方新增市场占有率", "two-party share of new additions", "%",
        "本网新增用户数 / (本网新增用户数 + 竞争对手新增号码数)",
        "our new subscribers / (our new subscribers + rivals' new numbers)",
        Measure("event = 'join'"), Measure("event IN ('join', 'rival_new')"), scale=100.0, by_channel=False,
    ),
    Kpi(
        "revenue", "缴费收入", "revenue (payments)", "元",
        "当日缴费充值金额合计 (payments.amount), 按号码归属片区与缴费渠道",
        "sum of the day's payments and top-ups (payments.amount), by home district and payment channel",
        Measure("event = 'payment'", "amount"),
    ),
    Kpi(
        "arpu", "日均ARPU", "daily ARPU", "元",
        "当日缴费收入 / 当日有通话或短信的用户数", "the day's revenue / subscribers with a call or SMS on the day",
        Measure("event = 'payment'", "amount"), Measure("event = 'active'"), by_channel=False,
    ),
    Kpi(
        "active_subscribers", "通信活跃用户数", "active subscribers", "户",
        "当日有通话或短信的本网用户数; 小区为其当日通话/短信最多的小区",
        "subscribers of ours with a call or SMS on the day; cell = the cell they used most that day",
        Measure("event = 'active'"), by_channel=False,
    ),
    Kpi(
        "churned_subscribers", "离网(沉默)用户数", "churned (silent) subscribers", "户",
        f"{SILENT_DAYS}天前有通话或短信、此后连续{SILENT_DAYS}天无通话无短信的用户数 (沉默离网口径)",
        f"subscribers active {SILENT_DAYS} days before and silent (no call, no SMS) every day since",
        Measure("event = 'churn'"), by_channel=False, higher_is_better=False,
    ),
    Kpi(
        "high_value_churn", "中高端客户预警数", "high-value customers at risk", "户",
        f"沉默离网用户中上月账单ARPU ≥ {HIGH_VALUE_ARPU}元的用户数",
        f"silent churners whose last closed bill was at least {HIGH_VALUE_ARPU} yuan",
        Measure("event = 'churn' AND is_high_value"), by_channel=False, higher_is_better=False,
    ),
    Kpi(
        "enterprise_stability", "集团客户稳定度", "enterprise-customer stability", "%",
        "当日有通话或短信的集团成员数 / 集团成员总数",
        "enterprise (group) members with a call or SMS on the day / all enterprise members",
        Measure("event = 'active' AND is_enterprise"), Measure("event = 'member' AND is_enterprise"),
        scale=100.0, by_channel=False,
    ),
    Kpi(
        "new_orders", "业务办理量", "new orders", "笔",
        "当日订购 (subscribe) 笔数, 按办理渠道", "subscribe orders of the day, by the channel that took them",
        Measure("event = 'order'"),
    ),
    Kpi(
        "campaign_orders", "营销活动办理量", "campaign results (orders)", "笔",
        "当日归属营销活动 (campaign_id 非空) 的订购笔数", "subscribe orders of the day credited to a campaign",
        Measure("event = 'order' AND campaign_id IS NOT NULL"),
    ),
)  # fmt: skip
KPI_BY_ID: dict[str, Kpi] = {k.kpi_id: k for k in KPIS}


def get_kpi(kpi_id: str) -> Kpi:
    try:
        return KPI_BY_ID[kpi_id]
    except KeyError:
        raise KpiError(f"unknown KPI {kpi_id!r}; known: {', '.join(KPI_BY_ID)}") from None


@cache
def event_names() -> dict[str, NameInfo]:
    """The names a KPI condition may use: the event table's columns."""
    from tagcloud.data.codes import CODE_TABLES as CODES

    channels = tuple(c.code for c in CODES["channel"])
    brands = tuple(c.code for c in CODES["brand"])
    return {
        "event": NameInfo("event", NameKind.ENUM, EVENTS),
        "channel": NameInfo("channel", NameKind.ENUM, (*channels, "unknown")),
        "brand": NameInfo("brand", NameKind.ENUM, brands),
        "plan_id": NameInfo("plan_id", NameKind.TEXT),
        "product_id": NameInfo("product_id", NameKind.TEXT),
        "campaign_id": NameInfo("campaign_id", NameKind.TEXT),
        "is_high_value": NameInfo("is_high_value", NameKind.FLAG),
        "is_enterprise": NameInfo("is_enterprise", NameKind.FLAG),
        "amount": NameInfo("amount", NameKind.NUMBER),
    }


def check_kpis(kpis: Sequence[Kpi]) -> None:
    """Parse every KPI's conditions (raises ConditionError / KpiError naming the bad one)."""
    for k in kpis:
        for m in (k.numerator, k.denominator):
            if m is not None:
                try:
                    m.condition()
                except ValueError as e:
                    raise KpiError(f"KPI {k.kpi_id}: {e}") from e


# --- events ------------------------------------------------------------------------------------
def _d(day: dt.date) -> str:
    return day.isoformat()


EVENT_COLUMNS = (
    "event, msisdn, city_id, county_id, township_id, cell_id, channel, brand, plan_id, product_id, "
    "campaign_id, is_high_value, is_enterprise, qty, amount"
)


def events_sql(day: dt.date) -> str:
    """The SQL of one day's events over the warehouse views (dates are literals of ``day``)."""
    d = _d(day)
    prev = [_d(day - dt.timedelta(days=i)) for i in range(1, RIVAL_LOOKBACK_DAYS + 1)]
    silent = [_d(day - dt.timedelta(days=i)) for i in range(0, SILENT_DAYS)]
    before = _d(day - dt.timedelta(days=SILENT_DAYS))
    month = day.replace(day=1).isoformat()
    rivals = ", ".join(f"'{o}'" for o in RIVAL_OPERATORS)

    def days(xs: list[str]) -> str:
        return ", ".join(f"'{x}'" for x in xs)

    return f"""
WITH talk AS (
    SELECT day, msisdn, cell_id, peer_number, peer_operator, start_time AS t FROM voice_cdr
    WHERE day IN ('{d}', {days(prev)})
    UNION ALL
    SELECT day, msisdn, cell_id, peer_number, peer_operator, sent_time AS t FROM sms
    WHERE day IN ('{d}', {days(prev)})
),
main_cell AS (  -- ties broken by cell id, so a rerun gives the same cells
    SELECT msisdn, cell_id FROM (
        SELECT msisdn, cell_id, count(*) AS n FROM talk WHERE day = '{d}' AND cell_id IS NOT NULL GROUP BY ALL
    ) QUALIFY row_number() OVER (PARTITION BY msisdn ORDER BY n DESC, cell_id) = 1
),
bill AS (
    SELECT msisdn, arg_max(arpu, bill_month) AS arpu FROM billing_monthly
    WHERE bill_month < DATE '{month}' GROUP BY msisdn
),
subs AS (
    SELECT s.msisdn, s.brand, s.plan_id, s.join_date, t.region_id AS township_id, c.region_id AS county_id,
           c.parent_id AS city_id, coalesce(b.arpu, 0) >= {HIGH_VALUE_ARPU} AS is_high_value,
           s.group_id IS NOT NULL AS is_enterprise, mc.cell_id
    FROM subscribers s
    LEFT JOIN regions t ON t.region_id = s.home_region_id
    LEFT JOIN regions c ON c.region_id = t.parent_id
    LEFT JOIN bill b ON b.msisdn = s.msisdn
    LEFT JOIN main_cell mc ON mc.msisdn = s.msisdn
    WHERE s.join_date <= DATE '{d}' AND s.status <> 'closed'
),
day_orders AS (
    SELECT msisdn, product_id, channel, campaign_id, order_time FROM orders
    WHERE month = '{d[:7]}' AND action = 'subscribe' AND CAST(order_time AS DATE) = DATE '{d}'
),
join_channel AS (
    SELECT msisdn, channel FROM day_orders
    QUALIFY row_number() OVER (PARTITION BY msisdn ORDER BY order_time, channel) = 1
),
active_days AS (
    SELECT DISTINCT msisdn, day FROM talk WHERE day IN ({days(silent)})
    UNION
    SELECT DISTINCT msisdn, day FROM voice_cdr WHERE day = '{before}'
    UNION
    SELECT DISTINCT msisdn, day FROM sms WHERE day = '{before}'
),
silent_churn AS (
    SELECT msisdn FROM active_days GROUP BY msisdn
    HAVING bool_or(day = '{before}') AND NOT bool_or(day IN ({days(silent)}))
),
rival_first AS (
    SELECT peer_number, cell_id FROM talk
    WHERE day = '{d}' AND peer_operator IN ({rivals}) AND cell_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY peer_number ORDER BY t, cell_id) = 1
),
rival_new AS (
    SELECT f.* FROM rival_first f
    WHERE NOT EXISTS (SELECT 1 FROM talk p WHERE p.day <> '{d}' AND p.peer_number = f.peer_number)
)
SELECT 'member' AS event, msisdn, city_id, county_id, township_id, cell_id, NULL AS channel, brand, plan_id,
       NULL AS product_id, NULL AS campaign_id, is_high_value, is_enterprise, 1 AS qty, 0.0 AS amount FROM subs
UNION ALL
SELECT 'active', s.msisdn, city_id, county_id, township_id, s.cell_id, NULL, brand, plan_id, NULL, NULL,
       is_high_value, is_enterprise, 1, 0.0 FROM subs s WHERE s.cell_id IS NOT NULL
UNION ALL
SELECT 'join', s.msisdn, city_id, county_id, township_id, s.cell_id, coalesce(j.channel, 'unknown'), brand,
       plan_id, NULL, NULL, is_high_value, is_enterprise, 1, 0.0
FROM subs s LEFT JOIN join_channel j ON j.msisdn = s.msisdn WHERE s.join_date = DATE '{d}'
UNION ALL
SELECT 'churn', s.msisdn, city_id, county_id, township_id, s.cell_id, NULL, brand, plan_id, NULL, NULL,
       is_high_value, is_enterprise, 1, 0.0 FROM subs s JOIN silent_churn USING (msisdn)
UNION ALL
SELECT 'order', s.msisdn, city_id, county_id, township_id, s.cell_id, o.channel, brand, plan_id, o.product_id,
       o.campaign_id, is_high_value, is_enterprise, 1, 0.0 FROM subs s JOIN day_orders o USING (msisdn)
UNION ALL
SELECT 'payment', s.msisdn, city_id, county_id, township_id, s.cell_id, p.channel, brand, plan_id, NULL, NULL,
       is_high_value, is_enterprise, 1, CAST(p.amount AS DOUBLE)
FROM subs s JOIN payments p USING (msisdn) WHERE p.day = '{d}'
UNION ALL
SELECT 'rival_new', NULL, c.city_id, c.county_id, c.township_id, r.cell_id, NULL, NULL, NULL, NULL, NULL,
       FALSE, FALSE, 1, 0.0 FROM rival_new r JOIN cells c USING (cell_id)
"""


def kpi_sql(kpis: Sequence[Kpi], province_id: str, source: str = "events") -> str:
    """One pass over ``source`` (the events) with a grouping set per region level × channel;
    returns the long KPI table (numerator, denominator, value per KPI, level, region, channel)."""
    sums = []
    for k in kpis:
        sums.append(f'{k.numerator.sql()} AS "n_{k.kpi_id}"')
        sums.append(f'{k.denominator.sql() if k.denominator else "NULL"} AS "d_{k.kpi_id}"')
    level_cols = ("city_id", "county_id", "township_id", "cell_id")
    sets = ["()", "(channel)"] + [f"({c})" for c in level_cols] + [f"({c}, channel)" for c in level_cols]
    level = (
        "CASE WHEN GROUPING(cell_id) = 0 THEN 'cell' WHEN GROUPING(township_id) = 0 THEN 'township' "
        "WHEN GROUPING(county_id) = 0 THEN 'county' WHEN GROUPING(city_id) = 0 THEN 'city' ELSE 'province' END"
    )
    region = f"coalesce(cell_id, township_id, county_id, city_id, '{province_id}')"
    unions = []
    for k in kpis:
        value = (
            f'"n_{k.kpi_id}" * {k.scale}'
            if k.denominator is None
            else f'CASE WHEN "d_{k.kpi_id}" > 0 THEN "n_{k.kpi_id}" * {k.scale} / "d_{k.kpi_id}" END'
        )
        where = "" if k.by_channel else "WHERE channel = '*'"
        unions.append(
            f"SELECT '{k.kpi_id}' AS kpi, level, region_id, channel, CAST(\"n_{k.kpi_id}\" AS DOUBLE) AS numerator, "
            f'CAST("d_{k.kpi_id}" AS DOUBLE) AS denominator, CAST({value} AS DOUBLE) AS value FROM g {where}'
        )
    return f"""
WITH g AS (
    SELECT {level} AS level, {region} AS region_id,
           CASE WHEN GROUPING(channel) = 1 THEN '{ALL_CHANNELS}' ELSE coalesce(channel, 'unknown') END AS channel,
           {", ".join(sums)}
    FROM {source}
    GROUP BY GROUPING SETS ({", ".join(sets)})
    HAVING NOT ((GROUPING(cell_id) = 0 AND cell_id IS NULL) OR (GROUPING(township_id) = 0 AND township_id IS NULL)
        OR (GROUPING(county_id) = 0 AND county_id IS NULL) OR (GROUPING(city_id) = 0 AND city_id IS NULL))
)
{" UNION ALL ".join(unions)}
"""


# --- the store ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class KpiStore:
    """The KPI tables of a warehouse: events and daily KPI values, one Parquet file per day."""

    root: Path

    def day_dir(self, table: str, day: dt.date) -> Path:
        return self.root / table / f"day={day.isoformat()}"

    def days(self) -> list[dt.date]:
        d = self.root / "kpi_daily"
        if not d.is_dir():
            return []
        return sorted(
            dt.date.fromisoformat(p.name[4:]) for p in d.glob("day=*") if (p / "kpi.parquet").exists()
        )

    def _glob(self, table: str, name: str) -> str:
        return str((self.root / table).resolve() / "day=*" / name).replace("'", "''")

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with views ``kpi_daily`` and ``kpi_events`` (day as DATE)."""
        import duckdb

        con = duckdb.connect()
        con.execute(f"SET threads = {os.cpu_count() or 1}")
        for table, name in (("kpi_daily", "kpi.parquet"), ("kpi_events", "events.parquet")):
            if any((self.root / table).glob(f"day=*/{name}")):
                con.execute(
                    f"CREATE VIEW {table} AS SELECT * REPLACE (CAST(day AS DATE) AS day) FROM "
                    f"read_parquet('{self._glob(table, name)}', hive_partitioning = true, hive_types_autocast = false)"
                )
        return con

    def values(
        self,
        kpi: str,
        days: Sequence[dt.date],
        *,
        level: str | None = None,
        channel: str = ALL_CHANNELS,
        region_ids: Sequence[str] | None = None,
    ) -> pa.Table:
        """KPI values (day, level, region_id, channel, numerator, denominator, value) for the days."""
        con = self.connect()
        if not self.days():
            raise KpiError(f"no KPIs computed under {self.root}: run `tagcloud alerts kpis` first")
        sql = (
            "SELECT day, level, region_id, channel, numerator, denominator, value FROM kpi_daily "
            "WHERE kpi = ? AND channel = ? AND day IN (SELECT unnest(?::DATE[]))"
        )
        params: list[object] = [kpi, channel, [d.isoformat() for d in days]]
        if level is not None:
            sql += " AND level = ?"
            params.append(level)
        if region_ids is not None:
            sql += " AND region_id IN (SELECT unnest(?::VARCHAR[]))"
            params.append(list(region_ids))
        return con.sql(sql + " ORDER BY region_id, day", params=params).to_arrow_table()


def default_store(warehouse: Warehouse) -> KpiStore:
    return KpiStore(warehouse.root / "marts")


@dataclass
class KpiRun:
    day: dt.date
    events: int = 0
    rows: int = 0
    seconds: float = 0.0
    skipped: str = ""
    by_event: dict[str, int] = field(default_factory=dict)


def compute_day(
    warehouse: Warehouse, day: dt.date, store: KpiStore | None = None, kpis: Sequence[Kpi] = KPIS
) -> KpiRun:
    """Compute and store one day's events and KPIs; returns what was written. A day without
    calls in the warehouse is refused (nothing is written)."""
    import time

    store = store or default_store(warehouse)
    started = time.perf_counter()
    periods = set(warehouse.periods("voice_cdr"))
    if day.isoformat() not in periods:
        raise KpiError(f"the warehouse has no calls on {day}: ingest that day first")
    check_kpis(kpis)
    lookback = {(day - dt.timedelta(days=i)).isoformat() for i in range(1, RIVAL_LOOKBACK_DAYS + 1)}
    if not lookback <= periods:
        # without the whole lookback every returning rival number would count as new: leave the
        # rival-based KPIs out of the day rather than report a share that means nothing
        kpis = [
            k
            for k in kpis
            if "rival_new" not in (k.numerator.where + (k.denominator.where if k.denominator else ""))
        ]
    con = warehouse.connect()
    con.execute(f"CREATE TEMP TABLE events AS {events_sql(day)}")
    ev_dir, kpi_dir = store.day_dir("kpi_events", day), store.day_dir("kpi_daily", day)
    for d in (ev_dir, kpi_dir):
        d.mkdir(parents=True, exist_ok=True)
    # write to a temporary name and rename: a reader never sees half a day
    tmp_ev, tmp_kpi = ev_dir / "events.parquet.tmp", kpi_dir / "kpi.parquet.tmp"
    con.execute(f"COPY events TO '{_q(tmp_ev)}' (FORMAT parquet, COMPRESSION zstd)")
    province = con.execute("SELECT min(region_id) FROM regions WHERE level = 'province'").fetchone()
    con.execute(
        f"COPY ({kpi_sql(kpis, str(province[0] if province else 'province'))}) "
        f"TO '{_q(tmp_kpi)}' (FORMAT parquet, COMPRESSION zstd)"
    )
    os.replace(tmp_ev, ev_dir / "events.parquet")
    os.replace(tmp_kpi, kpi_dir / "kpi.parquet")
    by_event = dict(con.execute("SELECT event, count(*) FROM events GROUP BY event").fetchall())
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{_q(kpi_dir / 'kpi.parquet')}')").fetchone()
    return KpiRun(
        day, sum(by_event.values()), int(rows[0]) if rows else 0, time.perf_counter() - started, "", by_event
    )


def _q(p: Path) -> str:
    return str(p.resolve()).replace("'", "''")


def warehouse_days(warehouse: Warehouse) -> list[dt.date]:
    """Days with calls in the warehouse."""
    return [dt.date.fromisoformat(p) for p in warehouse.periods("voice_cdr")]


def region_parents(warehouse: Warehouse) -> Mapping[str, str | None]:
    """Each region's (and cell's) parent: cells belong to their township."""
    con = warehouse.connect()
    out: dict[str, str | None] = dict(con.execute("SELECT region_id, parent_id FROM regions").fetchall())
    out.update(dict(con.execute("SELECT cell_id, township_id FROM cells").fetchall()))
    return out
