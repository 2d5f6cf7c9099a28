"""Rural market (农村市场, seed 003 §3.2): the township info base (table 1), the rural customer
segments (留守 / 县内务工 / 县外务工, from the rural-type model's tag ``rural_type_model``) and rural channel
monitoring (table 2), computed from the warehouse with DuckDB.

The info base's fields are the data model's ``townships`` table (``tagcloud.data.model``): one
definition of what a township record holds, for the warehouse and for the sheet staff upload.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from tagcloud.data.model import TABLES, Column

if TYPE_CHECKING:
    from collections.abc import Mapping

    import duckdb
    import pyarrow as pa

TOWNSHIP_COLUMNS: tuple[Column, ...] = TABLES["townships"].columns
FIELDS = tuple(c.name for c in TOWNSHIP_COLUMNS)
# Table 1's wording: a sheet may head its columns with these or with the field names.
ZH = {
    "township_id": "乡镇代码",
    "name": "乡镇名称",
    "is_administrative": "是否属行政区",
    "population": "人口数",
    "agricultural_population": "农业人口数",
    "working_population": "从业人口数",
    "migrant_out_population": "外出务工人口数",
    "male_population": "男性人口数",
    "households": "总户数",
    "gdp": "GDP",
    "religion": "宗教信仰",
    "pillar_industry": "重点支柱产业",
    "income_per_capita": "人均纯收入",
    "competitor_channels": "竞争对手渠道数量",
    "own_channels": "移动渠道数量",
    "mobile_penetration": "移动手机普及率",
    "market_share": "通信市场占有率",
}
EN = {c.name: c.name.replace("_", " ") for c in TOWNSHIP_COLUMNS}
MAX_SHEET_BYTES = 5 * 1024 * 1024
MAX_SHEET_ROWS = 20_000

# Rural customer segments (seed 003 §3.2.4): the rural-type model's values, as conditions.
SEGMENTS = {
    "stay_home": ("留守客户", "stay-at-home", "rural_type_model = 'stay_home'"),
    "county_worker": ("县内务工", "works in the county", "rural_type_model = 'county_worker'"),
    "out_county_worker": ("县外务工", "works outside the county", "rural_type_model = 'out_county_worker'"),
}


class SheetError(ValueError):
    """A sheet that cannot be read at all (not CSV/XLSX, no header, too big)."""


@dataclass(frozen=True)
class RowError:
    """One problem of one row: the sheet's row number (the header is row 1), the field, why."""

    row: int
    field: str
    message: str


def _header_key(h: str) -> str | None:
    h = (h or "").strip().lstrip("\ufeff")
    if h in FIELDS:
        return h
    for k, z in ZH.items():
        if h == z:
            return k
    return None


def read_sheet(data: bytes, filename: str) -> list[dict[str, str]]:
    """The sheet's rows as {field: text}, keyed by the header (field names or table 1's Chinese
    names). CSV (UTF-8, or GB18030 as Excel in China saves it) or XLSX (the first sheet)."""
    if len(data) > MAX_SHEET_BYTES:
        raise SheetError(f"{filename}: {len(data):,} bytes is over the {MAX_SHEET_BYTES // 2**20} MB limit")
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        if not data.startswith(b"PK\x03\x04"):
            raise SheetError(f"{filename}: not an XLSX workbook")
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises several kinds on a broken file
            raise SheetError(f"{filename}: cannot read the workbook ({e.__class__.__name__})") from None
        ws = wb.worksheets[0]
        grid = [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
        wb.close()
    elif lower.endswith(".csv"):
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes any byte string
            raise SheetError(f"{filename}: not UTF-8 or GB18030 text")
        grid = list(csv.reader(io.StringIO(text)))
    else:
        raise SheetError(f"{filename}: upload a .csv or .xlsx sheet")
    if not grid:
        raise SheetError(f"{filename}: the sheet is empty")
    keys = [_header_key(h) for h in grid[0]]
    if "township_id" not in keys:
        raise SheetError(f"{filename}: the header needs a 乡镇代码 (township_id) column")
    unknown = [h for h, k in zip(grid[0], keys, strict=True) if k is None and h.strip()]
    if unknown:
        raise SheetError(f"{filename}: unknown column {unknown[0]!r} (use table 1's names)")
    rows = []
    for line in grid[1:]:
        if not any(str(v).strip() for v in line):
            continue
        rows.append({k: str(v).strip() for k, v in zip(keys, line, strict=False) if k is not None})
    if len(rows) > MAX_SHEET_ROWS:
        raise SheetError(f"{filename}: {len(rows):,} rows; at most {MAX_SHEET_ROWS:,} at once")
    return rows


def parse_value(col: Column, raw: str) -> Any:
    """A cell's text → the field's value (None when blank); raises ValueError saying why not."""
    raw = raw.strip()
    if raw == "":
        if not col.nullable:
            raise ValueError("required")
        return None
    t = col.type.upper()
    value: Any
    if t == "BOOLEAN":
        truthy, falsy = {"1", "true", "yes", "y", "是"}, {"0", "false", "no", "n", "否"}
        if raw.lower() in truthy:
            return True
        if raw.lower() in falsy:
            return False
        raise ValueError(f"{raw!r} is not 是/否")
    if t == "INTEGER":
        try:
            f = float(raw.replace(",", ""))
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
        if f != int(f):
            raise ValueError(f"{raw!r} is not a whole number")
        value = int(f)
    elif t.startswith("DECIMAL"):
        try:
            value = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"{raw!r} is not a number") from None
        if not value.is_finite():
            raise ValueError(f"{raw!r} is not a number")
        value = value.quantize(Decimal("0.01"))
    elif t == "DOUBLE":
        text = raw[:-1] if raw.endswith("%") else raw
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
        if raw.endswith("%"):
            value /= 100
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{raw!r} is not a number")
    else:
        if len(raw) > 200:
            raise ValueError("longer than 200 characters")
        return raw
    if col.min is not None and value < col.min:
        raise ValueError(f"{raw} is below {col.min:g}")
    if col.max is not None and value > col.max:
        raise ValueError(f"{raw} is above {col.max:g}")
    return value


def validate_rows(
    rows: list[dict[str, str]], townships: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Typed records and every row's errors. ``townships`` maps the township region ids the user
    may edit to their names; a code outside it, a duplicate code, a bad value or a population that
    does not add up is an error of its row (sheet row numbers: the header is row 1)."""
    out: list[dict[str, Any]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    cols = {c.name: c for c in TOWNSHIP_COLUMNS}
    for i, raw in enumerate(rows, start=2):
        rec: dict[str, Any] = {}
        row_errors: list[RowError] = []
        code = raw.get("township_id", "").strip()
        if not code:
            row_errors.append(RowError(i, "township_id", "乡镇代码 is required"))
        elif code not in townships:
            row_errors.append(RowError(i, "township_id", f"{code!r} is not a township in your region"))
        elif code in seen:
            row_errors.append(RowError(i, "township_id", f"{code!r} is also on row {seen[code]}"))
        else:
            seen[code] = i
        for name, col in cols.items():
            if name == "township_id":
                continue
            text = raw.get(name, "")
            if name == "name" and not text and code in townships:
                text = townships[code]  # the name may be left to the region table
            try:
                rec[name] = parse_value(col, text)
            except ValueError as e:
                row_errors.append(RowError(i, name, f"{ZH[name]}: {e}"))
        pop = rec.get("population")
        for part in (
            "agricultural_population",
            "working_population",
            "migrant_out_population",
            "male_population",
        ):
            if pop is not None and rec.get(part) is not None and rec[part] > pop:
                row_errors.append(RowError(i, part, f"{ZH[part]} {rec[part]} exceeds 人口数 {pop}"))
        rec["township_id"] = code
        errors.extend(row_errors)
        if not row_errors:
            out.append(rec)
    return out, errors


# -- rural channel monitoring (table 2) ------------------------------------------------------------

CHANNEL_SQL = """
WITH joined AS (
    SELECT s.msisdn, s.home_region_id AS township_id, s.join_date
    FROM subscribers s
    WHERE s.join_date >= CAST($month_start AS DATE) AND s.join_date < CAST($month_end AS DATE)
      AND s.home_region_id IN (SELECT region_id FROM regions WHERE level = 'township' AND NOT coalesce(is_urban, false))
    QUALIFY row_number() OVER (PARTITION BY s.msisdn ORDER BY s.snapshot_date DESC) = 1
), first_order AS (  -- the channel that took the new number's first order develops the customer
    SELECT o.msisdn, arg_min(o.channel, o.order_time) AS channel
    FROM orders o JOIN joined j USING (msisdn)
    GROUP BY o.msisdn
), new_service AS (  -- took a product other than a main plan in the month
    SELECT DISTINCT o.msisdn FROM orders o JOIN products p USING (product_id) JOIN joined j USING (msisdn)
    WHERE o.action = 'subscribe' AND p.kind <> 'plan'
      AND o.order_time >= CAST($month_start AS TIMESTAMP) AND o.order_time < CAST($month_end AS TIMESTAMP)
), repeat_sim AS (  -- the new number's handset was seen before with another number: a repeat SIM
    SELECT DISTINCT h.msisdn FROM subscriber_handsets h JOIN joined j USING (msisdn)
    WHERE EXISTS (SELECT 1 FROM subscriber_handsets e
                  WHERE e.imei = h.imei AND e.msisdn <> h.msisdn AND e.first_seen < h.first_seen)
), revenue AS (
    SELECT b.msisdn, sum(b.arpu) AS arpu FROM billing_monthly b JOIN joined j USING (msisdn)
    WHERE b.bill_month = CAST($month_start AS DATE) GROUP BY b.msisdn
)
SELECT j.township_id, coalesce(f.channel, 'unknown') AS channel,
       count(*) AS customers,
       CAST(coalesce(sum(r.arpu), 0) AS DECIMAL(14, 2)) AS revenue,
       round(avg(CASE WHEN n.msisdn IS NOT NULL THEN 1.0 ELSE 0.0 END), 4) AS new_service_penetration,
       round(avg(CASE WHEN x.msisdn IS NOT NULL THEN 1.0 ELSE 0.0 END), 4) AS repeat_sim_ratio
FROM joined j
LEFT JOIN first_order f USING (msisdn)
LEFT JOIN new_service n USING (msisdn)
LEFT JOIN repeat_sim x USING (msisdn)
LEFT JOIN revenue r USING (msisdn)
GROUP BY ALL
ORDER BY township_id, channel
"""


def channel_monitoring(con: duckdb.DuckDBPyConnection, month: str) -> pa.Table:
    """Table 2 for ``month`` (YYYY-MM) over the warehouse views on ``con``: per rural township and
    developing channel, the customers developed (joined in the month), their revenue of the month,
    new-service penetration (share who took a product other than a main plan) and the repeat-SIM
    ratio (share whose handset was seen before with another number). Commission is not in the
    warehouse's model, so it is not computed here."""
    import datetime as dt

    try:
        start = dt.date.fromisoformat(month + "-01")
    except ValueError:
        raise ValueError(f"month {month!r}: use YYYY-MM") from None
    end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    params = {"month_start": start.isoformat(), "month_end": end.isoformat()}
    return con.sql(CHANNEL_SQL, params=params).to_arrow_table()
