"""Where subscribers live and work: home and work cell from the cells their records are seen in.

Every record with a serving cell (calls, SMS, data sessions) places the subscriber in that cell at
that hour. The unit of evidence is a distinct (day, hour, cell) slot, so one burst of sessions does
not outweigh being seen there on many days.

* Home cell (居住地): the cell with the most night slots (``night_from``–``night_to``, default
  21:00–07:00). Work cell (工作地): the cell with the most slots in working hours on working days
  (``work_from``–``work_to``, default 09:00–17:00, working days from the calendar's day types).
* Shift workers sleep by day and work at night, which swaps the two. A subscriber whose night
  cell is an industrial park and who sleeps by day somewhere else, or whose day cell is a
  residential cell seen on days off as well, is swapped back: a residential-type cell (urban
  compound, rural township, campus) beats a workplace-type cell (industrial park, business
  district) as home when the two have comparable evidence (``swap_ratio``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

DEFAULTS: dict[str, Any] = {
    "night_from": 21,
    "night_to": 7,
    "work_from": 9,
    "work_to": 17,
    "swap_ratio": 0.5,
}
RESIDENTIAL_AREAS = ("urban_residential", "rural_township", "university", "middle_school")
WORKPLACE_AREAS = ("industrial_park", "business_district", "transport_hub", "tourist_site")


def _in_window(col: str, start: int, end: int) -> str:
    """SQL: hour ``col`` lies in [start, end), wrapping past midnight when start > end."""
    if not (0 <= start <= 23 and 0 <= end <= 24):
        raise ValueError(f"hour window {start}–{end} must use hours 0–24")
    if start == end:
        raise ValueError(f"hour window {start}–{end} is empty")
    return f"({col} >= {start} AND {col} < {end})" if start < end else f"({col} >= {start} OR {col} < {end})"


def presence_sql() -> str:
    """Distinct (msisdn, day, hour, cell) slots from every record with a serving cell."""
    parts = [
        f"SELECT msisdn, CAST({t} AS DATE) AS day, hour({t}) AS hour, cell_id FROM {tbl} WHERE cell_id IS NOT NULL"
        for tbl, t in (("voice_cdr", "start_time"), ("sms", "sent_time"), ("data_xdr", "start_time"))
    ]
    return "SELECT DISTINCT * FROM (" + " UNION ALL ".join(parts) + ")"


def ensure_presence(con: duckdb.DuckDBPyConnection) -> None:
    """Materialise ``_presence`` (slots with the day type and the cell's area type) once per connection."""
    have = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_presence' AND temporary"
    ).fetchall()[0][0]
    if have:
        return
    con.execute(
        f"""
        CREATE TEMP TABLE _presence AS
        SELECT p.msisdn, p.day, p.hour, p.cell_id,
               coalesce(k.day_type, CASE WHEN isodow(p.day) >= 6 THEN 'weekend' ELSE 'workday' END) AS day_type,
               c.area_type
        FROM ({presence_sql()}) p
        LEFT JOIN calendar k ON k.date = p.day
        LEFT JOIN cells c ON c.cell_id = p.cell_id
        """
    )


def home_work(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """msisdn, home_cell, work_cell, home_township, work_township, home_slots, work_slots."""
    p = {**DEFAULTS, **(params or {})}
    night = _in_window("hour", int(p["night_from"]), int(p["night_to"]))
    work = _in_window("hour", int(p["work_from"]), int(p["work_to"]))
    day_hours = _in_window("hour", int(p["night_to"]), int(p["night_from"]))
    ensure_presence(con)
    res = ", ".join(f"'{a}'" for a in RESIDENTIAL_AREAS)
    wrk = ", ".join(f"'{a}'" for a in WORKPLACE_AREAS)
    ratio = float(p["swap_ratio"])
    return con.sql(
        f"""
        WITH per_cell AS (
            SELECT msisdn, cell_id, any_value(area_type) AS area_type,
                   count(*) FILTER (WHERE {night}) AS night_slots,
                   count(*) FILTER (WHERE {work} AND day_type IN ('workday', 'adjusted_workday')) AS work_slots,
                   count(*) FILTER (WHERE {day_hours}) AS day_slots,
                   count(*) AS slots
            FROM _presence GROUP BY msisdn, cell_id
        ), night_top AS (
            SELECT msisdn, arg_max(cell_id, night_slots * 1e6 + slots) AS cell,
                   arg_max(area_type, night_slots * 1e6 + slots) AS area, max(night_slots) AS n
            FROM per_cell GROUP BY msisdn
        ), day_top AS (
            SELECT msisdn, arg_max(cell_id, work_slots * 1e6 + slots) AS cell,
                   arg_max(area_type, work_slots * 1e6 + slots) AS area, max(work_slots) AS n
            FROM per_cell GROUP BY msisdn
        ), day_res AS (
            -- the best residential-type cell by daytime slots (where a night-shift worker sleeps)
            SELECT msisdn, arg_max(cell_id, day_slots) AS cell, max(day_slots) AS n
            FROM per_cell WHERE area_type IN ({res}) GROUP BY msisdn
        ), night_in AS (
            SELECT c.msisdn, c.night_slots FROM per_cell c JOIN day_res d ON d.msisdn = c.msisdn AND d.cell = c.cell_id
        ), decided AS (
            SELECT n.msisdn,
                   -- night shift: the night cell is a workplace and a residential cell holds the daytime
                   (n.area IN ({wrk}) AND r.cell IS NOT NULL AND r.cell <> n.cell
                    AND r.n >= {ratio} * n.n) AS night_shift,
                   n.cell AS night_cell, d.cell AS day_cell, r.cell AS res_cell, n.n AS night_n, d.n AS day_n
            FROM night_top n LEFT JOIN day_top d USING (msisdn) LEFT JOIN day_res r USING (msisdn)
        )
        SELECT x.msisdn,
               CASE WHEN night_shift THEN res_cell ELSE night_cell END AS home_cell,
               CASE WHEN night_shift THEN night_cell ELSE day_cell END AS work_cell,
               h.township_id AS home_township, w.township_id AS work_township,
               h.county_id AS home_county, w.county_id AS work_county,
               night_shift AS works_nights,
               night_n AS home_slots, day_n AS work_slots
        FROM decided x
        LEFT JOIN cells h ON h.cell_id = CASE WHEN night_shift THEN res_cell ELSE night_cell END
        LEFT JOIN cells w ON w.cell_id = CASE WHEN night_shift THEN night_cell ELSE day_cell END
        """
    ).to_arrow_table()
