"""The special markets (seed 003 §3.3–3.5) as views over the models' tags, through the audience
engine: migrant workers (本网 / 外网), families and schools. Each view is a condition of the one
condition language; lists, profiles and saved groups are the engine's.

* Migrant market: our migrant workers (``migrant_worker_model``) are a retention list before the
  festival-return and harvest-season windows (the warehouse calendar's 春节, 中秋节, 国庆节, 农忙 …);
  competitors' migrant workers are off-net numbers (``models/competitor_migrants.parquet``), an
  acquisition list read with DuckDB for the townships in scope.
* Family market: family heads and V-net prospects; the circles themselves from
  ``models/families.parquet``.
* School market (seed 3.5 rule): a student has at least 50 SMS a month after joining
  (``sms_sent`` over the build window, a calendar month), at least half of the class-time
  records in one school's cells (the student model's ``campus_student_model``, which also requires
  schoolmates among the contacts), not a teacher (the ``campus_teacher`` tag) and the working-hours
  cell in that school (``work_cell`` of the campus, which drops nearby residents who sleep there but work
  elsewhere). Per school: the ``school_site`` tag, or a campus hot area's cells.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

STUDENT_MIN_SMS = 50
# The student model's flag, the seed's SMS floor, and the teachers' rule tag (教职工) left out.
STUDENT_CONDITION = f"campus_student_model AND sms_sent >= {STUDENT_MIN_SMS} AND NOT campus_teacher"

VIEWS: dict[str, tuple[str, str, str]] = {
    # name: (zh, en, condition) over the model-output tags of models_customer.yaml
    "migrant_ours": ("本网外出务工 (保有)", "our migrant workers (retention)", "migrant_worker_model"),
    "family_heads": ("家庭户主", "family heads", "family_head_model"),
    "family_prospects": ("家庭V网推荐", "family V-net prospects", "family_plan_prospect_model"),
    "students": ("学生 (短信≥50且校园通话≥50%)", "students (50+ SMS, 50%+ on campus)", STUDENT_CONDITION),
}
# The school year (学校季节): intake is the market's peak (每年各高校新生入学).
SCHOOL_SEASONS = (
    ((8, 20), (9, 30), "新生入学", "freshmen intake"),
    ((10, 1), (1, 14), "秋季学期", "autumn term"),
    ((1, 15), (2, 25), "寒假", "winter vacation"),
    ((2, 26), (7, 5), "春季学期", "spring term"),
    ((7, 6), (8, 19), "暑假", "summer vacation"),
)
RETURN_FESTIVALS = ("春节", "中秋节", "国庆节", "农忙", "清明节", "劳动节", "端午节")


def school_condition(cells: Sequence[str], columns: Any) -> str:
    """Students of a campus drawn as cells: the seed's rule with the working-hours cell on it."""
    from tagcloud.regions.hotareas import Basis, membership_condition

    on_campus = membership_condition(cells, Basis.WORK, columns)
    return f"{STUDENT_CONDITION} AND ({on_campus})"


def school_season(day: dt.date) -> tuple[str, str]:
    """The school season (zh, en) a day falls in."""
    md = (day.month, day.day)
    for start, end, zh, en in SCHOOL_SEASONS:
        inside = start <= md <= end if start <= end else (md >= start or md <= end)
        if inside:
            return zh, en
    raise AssertionError("SCHOOL_SEASONS covers the whole year")  # pragma: no cover


def festival_windows(con: duckdb.DuckDBPyConnection, since: dt.date | None = None) -> pa.Table:
    """The return windows in the warehouse calendar: each festival or busy season's first and last
    day (consecutive days of one name form one window), from ``since`` on."""
    names = ", ".join("'" + f + "'" for f in RETURN_FESTIVALS)
    return con.sql(
        f"""
        WITH d AS (
            SELECT date, festival,
                   date - CAST(row_number() OVER (PARTITION BY festival ORDER BY date) AS INTEGER) AS run
            FROM calendar WHERE festival IN ({names}) AND date >= CAST($since AS DATE)
        )
        SELECT festival, min(date) AS first_day, max(date) AS last_day, count(*) AS days
        FROM d GROUP BY festival, run ORDER BY first_day
        """,
        params={"since": (since or dt.date(1900, 1, 1)).isoformat()},
    ).to_arrow_table()


def competitor_migrants(warehouse: Path, townships: Sequence[str] | None, limit: int = 1000) -> pa.Table:
    """Competitors' migrant workers (外网务工, acquisition list) calling our users of the given home
    townships (None: all): the model's off-net numbers, their township and call counts."""
    import duckdb

    # a detail output (its numbers are off-net, not subscribers of the wide table)
    found = [
        p
        for p in (Path(warehouse) / "models" / "detail", Path(warehouse) / "models")
        if (p / "competitor_migrants.parquet").exists()
    ]
    if not found:
        raise FileNotFoundError("no competitor_migrants model output: run `tagcloud models run`")
    path = found[0] / "competitor_migrants.parquet"
    con = duckdb.connect()
    try:
        sql = "SELECT * FROM read_parquet($path) WHERE is_competitor_migrant"
        params: dict[str, Any] = {"path": str(path)}
        if townships is not None:
            sql += " AND home_township IN (SELECT unnest($towns::VARCHAR[]))"
            params["towns"] = list(townships)
        sql += f" ORDER BY calls DESC, msisdn LIMIT {int(limit)}"
        return con.sql(sql, params=params).to_arrow_table()
    finally:
        con.close()


def family_circles(warehouse: Path, members: Sequence[str], limit: int = 200) -> pa.Table:
    """The family circles (family_group, size, members, head) holding any of ``members`` (numbers
    already in the user's scope), from the family model's output."""
    import duckdb

    path = Path(warehouse) / "models" / "families.parquet"
    if not path.exists():
        raise FileNotFoundError("no families model output: run `tagcloud models run`")
    con = duckdb.connect()
    try:
        return con.sql(
            f"""
            WITH f AS (SELECT * FROM read_parquet($path))
            SELECT family_group, any_value(family_size) AS family_size,
                   list(msisdn ORDER BY msisdn) AS members,
                   arg_max(msisdn, CAST(is_family_head AS INTEGER)) AS head,
                   bool_or(recommend_family_plan) AS recommend_family_plan
            FROM f WHERE family_group IN (SELECT family_group FROM f WHERE msisdn IN (SELECT unnest($members::VARCHAR[])))
            GROUP BY family_group ORDER BY family_size DESC, family_group LIMIT {int(limit)}
            """,
            params={"path": str(path), "members": list(members)},
        ).to_arrow_table()
    finally:
        con.close()
