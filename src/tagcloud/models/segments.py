"""Special-market models over the warehouse (seed 003 §3; seed 000 §6): rules in DuckDB SQL.

Each function takes a connection with the warehouse views (and ``model_home_work``, the output of
:func:`tagcloud.models.location.home_work`) and returns an Arrow table keyed by ``msisdn``.
Parameters come in a mapping; the defaults below are the documented 口径.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

OFF_NET = "('CU', 'CT', 'CBN')"


def _p(defaults: dict[str, Any], params: Mapping[str, Any] | None) -> dict[str, Any]:
    unknown = set(params or {}) - set(defaults)
    if unknown:
        raise ValueError(f"unknown parameters {sorted(unknown)}; this model takes {sorted(defaults)}")
    return {**defaults, **(params or {})}


RURAL_DEFAULTS: dict[str, Any] = {}


def rural_type(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Rural subscribers by where they work (seed 003 §3.2): 留守 / 县内务工 / 县外务工.

    Rural = the home cell serves a rural township. stay_home: work-time and rest-time dominant
    cells in the same township; county_worker: a different township of the same county;
    out_county_worker: a township of another county. Subscribers never seen at work time in the
    province (away for long) get no rural type: that is the migrant model's business; nor do
    pupils whose day is spent at school.
    """
    _p(RURAL_DEFAULTS, params)
    return con.sql(
        """
        SELECT hw.msisdn,
               CASE WHEN hw.work_township = hw.home_township THEN 'stay_home'
                    WHEN hw.work_county = hw.home_county THEN 'county_worker'
                    ELSE 'out_county_worker' END AS rural_type
        FROM model_home_work hw JOIN cells c ON c.cell_id = hw.home_cell
        WHERE c.area_type = 'rural_township' AND hw.work_cell IS NOT NULL
          AND hw.msisdn NOT IN (SELECT msisdn FROM model_migrant_workers WHERE is_migrant_worker)
          AND hw.msisdn NOT IN (SELECT msisdn FROM model_students WHERE is_student)
        """
    ).to_arrow_table()


MIGRANT_DEFAULTS: dict[str, Any] = {
    "min_days_away": 10,  # days roaming out of the province in the window
    "min_home_share": 0.5,  # share of on-net contact volume with people of the home county
    "festival_return": True,  # must be seen at home on a festival / busy-season day (春节, 中秋, 国庆, 农忙)
}


def migrant_workers(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Our migrant workers (本网务工, seed 003 §3.3).

    Rural home, away (roaming out) for at least ``min_days_away`` days, back home on a festival or
    busy-season day, and their on-net contacts are mostly people of their home county ("the
    roaming customer's most-contacted people belong to the home place"). Business travellers
    (urban home, short trips) and students (campus home) fail the first or last test.
    """
    p = _p(MIGRANT_DEFAULTS, params)
    festival = (
        """AND EXISTS (SELECT 1 FROM _presence x JOIN calendar k ON k.date = x.day
                       WHERE x.msisdn = a.msisdn AND k.festival IS NOT NULL AND x.cell_id = a.home_cell)"""
        if p["festival_return"]
        else ""
    )
    return con.sql(
        f"""
        WITH away AS (
            SELECT r.msisdn, count(DISTINCT r.record_date) AS days_away
            FROM roaming r WHERE r.direction = 'out' GROUP BY r.msisdn
        ), contacts AS (
            SELECT v.msisdn, v.peer_number, count(*) AS n
            FROM voice_cdr v WHERE v.peer_operator = 'CMCC' GROUP BY ALL
        ), home_ties AS (
            SELECT c.msisdn,
                   sum(c.n) FILTER (WHERE ph.home_county = me.home_county) / sum(c.n) AS home_share
            FROM contacts c
            JOIN model_home_work me ON me.msisdn = c.msisdn
            JOIN model_home_work ph ON ph.msisdn = c.peer_number
            GROUP BY c.msisdn
        ), a AS (
            SELECT hw.msisdn, hw.home_cell, coalesce(away.days_away, 0) AS days_away,
                   coalesce(t.home_share, 0) AS home_share
            FROM model_home_work hw JOIN cells c ON c.cell_id = hw.home_cell
            LEFT JOIN away USING (msisdn) LEFT JOIN home_ties t USING (msisdn)
            WHERE c.area_type = 'rural_township'
        )
        SELECT msisdn, days_away, round(home_share, 3) AS home_contact_share,
               (days_away >= {int(p["min_days_away"])} AND home_share >= {float(p["min_home_share"])}
                {festival}) AS is_migrant_worker
        FROM a
        """
    ).to_arrow_table()


COMPETITOR_MIGRANT_DEFAULTS: dict[str, Any] = {
    # idle time (闲时, seed 003 §3.3 "闲时与家人沟通"): outside the working day. The working day is the
    # common Chinese 作息 of 08:00-12:00 and 14:00-18:00 on working days (calendar day types); every
    # hour outside it, and every hour of a rest day or festival, is idle. Not fitted to any province.
    "busy_periods": ((8, 12), (14, 18)),
    "min_calls": 15,  # calls from the number to our users in the window
    "min_weeks": 3,  # in at least this many distinct weeks (the seed says months; the window may be short)
    "min_off_peak_share": 0.55,
    "min_township_share": 0.6,  # share of the number's calls that go to one rural township of ours
}


def competitor_migrants(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Competitors' migrant workers (外网务工, seed 003 §3.3): off-net numbers worth winning.

    An off-net number that calls our users of one rural township, almost only in idle time
    (outside ``busy_periods`` of working days; rest days are idle all day), in many distinct
    weeks. Output: ``msisdn`` is the OFF-NET number, with its operator and the township it calls
    home to.
    """
    p = _p(COMPETITOR_MIGRANT_DEFAULTS, params)
    periods = [(int(a), int(b)) for a, b in p["busy_periods"]]
    if not periods or any(not 0 <= a < b <= 24 for a, b in periods):
        raise ValueError(
            f"busy_periods must be (from, to) hour pairs with 0 <= from < to <= 24, got {periods}"
        )
    busy = " OR ".join(f"hour(v.start_time) BETWEEN {a} AND {b - 1}" for a, b in periods)
    return con.sql(
        f"""
        WITH calls AS (
            SELECT v.peer_number AS number, v.peer_operator AS operator, v.start_time,
                   NOT (coalesce(k.day_type, CASE WHEN isodow(v.start_time) >= 6 THEN 'weekend' ELSE 'workday' END)
                            IN ('workday', 'adjusted_workday')
                        AND ({busy})) AS off_peak,
                   hw.home_township, c.area_type
            FROM voice_cdr v
            JOIN model_home_work hw ON hw.msisdn = v.msisdn
            JOIN cells c ON c.cell_id = hw.home_cell
            LEFT JOIN calendar k ON k.date = CAST(v.start_time AS DATE)
            WHERE v.peer_operator IN {OFF_NET} AND v.direction = 'MT'
        ), per_town AS (
            SELECT number, home_township, count(*) AS n FROM calls WHERE area_type = 'rural_township' GROUP BY ALL
        ), agg AS (
            SELECT number, any_value(operator) AS operator, count(*) AS calls,
                   avg(off_peak::INT) AS off_peak_share,
                   count(DISTINCT date_trunc('week', start_time)) AS weeks
            FROM calls GROUP BY number
        ), town AS (
            SELECT number, arg_max(home_township, n) AS township, max(n) AS town_calls FROM per_town GROUP BY number
        )
        SELECT a.number AS msisdn, a.operator, t.township AS home_township, a.calls, a.weeks,
               round(a.off_peak_share, 3) AS off_peak_share,
               (a.calls >= {int(p["min_calls"])} AND a.weeks >= {int(p["min_weeks"])}
                AND a.off_peak_share >= {float(p["min_off_peak_share"])}
                AND coalesce(t.town_calls, 0) >= {float(p["min_township_share"])} * a.calls) AS is_competitor_migrant
        FROM agg a LEFT JOIN town t USING (number)
        """
    ).to_arrow_table()


FAMILY_DEFAULTS: dict[str, Any] = {
    # Tuned on a 30-day window; scale the first two with the window length.
    "min_calls": 20,  # calls + SMS between the two in the window
    "min_days": 14,  # on at least this many distinct days
    "min_share": 0.09,  # the pair is at least this share of the busier member's on-net contacts
    "home_areas": ("urban_residential", "rural_township"),  # families live in compounds and villages
}


def family_pairs(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Pairs of our subscribers who are likely one family (seed 003 §3.4, example 2).

    Same home (night) cell in a residential area, and frequent mutual contact: at least
    ``min_calls`` calls and SMS between them on at least ``min_days`` days, making up at least
    ``min_share`` of the busier member's on-net contacts (classmates and neighbours share a night
    cell and talk too, but less often and among many). Columns: a, b (a < b), contacts, days.
    """
    p = _p(FAMILY_DEFAULTS, params)
    areas = ", ".join(f"'{x}'" for x in p["home_areas"])
    return con.sql(
        f"""
        WITH c AS (
            SELECT msisdn AS x, peer_number AS y, start_time AS t
            FROM voice_cdr WHERE peer_operator = 'CMCC' AND direction = 'MO'
            UNION ALL
            SELECT msisdn, peer_number, sent_time FROM sms WHERE peer_operator = 'CMCC' AND direction = 'MO'
        ), pairs AS (
            SELECT least(x, y) AS a, greatest(x, y) AS b, count(*) AS contacts,
                   count(DISTINCT CAST(t AS DATE)) AS days
            FROM c GROUP BY ALL
        ), tot AS (
            SELECT m, count(*) AS n FROM (SELECT x AS m FROM c UNION ALL SELECT y FROM c) GROUP BY m
        )
        SELECT p.a, p.b, p.contacts, p.days
        FROM pairs p
        JOIN model_home_work ha ON ha.msisdn = p.a
        JOIN model_home_work hb ON hb.msisdn = p.b
        JOIN cells hc ON hc.cell_id = ha.home_cell
        JOIN tot ta ON ta.m = p.a JOIN tot tb ON tb.m = p.b
        WHERE ha.home_cell = hb.home_cell AND hc.area_type IN ({areas})
          AND p.contacts >= {int(p["min_calls"])} AND p.days >= {int(p["min_days"])}
          AND p.contacts >= {float(p["min_share"])} * greatest(ta.n, tb.n)
        """
    ).to_arrow_table()


def families(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Family groups: connected components of the family pairs; the head is the highest spender.

    Columns: msisdn, family_group (the smallest member number), family_size, is_family_head,
    on_family_vnet (already on a family V-net), recommend_family_plan (family of 2+ not on one).
    """
    import networkx as nx
    import pyarrow as pa

    pairs = family_pairs(con, params)
    g = nx.Graph()
    g.add_edges_from(zip(pairs.column("a").to_pylist(), pairs.column("b").to_pylist(), strict=True))
    members: list[str] = []
    group: list[str] = []
    for comp in nx.connected_components(g):  # one iteration per family, not per record
        head = min(comp)
        members.extend(comp)
        group.extend([head] * len(comp))
    con.register("_families", pa.table({"msisdn": pa.array(members, pa.string()), "family_group": group}))
    out = con.sql(
        """
        WITH f AS (
            SELECT f.msisdn, f.family_group, count(*) OVER (PARTITION BY f.family_group) AS family_size,
                   coalesce(b.arpu, 0) AS arpu, s.family_vnet_id
            FROM _families f LEFT JOIN subscribers s USING (msisdn)
            LEFT JOIN (SELECT msisdn, avg(arpu)::DOUBLE AS arpu FROM billing_monthly GROUP BY msisdn) b USING (msisdn)
        )
        SELECT msisdn, family_group, family_size,
               msisdn = arg_max(msisdn, arpu) OVER (PARTITION BY family_group) AS is_family_head,
               family_vnet_id IS NOT NULL AS on_family_vnet,
               family_size >= 2 AND bool_and(family_vnet_id IS NULL) OVER (PARTITION BY family_group)
                 AS recommend_family_plan
        FROM f
        """
    ).to_arrow_table()
    con.unregister("_families")
    return out


STUDENT_DEFAULTS: dict[str, Any] = {
    "min_campus_share": 0.5,  # share of class-time records in one school's cells (seed: 50% of calls)
    "class_from": 8,
    "class_to": 17,
    "min_peers": 2,  # … and contact with at least this many others of the same school …
    "min_peer_contacts": 10,  # … at least this many calls + SMS with them in all (seed: 2+ people, 10+ times)
    "new_user_days": 60,  # joined within this many days of the window's end: a new user
    "competitor_min_students": 2,  # an off-net number in touch with 2+ students …
    "competitor_min_contacts": 5,  # … 5+ times in all (seed: 2 people, 5 times)
    "campus_areas": ("university", "middle_school"),
}


def students(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """School market (seed 003 §3.5): students of each campus, old and new users.

    A student: at least ``min_campus_share`` of their located records in class time (working hours
    of working days; the seed counts all calls, but a middle-school pupil is at school only then)
    fall in cells of one school site, and they talk with at least ``min_peers`` others whose records also centre on that school,
    ``min_peer_contacts`` times or more in all (fewer where the school has fewer other candidates:
    a pupil who is our only subscriber at a school cannot show schoolmates). Columns: msisdn, school_site, school_type, campus_share,
    is_student, student_user (old / new).
    """
    p = _p(STUDENT_DEFAULTS, params)
    areas = ", ".join(f"'{a}'" for a in p["campus_areas"])
    return con.sql(
        f"""
        WITH loc AS (
            -- class time: working hours of working days, when a student is at school
            SELECT x.msisdn, c.site_id, c.area_type, count(*) AS n
            FROM _presence x JOIN cells c ON c.cell_id = x.cell_id
            WHERE x.day_type IN ('workday', 'adjusted_workday')
              AND x.hour >= {int(p["class_from"])} AND x.hour < {int(p["class_to"])}
            GROUP BY ALL
        ), tot AS (SELECT msisdn, sum(n) AS n FROM loc GROUP BY msisdn
        ), best AS (
            SELECT l.msisdn, arg_max(l.site_id, l.n) AS school_site, arg_max(l.area_type, l.n) AS school_type,
                   max(l.n) / any_value(t.n) AS campus_share
            FROM loc l JOIN tot t USING (msisdn)
            WHERE l.area_type IN ({areas}) AND l.site_id IS NOT NULL GROUP BY l.msisdn
        ), cand AS (SELECT * FROM best WHERE campus_share >= {float(p["min_campus_share"])}
        ), ties AS (
            SELECT msisdn, peer_number, count(*) AS n FROM (
                SELECT msisdn, peer_number FROM voice_cdr WHERE peer_operator = 'CMCC'
                UNION ALL SELECT msisdn, peer_number FROM sms WHERE peer_operator = 'CMCC'
            ) GROUP BY ALL
        ), peers AS (
            SELECT t.msisdn, count(*) AS peers, sum(t.n) AS peer_contacts
            FROM ties t JOIN cand a ON a.msisdn = t.msisdn JOIN cand b ON b.msisdn = t.peer_number
            WHERE a.school_site = b.school_site
            GROUP BY t.msisdn
        ), mates AS (  -- other candidates at the same school: a small school cannot show 2 peers
            SELECT msisdn, count(*) OVER (PARTITION BY school_site) - 1 AS n FROM cand
        ), window_end AS (SELECT max(day) AS d FROM _presence)
        SELECT b.msisdn, b.school_site, b.school_type, round(b.campus_share, 3) AS campus_share,
               (b.campus_share >= {float(p["min_campus_share"])}
                AND coalesce(pr.peers, 0) >= least({int(p["min_peers"])}, coalesce(m.n, 0))
                AND coalesce(pr.peer_contacts, 0) >= least({int(p["min_peer_contacts"])}, 5 * coalesce(m.n, 0)))
                 AS is_student,
               CASE WHEN s.join_date >= (SELECT d FROM window_end) - INTERVAL {int(p["new_user_days"])} DAY
                    THEN 'new' ELSE 'old' END AS student_user
        FROM best b LEFT JOIN peers pr USING (msisdn) LEFT JOIN mates m USING (msisdn)
        LEFT JOIN subscribers s USING (msisdn)
        """
    ).to_arrow_table()


def competitor_students(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Competitors' students (seed 003 §3.5): off-net numbers in touch with students of one campus.

    Needs ``model_students``. ``msisdn`` is the OFF-NET number.
    """
    p = _p(STUDENT_DEFAULTS, params)
    return con.sql(
        f"""
        WITH t AS (
            SELECT v.peer_number AS number, any_value(v.peer_operator) AS operator, st.school_site,
                   count(DISTINCT v.msisdn) AS students, count(*) AS contacts
            FROM (SELECT msisdn, peer_number, peer_operator FROM voice_cdr
                  UNION ALL SELECT msisdn, peer_number, peer_operator FROM sms) v
            JOIN model_students st ON st.msisdn = v.msisdn AND st.is_student
            WHERE v.peer_operator IN {OFF_NET}
            GROUP BY v.peer_number, st.school_site
        )
        SELECT number AS msisdn, arg_max(operator, contacts) AS operator, arg_max(school_site, contacts) AS school_site,
               max(students) AS students, sum(contacts) AS contacts
        FROM t GROUP BY number
        HAVING max(students) >= {int(p["competitor_min_students"])}
           AND sum(contacts) >= {int(p["competitor_min_contacts"])}
        """
    ).to_arrow_table()


INFLUENCE_DEFAULTS: dict[str, Any] = {
    # Seed 003 §3.1.3: social circle, information-spreading habits, service use — weighted.
    # each a percent rank among peers of the same home-area type and age band
    "w_circle": 0.7,  # distinct contacts (calls and SMS, any network)
    "w_reach": 0.1,  # contacts of contacts (on-net): how far word travels
    "w_spreading": 0.15,  # originated calls + sent SMS
    "w_service": 0.05,  # data sessions and value-added use
    "high": 75.0,  # influence_level thresholds on the 0–100 score
    "medium": 50.0,
}


def influence(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Influence score 0–100: weighted percent ranks of social circle, reach, spreading, service use,
    each among peers (same home-area type and age band; needs ``model_home_work``);
    influence_level high / medium / low by the ``high`` and ``medium`` thresholds."""
    p = _p(INFLUENCE_DEFAULTS, params)
    return con.sql(
        f"""
        WITH e AS (
            SELECT msisdn, peer_number, direction, peer_operator FROM voice_cdr
            UNION ALL SELECT msisdn, peer_number, direction, peer_operator FROM sms
        ), deg AS (
            SELECT msisdn, count(DISTINCT peer_number) AS contacts,
                   count(*) FILTER (WHERE direction = 'MO') AS originated
            FROM e WHERE peer_operator <> 'SERVICE' GROUP BY msisdn
        ), reach AS (
            SELECT x.msisdn, sum(d.contacts) AS reach
            FROM (SELECT DISTINCT msisdn, peer_number FROM e WHERE peer_operator = 'CMCC') x
            JOIN deg d ON d.msisdn = x.peer_number GROUP BY x.msisdn
        ), svc AS (SELECT msisdn, count(*) AS sessions FROM data_xdr GROUP BY msisdn
        ), f AS (
            SELECT s.msisdn, coalesce(deg.contacts, 0) AS contacts, coalesce(reach.reach, 0) AS reach,
                   coalesce(deg.originated, 0) AS originated, coalesce(svc.sessions, 0) AS sessions,
                   -- peers: people of the same kind of place and age (a pupil's circle is not a retiree's)
                   coalesce(c.area_type, '?') || '|' || coalesce(s.age_band, '?') AS peer_group
            FROM subscribers s LEFT JOIN deg USING (msisdn) LEFT JOIN reach USING (msisdn) LEFT JOIN svc USING (msisdn)
            LEFT JOIN model_home_work h USING (msisdn) LEFT JOIN cells c ON c.cell_id = h.home_cell
        )
        , scored AS (
        SELECT msisdn, contacts, reach,
               round(100 * ({float(p["w_circle"])} * percent_rank() OVER (PARTITION BY peer_group ORDER BY contacts)
                          + {float(p["w_reach"])} * percent_rank() OVER (PARTITION BY peer_group ORDER BY reach)
                          + {float(p["w_spreading"])} * percent_rank() OVER (PARTITION BY peer_group ORDER BY originated)
                          + {float(p["w_service"])} * percent_rank() OVER (PARTITION BY peer_group ORDER BY sessions))
                     / {float(p["w_circle"]) + float(p["w_reach"]) + float(p["w_spreading"]) + float(p["w_service"])},
                     2) AS influence_score
        FROM f)
        SELECT *, CASE WHEN influence_score >= {float(p["high"])} THEN 'high'
                       WHEN influence_score >= {float(p["medium"])} THEN 'medium' ELSE 'low' END AS influence_level
        FROM scored
        """
    ).to_arrow_table()
