"""The canonical operator model: every table Tagcloud reads, with columns, types, units and keys.

The model is data, not code paths: the simulator writes it, ingestion validates against it, the
warehouse partitions by it and ``docs/data-model.md`` is generated from it. Types are DuckDB SQL
types. Timestamps are local time (Asia/Shanghai) without a zone, as operators' exports are.
Money is in yuan, data volumes in bytes (xDR) or MB (monthly bills), durations in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Partitioning(StrEnum):
    """How a table's warehouse files are split."""

    NONE = "none"  # reference data and snapshots: one file per source file
    DAY = "day"  # event records: one folder per calendar day of the time column
    MONTH = "month"  # monthly facts (bills): one folder per month


class TableKind(StrEnum):
    REFERENCE = "reference"  # code-like data maintained by the business (cells, products, handsets)
    SNAPSHOT = "snapshot"  # state of customers as exported by the business system (subscribers)
    EVENT = "event"  # one row per thing that happened (calls, sessions, orders, contacts)
    FACT = "fact"  # periodic aggregates produced by billing


# Number formats. Own and competitor mobile numbers are 11 digits starting with 1; fixed lines
# carry their area code (0 + 2-3 digits + 7-8 digits); service numbers are short (10086, 95555,
# 12315); international numbers start with 00.
MOBILE_NUMBER = r"^1[3-9][0-9]{9}$"
ANY_NUMBER = r"^(1[3-9][0-9]{9}|0[1-9][0-9]{8,11}|[1-9][0-9]{2,7}|00[1-9][0-9]{5,14})$"
IMEI = r"^[0-9]{15}$"
TAC = r"^[0-9]{8}$"
MONTH_START = "month_start"  # a DATE column whose day must be 1


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    unit: str | None = None
    nullable: bool = True
    codes: str | None = None  # name of a code table in tagcloud.data.codes
    pattern: str | None = None  # regular expression a VARCHAR value must match (whole value)
    min: float | None = None
    max: float | None = None
    references: str | None = None  # "table.column" checked at ingest (e.g. cells.cell_id)
    sensitive: bool = False  # personal data: masked unless the role may see it


@dataclass(frozen=True)
class Table:
    name: str
    kind: TableKind
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition: Partitioning = Partitioning.NONE
    time_column: str | None = None  # the column that places a row in a partition and in time
    zh: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def cluster_by(self) -> tuple[str, ...]:
        """Columns the warehouse sorts this table's files by (empty: kept in arrival order).

        Event and fact rows are clustered by subscriber: a build aggregates hundreds of attributes
        per msisdn, and when one subscriber's rows sit together each batch of rows updates a few
        subscribers' aggregate states that stay in the CPU cache, instead of one cache miss per row
        and attribute (3-4x faster on a month of calls; docs/decisions/0010)."""
        if self.kind in (TableKind.EVENT, TableKind.FACT) and "msisdn" in self.column_names:
            return ("msisdn",)
        return ()


def _c(name: str, type_: str, description: str, **kw: object) -> Column:
    return Column(name, type_, description, **kw)  # type: ignore[arg-type]


REGIONS = Table(
    "regions",
    TableKind.REFERENCE,
    "The region hierarchy: province → city → county → township / district (片区).",
    (
        _c("region_id", "VARCHAR", "region code", nullable=False, pattern=r"^[0-9A-Za-z_]{2,20}$"),
        _c("name", "VARCHAR", "Chinese name", nullable=False),
        _c("name_en", "VARCHAR", "English name (pinyin)"),
        _c("level", "VARCHAR", "level in the hierarchy", nullable=False, codes="region_level"),
        _c("parent_id", "VARCHAR", "the region this one belongs to (empty for the province)"),
        _c("is_urban", "BOOLEAN", "urban district (true) or rural township (false)"),
    ),
    key=("region_id",),
    zh="区域层级",
)

TOWNSHIPS = Table(
    "townships",
    TableKind.REFERENCE,
    "Township information base (农村市场资料信息库, seed 003 table 1): the economy of each township.",
    (
        _c(
            "township_id",
            "VARCHAR",
            "乡镇代码, a region_id of level township",
            nullable=False,
            references="regions.region_id",
        ),
        _c("name", "VARCHAR", "乡镇名称", nullable=False),
        _c("is_administrative", "BOOLEAN", "是否属行政区"),
        _c("population", "INTEGER", "人口数", unit="persons", min=0),
        _c("agricultural_population", "INTEGER", "农业人口数", unit="persons", min=0),
        _c("working_population", "INTEGER", "从业人口数", unit="persons", min=0),
        _c("migrant_out_population", "INTEGER", "外出务工人口数", unit="persons", min=0),
        _c("male_population", "INTEGER", "男性人口数", unit="persons", min=0),
        _c("households", "INTEGER", "总户数", unit="households", min=0),
        _c("gdp", "DECIMAL(14,2)", "GDP", unit="10k yuan", min=0),
        _c("religion", "VARCHAR", "宗教信仰 (main religion, if any)"),
        _c("pillar_industry", "VARCHAR", "重点支柱产业"),
        _c("income_per_capita", "DECIMAL(12,2)", "人均纯收入", unit="yuan/year", min=0),
        _c("competitor_channels", "INTEGER", "竞争对手渠道数量", min=0),
        _c("own_channels", "INTEGER", "移动渠道数量", min=0),
        _c("mobile_penetration", "DOUBLE", "移动手机普及率", unit="share", min=0, max=3),
        _c("market_share", "DOUBLE", "通信市场占有率 (our share)", unit="share", min=0, max=1),
    ),
    key=("township_id",),
    zh="乡镇信息库",
)

CELLS = Table(
    "cells",
    TableKind.REFERENCE,
    "Radio cells with their place in the region hierarchy and the kind of area they serve.",
    (
        _c(
            "cell_id",
            "VARCHAR",
            "cell global id (LAC-CI / ECI / NCI)",
            nullable=False,
            pattern=r"^[0-9A-Za-z-]{4,32}$",
        ),
        _c("lat", "DOUBLE", "latitude (WGS-84)", unit="degree", nullable=False, min=-90, max=90),
        _c("lon", "DOUBLE", "longitude (WGS-84)", unit="degree", nullable=False, min=-180, max=180),
        _c("rat", "VARCHAR", "radio access technology", codes="rat", nullable=False),
        _c("city_id", "VARCHAR", "city", nullable=False, references="regions.region_id"),
        _c("county_id", "VARCHAR", "county", nullable=False, references="regions.region_id"),
        _c(
            "township_id",
            "VARCHAR",
            "township / district (片区)",
            nullable=False,
            references="regions.region_id",
        ),
        _c("area_type", "VARCHAR", "kind of area served", codes="area_type", nullable=False),
        _c("site_id", "VARCHAR", "the campus, compound, park or site the cell belongs to, if any"),
        _c("site_name", "VARCHAR", "its name (e.g. 某某大学, 某某花园)"),
        _c("opened", "DATE", "date the cell went on air"),
    ),
    key=("cell_id",),
    zh="基站小区",
)

PRODUCTS = Table(
    "products",
    TableKind.REFERENCE,
    "The product catalogue: plans, data packs, 5G packages, home broadband, memberships, VAS.",
    (
        _c("product_id", "VARCHAR", "product code", nullable=False),
        _c("name", "VARCHAR", "Chinese name", nullable=False),
        _c("name_en", "VARCHAR", "English name"),
        _c("kind", "VARCHAR", "product kind", codes="product_kind", nullable=False),
        _c("monthly_fee", "DECIMAL(10,2)", "monthly fee", unit="yuan", min=0),
        _c("data_mb", "INTEGER", "included data", unit="MB", min=0),
        _c("voice_min", "INTEGER", "included voice", unit="minutes", min=0),
        _c("requires_5g", "BOOLEAN", "needs a 5G handset to be useful"),
        _c("launched", "DATE", "launch date"),
    ),
    key=("product_id",),
    zh="产品目录",
)

HANDSETS = Table(
    "handsets",
    TableKind.REFERENCE,
    "Handset library (终端库): type allocation code → brand, model, capability, price tier.",
    (
        _c(
            "tac", "VARCHAR", "type allocation code (first 8 digits of the IMEI)", nullable=False, pattern=TAC
        ),
        _c("brand", "VARCHAR", "manufacturer", nullable=False),
        _c("model", "VARCHAR", "model name", nullable=False),
        _c("supports_4g", "BOOLEAN", "4G capable", nullable=False),
        _c("supports_5g", "BOOLEAN", "5G capable", nullable=False),
        _c("os", "VARCHAR", "operating system", codes="handset_os"),
        _c("price_tier", "VARCHAR", "price tier at launch", codes="handset_price_tier"),
        _c("release_year", "SMALLINT", "release year", min=1995, max=2030),
    ),
    key=("tac",),
    zh="终端库",
)

COMPETITOR_RANGES = Table(
    "competitor_ranges",
    TableKind.REFERENCE,
    "Number prefixes and the operator that owns them (号段), used to tell on-net from off-net.",
    (
        _c("prefix", "VARCHAR", "number prefix (3-4 digits)", nullable=False, pattern=r"^1[3-9][0-9]{1,2}$"),
        _c("operator", "VARCHAR", "owner", codes="operator", nullable=False),
    ),
    key=("prefix",),
    zh="号段归属",
)

CALENDAR = Table(
    "calendar",
    TableKind.REFERENCE,
    "The working calendar: weekends, public holidays and adjusted workdays (调休), named festivals.",
    (
        _c("date", "DATE", "calendar day", nullable=False),
        _c("day_type", "VARCHAR", "kind of day", codes="day_type", nullable=False),
        _c("festival", "VARCHAR", "festival or season name (春节, 中秋节, 国庆节, 农忙 …)"),
    ),
    key=("date",),
    zh="工作日历",
)

SUBSCRIBERS = Table(
    "subscribers",
    TableKind.SNAPSHOT,
    "Subscribers as recorded by the business system (BOSS), one row per number.",
    (
        _c("msisdn", "VARCHAR", "mobile number", nullable=False, pattern=MOBILE_NUMBER, sensitive=True),
        _c("subscriber_id", "BIGINT", "the business system's user id", nullable=False),
        _c("brand", "VARCHAR", "brand", codes="brand", nullable=False),
        _c("plan_id", "VARCHAR", "current main plan", references="products.product_id"),
        _c("join_date", "DATE", "date the number joined the network", nullable=False),
        _c("status", "VARCHAR", "status", codes="subscriber_status", nullable=False),
        _c("payment_type", "VARCHAR", "prepaid or postpaid", codes="payment_type", nullable=False),
        _c("age_band", "VARCHAR", "age band", codes="age_band"),
        _c("gender", "VARCHAR", "gender", codes="gender"),
        _c("group_id", "VARCHAR", "enterprise (group) customer the number belongs to, if any"),
        _c("vnet_id", "VARCHAR", "V-net (virtual private network) the number belongs to, if any"),
        _c("family_vnet_id", "VARCHAR", "family V-net / family plan the number belongs to, if any"),
        _c("is_family_head", "BOOLEAN", "pays the family plan"),
        _c(
            "home_region_id",
            "VARCHAR",
            "home township / district as recorded by the business system",
            references="regions.region_id",
        ),
        _c("snapshot_date", "DATE", "date of this snapshot", nullable=False),
    ),
    key=("msisdn",),
    zh="用户资料",
)

SUBSCRIBER_HANDSETS = Table(
    "subscriber_handsets",
    TableKind.EVENT,
    "IMEI history: one row each time a number is first seen in a handset, so a change is visible.",
    (
        _c("msisdn", "VARCHAR", "mobile number", nullable=False, pattern=MOBILE_NUMBER, sensitive=True),
        _c("imei", "VARCHAR", "handset IMEI", nullable=False, pattern=IMEI),
        _c("tac", "VARCHAR", "type allocation code", nullable=False, pattern=TAC),
        _c("first_seen", "TIMESTAMP", "first time the number was seen in this handset", nullable=False),
    ),
    key=("msisdn", "imei", "first_seen"),
    partition=Partitioning.MONTH,
    time_column="first_seen",
    zh="用户终端历史",
)

ORDERS = Table(
    "orders",
    TableKind.EVENT,
    "Orders: who took (or dropped) which product, when and through which channel.",
    (
        _c("order_id", "BIGINT", "order id", nullable=False),
        _c("msisdn", "VARCHAR", "mobile number", nullable=False, pattern=MOBILE_NUMBER, sensitive=True),
        _c("product_id", "VARCHAR", "product", nullable=False, references="products.product_id"),
        _c("action", "VARCHAR", "subscribe, unsubscribe or change", codes="order_action", nullable=False),
        _c("order_time", "TIMESTAMP", "time of the order", nullable=False),
        _c("channel", "VARCHAR", "channel that took the order", codes="channel", nullable=False),
        _c("campaign_id", "VARCHAR", "marketing campaign credited, if any"),
    ),
    key=("order_id",),
    partition=Partitioning.MONTH,
    time_column="order_time",
    zh="订购记录",
)

VOICE_CDR = Table(
    "voice_cdr",
    TableKind.EVENT,
    "Voice call detail records (话单), one per call leg of our subscriber.",
    (
        _c("record_id", "BIGINT", "CDR serial number", nullable=False),
        _c("msisdn", "VARCHAR", "our subscriber", nullable=False, pattern=MOBILE_NUMBER, sensitive=True),
        _c("peer_number", "VARCHAR", "the other party", nullable=False, pattern=ANY_NUMBER, sensitive=True),
        _c(
            "direction",
            "VARCHAR",
            "MO = our subscriber called, MT = was called",
            codes="direction",
            nullable=False,
        ),
        _c("start_time", "TIMESTAMP", "call start", nullable=False),
        _c("duration_s", "INTEGER", "call duration", unit="s", nullable=False, min=0, max=86400),
        _c(
            "cell_id",
            "VARCHAR",
            "serving cell (empty when roaming out of the province)",
            references="cells.cell_id",
        ),
        _c("peer_operator", "VARCHAR", "network of the other party", codes="operator", nullable=False),
        _c("roaming", "BOOLEAN", "our subscriber was roaming", nullable=False),
    ),
    key=("record_id",),
    partition=Partitioning.DAY,
    time_column="start_time",
    zh="语音话单",
)

SMS = Table(
    "sms",
    TableKind.EVENT,
    "Person-to-person SMS records.",
    (
        _c("record_id", "BIGINT", "record serial number", nullable=False),
        _c("msisdn", "VARCHAR", "our subscriber", nullable=False, pattern=MOBILE_NUMBER, sensitive=True),
        _c("peer_number", "VARCHAR", "the other party", nullable=False, pattern=ANY_NUMBER, sensitive=True),
        _c("direction", "VARCHAR", "MO = sent, MT = received", codes="direction", nullable=False),
        _c("sent_time", "TIMESTAMP", "time sent", nullable=False),
        _c("cell_id", "VARCHAR", "serving cell (empty when roaming out)", references="cells.cell_id"),
        _c("peer_operator", "VARCHAR", "network of the other party", codes="operator", nullable=False),
        _c("roaming", "BOOLEAN", "our subscriber was roaming", nullable=False),
    ),
    key=("record_id",),
    partition=Partitioning.DAY,
    time_column="sent_time",
    zh="短信详单",
)

DATA_XDR = Table(
    "data_xdr",
    TableKind.EVENT,
    "Mobile-internet session records (上网日志 / xDR) with the host and URI path of each session.",
    (
        _c("record_id", "BIGINT", "xDR serial number", nullable=False),
        _c("msisdn", "VARCHAR", "our subscriber", nullable=False, pattern=MOBILE_NUMBER, sensitive=True),
        _c("start_time", "TIMESTAMP", "session start", nullable=False),
        _c("duration_s", "INTEGER", "session duration", unit="s", nullable=False, min=0, max=86400),
        _c("cell_id", "VARCHAR", "serving cell (empty when roaming out)", references="cells.cell_id"),
        _c("rat", "VARCHAR", "radio access technology", codes="rat", nullable=False),
        _c("host", "VARCHAR", "HTTP host / TLS SNI (empty when not visible)"),
        _c("uri_path", "VARCHAR", "URI path (empty for encrypted traffic)"),
        _c(
            "server_ip",
            "VARCHAR",
            "server IPv4 address",
            nullable=False,
            pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}$",
        ),
        _c("server_port", "INTEGER", "server port", nullable=False, min=0, max=65535),
        _c("bytes_up", "BIGINT", "uplink volume", unit="bytes", nullable=False, min=0),
        _c("bytes_down", "BIGINT", "downlink volume", unit="bytes", nullable=False, min=0),
    ),
    key=("record_id",),
    partition=Partitioning.DAY,
    time_column="start_time",
    zh="上网日志",
)

ROAMING = Table(
    "roaming",
    TableKind.EVENT,
    "Roaming presence: one row per subscriber and day spent roaming (out) or visiting (in).",
    (
        _c("record_date", "DATE", "day", nullable=False),
        _c("msisdn", "VARCHAR", "the roaming number", nullable=False, pattern=MOBILE_NUMBER, sensitive=True),
        _c(
            "direction",
            "VARCHAR",
            "out = ours away, in = a visitor here",
            codes="roaming_direction",
            nullable=False,
        ),
        _c("visited_province", "VARCHAR", "visited province (out) or home province (in); empty abroad"),
        _c("visited_city", "VARCHAR", "visited city (out) or city visited here (in)"),
        _c(
            "visited_country",
            "VARCHAR",
            "ISO 3166 country / region code (CN, HK, MO, TW, …)",
            nullable=False,
            pattern=r"^[A-Z]{2}$",
        ),
    ),
    key=("msisdn", "record_date", "direction"),
    partition=Partitioning.DAY,
    time_column="record_date",
    zh="漫游记录",
)

BILLING_MONTHLY = Table(
    "billing_monthly",
    TableKind.FACT,
    "Monthly bill per subscriber: revenue, usage and bill items.",
    (
        _c("bill_month", "DATE", "first day of the bill month", nullable=False, pattern=MONTH_START),
        _c("msisdn", "VARCHAR", "mobile number", nullable=False, pattern=MOBILE_NUMBER, sensitive=True),
        _c("arpu", "DECIMAL(10,2)", "revenue of the month (ARPU)", unit="yuan", nullable=False, min=0),
        _c("dou_mb", "DOUBLE", "data use of the month (DOU)", unit="MB", nullable=False, min=0),
        _c("mou_min", "DOUBLE", "minutes of use of the month (MOU)", unit="minutes", nullable=False, min=0),
        _c("sms_count", "INTEGER", "SMS sent in the month", nullable=False, min=0),
        _c("balance", "DECIMAL(10,2)", "account balance at month end", unit="yuan"),
        _c("fee_plan", "DECIMAL(10,2)", "bill item: plan fee", unit="yuan", min=0),
        _c("fee_voice", "DECIMAL(10,2)", "bill item: voice beyond plan", unit="yuan", min=0),
        _c("fee_data", "DECIMAL(10,2)", "bill item: data beyond plan and packs", unit="yuan", min=0),
        _c("fee_sms", "DECIMAL(10,2)", "bill item: SMS", unit="yuan", min=0),
        _c("fee_vas", "DECIMAL(10,2)", "bill item: value-added services and memberships", unit="yuan", min=0),
        _c("fee_roaming", "DECIMAL(10,2)", "bill item: roaming", unit="yuan", min=0),
    ),
    key=("bill_month", "msisdn"),
    partition=Partitioning.MONTH,
    time_column="bill_month",
    zh="月账单",
)

PAYMENTS = Table(
    "payments",
    TableKind.EVENT,
    "Top-ups and bill payments.",
    (
        _c("payment_id", "BIGINT", "payment id", nullable=False),
        _c("msisdn", "VARCHAR", "mobile number", nullable=False, pattern=MOBILE_NUMBER, sensitive=True),
        _c("paid_time", "TIMESTAMP", "time of payment", nullable=False),
        _c("amount", "DECIMAL(10,2)", "amount", unit="yuan", nullable=False, min=0.01, max=100000),
        _c("channel", "VARCHAR", "payment channel", codes="channel", nullable=False),
    ),
    key=("payment_id",),
    partition=Partitioning.DAY,
    time_column="paid_time",
    zh="缴费充值",
)

SERVICE_CONTACTS = Table(
    "service_contacts",
    TableKind.EVENT,
    "Customer-initiated service contacts: 10086, service hall, web hall, SMS hall, app.",
    (
        _c("contact_id", "BIGINT", "contact id", nullable=False),
        _c("msisdn", "VARCHAR", "mobile number", nullable=False, pattern=MOBILE_NUMBER, sensitive=True),
        _c("contact_time", "TIMESTAMP", "time of contact", nullable=False),
        _c("channel", "VARCHAR", "touchpoint", codes="channel", nullable=False),
        _c("reason", "VARCHAR", "reason", codes="contact_reason", nullable=False),
        _c("duration_s", "INTEGER", "handling time", unit="s", min=0, max=86400),
    ),
    key=("contact_id",),
    partition=Partitioning.DAY,
    time_column="contact_time",
    zh="服务接触",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        REGIONS,
        TOWNSHIPS,
        CELLS,
        PRODUCTS,
        HANDSETS,
        COMPETITOR_RANGES,
        CALENDAR,
        SUBSCRIBERS,
        SUBSCRIBER_HANDSETS,
        ORDERS,
        VOICE_CDR,
        SMS,
        DATA_XDR,
        ROAMING,
        BILLING_MONTHLY,
        PAYMENTS,
        SERVICE_CONTACTS,
    )
}

# Reference tables first: ingestion loads them before the tables whose foreign keys point at them.
LOAD_ORDER: tuple[str, ...] = tuple(TABLES)


def table(name: str) -> Table:
    """The model table of that name, or a KeyError that lists the known names."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; the model has: {', '.join(TABLES)}") from None


def arrow_schema(t: Table):  # -> pyarrow.Schema (imported lazily: pyarrow is heavy)
    """The Arrow schema a writer of this table uses (the simulator's output, the warehouse)."""
    import pyarrow as pa

    def arrow_type(sql: str) -> pa.DataType:
        s = sql.upper()
        if s.startswith("DECIMAL"):
            p, sc = s[s.index("(") + 1 : s.index(")")].split(",")
            return pa.decimal128(int(p), int(sc))
        return {
            "VARCHAR": pa.string(),
            "BIGINT": pa.int64(),
            "INTEGER": pa.int32(),
            "SMALLINT": pa.int16(),
            "DOUBLE": pa.float64(),
            "BOOLEAN": pa.bool_(),
            "DATE": pa.date32(),
            "TIMESTAMP": pa.timestamp("us"),
        }[s]

    return pa.schema([pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in t.columns])
