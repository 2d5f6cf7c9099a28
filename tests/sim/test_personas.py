"""Persona signals the models will look for must really be in the generated data."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow  # builds a 3,000 × 24-day province once (a few seconds)


def one(con: Any, sql: str) -> Any:
    return con.execute(sql).fetchone()


def test_university_students_text_a_lot_and_call_on_campus(con: Any) -> None:
    # sent SMS scaled to a 30-day month, per student
    median_sms, share_over_50 = one(
        con,
        """
        WITH s AS (SELECT msisdn, count(*) * 30.0 / 24 AS per_month FROM sms WHERE direction = 'MO' GROUP BY 1)
        SELECT median(coalesce(per_month, 0)), avg((coalesce(per_month, 0) > 50)::INT)
        FROM truth t LEFT JOIN s USING (msisdn) WHERE t.persona = 'university_student'""",
    )
    assert median_sms > 50 and share_over_50 > 0.8
    bill_median = one(
        con,
        """
        SELECT median(b.sms_count) FROM billing_monthly b JOIN truth t USING (msisdn)
        WHERE t.persona = 'university_student' AND b.bill_month = DATE '2026-09-01'""",
    )[0]
    assert bill_median > 50
    others = one(
        con,
        """
        SELECT median(b.sms_count) FROM billing_monthly b JOIN truth t USING (msisdn)
        WHERE t.persona IN ('retiree', 'rural_stay_home') AND b.bill_month = DATE '2026-09-01'""",
    )[0]
    assert others < bill_median / 2
    campus_share = one(
        con,
        """
        WITH v AS (
            SELECT v.msisdn, avg((c.area_type = 'university')::INT) AS share
            FROM voice_cdr v JOIN truth t USING (msisdn) LEFT JOIN cells c USING (cell_id)
            WHERE t.persona = 'university_student' GROUP BY 1)
        SELECT median(share) FROM v""",
    )[0]
    assert campus_share > 0.6


def _dominant_cells(con: Any, persona: str) -> tuple[float, int]:
    """Share of the persona whose dominant night cell differs from their dominant workday cell."""
    return one(
        con,
        f"""
        WITH ev AS (
            SELECT msisdn, cell_id, start_time AS ts FROM voice_cdr WHERE cell_id IS NOT NULL
            UNION ALL SELECT msisdn, cell_id, sent_time FROM sms WHERE cell_id IS NOT NULL
            UNION ALL SELECT msisdn, cell_id, start_time FROM data_xdr WHERE cell_id IS NOT NULL),
        tagged AS (
            SELECT ev.msisdn, cell_id,
                   CASE WHEN hour(ts) >= 21 OR hour(ts) < 7 THEN 'night'
                        WHEN hour(ts) BETWEEN 10 AND 16 AND cal.day_type IN ('workday', 'adjusted_workday') THEN 'day'
                   END AS part
            FROM ev JOIN calendar cal ON cal.date = CAST(ev.ts AS DATE)),
        counts AS (SELECT msisdn, part, cell_id, count(*) AS n FROM tagged WHERE part IS NOT NULL GROUP BY ALL),
        dom AS (SELECT msisdn, part, arg_max(cell_id, n) AS cell FROM counts GROUP BY ALL),
        pairs AS (
            SELECT d.msisdn, max(CASE WHEN part = 'night' THEN cell END) AS night,
                   max(CASE WHEN part = 'day' THEN cell END) AS day
            FROM dom d JOIN truth t USING (msisdn) WHERE t.persona = '{persona}' GROUP BY 1)
        SELECT avg((night <> day)::INT), count(*) FROM pairs WHERE night IS NOT NULL AND day IS NOT NULL""",
    )


def test_commuters_sleep_and_work_in_different_cells(con: Any) -> None:
    differ, n = _dominant_cells(con, "white_collar_commuter")
    assert n > 200 and differ > 0.8
    retirees, _ = _dominant_cells(con, "retiree")
    assert retirees < 0.3  # the contrast: retirees stay put


def test_dual_sim_users_have_little_data_but_normal_calls(con: Any) -> None:
    rows = con.execute("""
        WITH d AS (SELECT msisdn, sum(bytes_down + bytes_up) AS b FROM data_xdr GROUP BY 1),
             v AS (SELECT msisdn, count(*) AS calls FROM voice_cdr WHERE direction = 'MO' GROUP BY 1)
        SELECT t.dual_sim, median(coalesce(d.b, 0)), avg(coalesce(v.calls, 0))
        FROM truth t LEFT JOIN d USING (msisdn) LEFT JOIN v USING (msisdn)
        WHERE t.persona IN ('white_collar_commuter', 'urban_service_worker', 'migrant_worker',
                            'county_worker', 'out_county_worker', 'business_traveller')
        GROUP BY 1""").fetchall()
    by = {r[0]: r[1:] for r in rows}
    assert by[True][0] < 0.2 * by[False][0]
    assert 0.7 < by[True][1] / by[False][1] < 1.4


def test_migrant_workers_roam_out_and_come_home_for_the_festivals(con: Any) -> None:
    rows = dict(
        con.execute("""
        WITH m AS (SELECT msisdn FROM truth WHERE migrant),
             days AS (SELECT DISTINCT record_date AS d FROM roaming),
             away AS (SELECT record_date AS d, count(*) AS n FROM roaming JOIN m USING (msisdn)
                      WHERE direction = 'out' GROUP BY 1)
        SELECT days.d, coalesce(away.n, 0) * 1.0 / (SELECT count(*) FROM m)
        FROM days LEFT JOIN away USING (d) ORDER BY 1""").fetchall()
    )
    import datetime as dt

    ordinary = [v for d, v in rows.items() if d <= dt.date(2026, 9, 21)]
    golden = [v for d, v in rows.items() if dt.date(2026, 10, 2) <= d <= dt.date(2026, 10, 5)]
    assert min(ordinary) > 0.85  # away most days
    assert max(golden) < 0.35  # most are home for National Day
    days_out = one(
        con,
        """
        SELECT median(n) FROM (SELECT msisdn, count(*) AS n FROM roaming JOIN truth t USING (msisdn)
                               WHERE t.migrant AND direction = 'out' GROUP BY 1)""",
    )[0]
    assert days_out >= 12  # of 24 days
    # while away they still call home contacts
    share_roaming_calls = one(
        con,
        """
        SELECT avg(roaming::INT) FROM voice_cdr JOIN truth t USING (msisdn)
        WHERE t.migrant AND CAST(start_time AS DATE) <= DATE '2026-09-21'""",
    )[0]
    assert share_roaming_calls > 0.8
    others = one(
        con,
        """
        SELECT count(*) * 1.0 / (SELECT count(*) FROM truth WHERE NOT migrant AND NOT business_traveller) / 24
        FROM roaming JOIN truth t USING (msisdn) WHERE NOT t.migrant AND NOT t.business_traveller""",
    )[0]
    assert others < 0.05


def test_car_owners_call_the_traffic_radio(con: Any) -> None:
    from tagcloud.sim.catalogue import TRAFFIC_RADIO

    rows = dict(
        con.execute(f"""
        WITH r AS (SELECT DISTINCT msisdn FROM voice_cdr WHERE peer_number = '{TRAFFIC_RADIO}' AND direction = 'MO')
        SELECT t.car_owner, avg((r.msisdn IS NOT NULL)::INT) FROM truth t LEFT JOIN r USING (msisdn)
        WHERE t.persona NOT IN ('migrant_worker') GROUP BY 1""").fetchall()
    )
    assert rows[True] > 0.6 and rows[False] < 0.02
    highway = dict(
        con.execute("""
        SELECT t.car_owner, avg((c.area_type = 'highway')::INT) FROM voice_cdr v JOIN truth t USING (msisdn)
        JOIN cells c USING (cell_id) GROUP BY 1""").fetchall()
    )
    assert highway[True] > 5 * highway[False]


def test_churn_is_decided_after_the_window(con: Any) -> None:
    """The label is "churns in the month after the cut": every churner has a churn date after the last
    day of the window, within 30 days; nobody else has one."""
    (last,) = con.execute("SELECT max(CAST(start_time AS DATE)) FROM voice_cdr").fetchone()
    lo, hi, n_dates, n_churn, bad = con.execute("""
        SELECT min(churn_date), max(churn_date), count(churn_date), count(*) FILTER (WHERE churn),
               count(*) FILTER (WHERE churn_date IS NOT NULL AND NOT churn)
        FROM truth""").fetchone()
    assert n_churn > 0 and n_dates == n_churn and bad == 0
    assert lo > last and (hi - last).days <= 30


def test_pre_decision_signs_follow_the_probability_not_the_outcome(con: Any) -> None:
    """Fading use, calls to rivals' hotlines and porting questions grow with the planted churn
    probability; at equal probability, those who will churn look like those who will not."""
    rows = con.execute("""
        WITH u AS (
            SELECT msisdn, sum((CAST(start_time AS DATE) < DATE '2026-09-22')::INT) AS first_week,
                           sum((CAST(start_time AS DATE) >= DATE '2026-10-02')::INT) AS last_week,
                           count(*) FILTER (WHERE peer_number IN ('10010', '10000')) AS rival_calls
            FROM voice_cdr WHERE direction = 'MO' GROUP BY 1),
        q AS (SELECT t.*, ntile(4) OVER (ORDER BY churn_prob) AS band FROM truth t WHERE NOT migrant)
        SELECT band, churn, sum(last_week) * 1.0 / sum(first_week) AS kept, avg(rival_calls) AS rival, count(*) AS n
        FROM q JOIN u USING (msisdn) GROUP BY ALL ORDER BY ALL""").fetchall()
    kept = {(b, c): k for b, c, k, _, _ in rows}
    rival = {(b, c): r for b, c, _, r, _ in rows}
    n = {(b, c): m for b, c, _, _, m in rows}
    # the signs grow with the probability band (everyone: churners and stayers together)
    kept_band = {b: sum(kept[b, c] * n[b, c] for c in (True, False) if (b, c) in n) / sum(
        n[b, c] for c in (True, False) if (b, c) in n) for b in range(1, 5)}  # fmt: skip
    assert kept_band[4] < kept_band[1] - 0.1
    assert rival[4, False] > 3 * max(rival[1, False], 0.01)
    # no churn in progress: those who will leave still use most of their service (the old simulator
    # faded them to a quarter inside the window)
    assert kept[4, True] > 0.6
    porting = dict(
        con.execute("""
        WITH h AS (SELECT msisdn, ntile(2) OVER (ORDER BY churn_prob) AS half FROM truth)
        SELECT half, count(s.msisdn) * 1.0 / count(DISTINCT h.msisdn)
        FROM h LEFT JOIN service_contacts s ON s.msisdn = h.msisdn AND s.reason = 'porting_inquiry'
        GROUP BY half""").fetchall()
    )
    assert porting[2] > 2 * porting[1]


def test_influence_is_visible_in_contacts(con: Any) -> None:
    """Seed 003 交往圈: the planted influence shows in how many distinct people a subscriber reaches
    and is reached by, and in how much they originate — ranked within a persona, not perfectly."""
    import numpy as np
    from scipy.stats import spearmanr

    d = con.execute("""
        WITH e AS (SELECT msisdn, peer_number, direction FROM voice_cdr WHERE peer_operator <> 'SERVICE'
                   UNION ALL SELECT msisdn, peer_number, direction FROM sms WHERE peer_operator <> 'SERVICE')
        SELECT t.persona, t.influence, count(DISTINCT e.peer_number) AS contacts,
               count(DISTINCT e.peer_number) FILTER (WHERE e.direction = 'MT') AS reached_by
        FROM truth t JOIN e USING (msisdn) WHERE t.persona = 'white_collar_commuter' GROUP BY ALL""").fetchnumpy()
    infl = np.asarray(d["influence"])
    rho = spearmanr(infl, np.asarray(d["contacts"])).statistic
    rho_in = spearmanr(infl, np.asarray(d["reached_by"])).statistic
    assert 0.6 < rho < 0.99  # learnable, not a copy
    assert rho_in > 0.5  # influential people are reached by more people, not only reach more


def test_rural_types_follow_the_seed_rule(con: Any) -> None:
    """留守: day and night in one township; 县内务工: two townships of one county; 县外务工: two counties."""
    rows = {
        r[0]: r[1:]
        for r in con.execute("""
        SELECT t.rural_type, avg((h.township_id = w.township_id)::INT), avg((h.county_id = w.county_id)::INT)
        FROM truth t JOIN cells h ON h.cell_id = t.home_cell JOIN cells w ON w.cell_id = t.work_cell
        WHERE t.rural_type IS NOT NULL GROUP BY 1""").fetchall()
    }
    assert rows["stay_home"][0] == 1.0
    assert rows["county_worker"][0] == 0.0 and rows["county_worker"][1] == 1.0
    assert rows["out_county_worker"][1] == 0.0


def test_families_share_a_night_cell_and_call_each_other(con: Any) -> None:
    same, n = one(
        con,
        """
        SELECT avg((a.home_cell = b.home_cell)::INT), count(*) FROM truth a JOIN truth b
        ON a.family_id = b.family_id AND a.msisdn < b.msisdn""",
    )
    assert n > 100 and same == 1.0
    heads = one(
        con,
        "SELECT count(DISTINCT family_id), sum(is_family_head::INT) FROM truth WHERE family_id IS NOT NULL",
    )
    assert heads[0] == heads[1]  # one plan holder per family
    mutual = one(
        con,
        """
        SELECT avg(fam::INT) FROM (
            SELECT (t.family_id IS NOT NULL AND t.family_id = p.family_id) AS fam
            FROM voice_cdr v JOIN truth t ON t.msisdn = v.msisdn JOIN truth p ON p.msisdn = v.peer_number
            WHERE v.direction = 'MO' AND t.family_id IS NOT NULL)""",
    )[0]
    assert mutual > 0.2


def test_competitors_migrants_call_home_off_peak(con: Any) -> None:
    peak_share, n = one(
        con,
        """
        SELECT avg((hour(start_time) BETWEEN 9 AND 11 OR hour(start_time) BETWEEN 14 AND 17)::INT), count(*)
        FROM voice_cdr v JOIN truth_offnet o ON o.number = v.peer_number
        WHERE o.is_competitor_migrant AND v.direction = 'MT'""",
    )
    assert n > 500 and peak_share < 0.1
    same_town = one(
        con,
        """
        SELECT avg((o.home_township = t.home_township)::INT) FROM voice_cdr v
        JOIN truth_offnet o ON o.number = v.peer_number JOIN truth t ON t.msisdn = v.msisdn
        WHERE o.is_competitor_migrant AND v.direction = 'MT'""",
    )[0]
    assert same_town > 0.4


def test_offnet_share_of_contacts(con: Any) -> None:
    share = one(
        con,
        """
        SELECT avg((peer_operator IN ('CU', 'CT', 'CBN'))::INT) FROM voice_cdr
        WHERE peer_operator NOT IN ('SERVICE', 'FIXED', 'INTL')""",
    )[0]
    assert 0.15 < share < 0.45


def test_handset_changes_inside_the_window_lean_to_5g(con: Any) -> None:
    n, five = one(
        con,
        """
        SELECT count(*), avg(h.supports_5g::INT) FROM subscriber_handsets s JOIN handsets h USING (tac)
        WHERE s.first_seen >= TIMESTAMP '2026-09-15'""",
    )
    assert n > 30 and five > 0.5
    assert (
        one(con, "SELECT count(*) FROM subscriber_handsets WHERE first_seen < TIMESTAMP '2026-09-15'")[0]
        > 3000
    )


def test_current_holdings_derive_from_orders(con: Any, month_province: Any) -> None:
    # replaying the order history up to the window start gives the holdings the truth records
    held = con.execute(f"""
        WITH o AS (
            SELECT msisdn, product_id, arg_max(action, order_time) AS last
            FROM orders WHERE order_time < TIMESTAMP '2026-09-15' GROUP BY 1, 2),
        p AS (SELECT product_id FROM products WHERE kind <> 'plan')
        SELECT count(*) FILTER (WHERE o.last <> 'unsubscribe'), count(*) FROM o JOIN p USING (product_id)
        FULL JOIN (SELECT * FROM read_parquet('{month_province}/ground_truth/holdings_at_start.parquet')
                   WHERE product_id NOT LIKE 'PL_%') h USING (msisdn, product_id)
        WHERE (o.last IS NULL OR o.last <> 'unsubscribe') """).fetchone()
    assert held[0] == held[1]


def test_students_text_each_other(con: Any) -> None:
    same_school = one(
        con,
        """
        SELECT avg((t.school_id = p.school_id)::INT) FROM sms s
        JOIN truth t ON t.msisdn = s.msisdn JOIN truth p ON p.msisdn = s.peer_number
        WHERE t.school_type = 'university' AND s.direction = 'MO'""",
    )[0]
    assert same_school > 0.5


def test_stock_traders_trade_in_market_hours(con: Any) -> None:
    rows = dict(
        con.execute("""
        SELECT t.stock_trader, avg((host IN ('stockpage.10jqka.com.cn', 'quote.eastmoney.com')
                                    OR server_ip LIKE '114.141.160.%' OR server_ip LIKE '115.238.58.%')::INT)
        FROM data_xdr x JOIN truth t USING (msisdn) GROUP BY 1""").fetchall()
    )
    assert rows[True] > 5 * rows[False]
    brokers = dict(
        con.execute("""
        SELECT t.stock_trader, count(*) * 1.0 / any_value(k.n) FROM voice_cdr v JOIN truth t USING (msisdn)
        JOIN (SELECT stock_trader, count(*) AS n FROM truth GROUP BY 1) k USING (stock_trader)
        WHERE peer_number LIKE '955%' AND peer_number NOT IN ('95588', '95555', '95533') GROUP BY 1""").fetchall()
    )
    assert brokers[True] > 10 * brokers.get(False, 0.001)


def test_golfers_on_the_course_at_weekends(con: Any) -> None:
    rows = dict(
        con.execute("""
        SELECT t.golfer, avg((c.area_type = 'golf_course')::INT)
        FROM voice_cdr v JOIN truth t USING (msisdn) JOIN cells c USING (cell_id)
        JOIN calendar k ON k.date = CAST(v.start_time AS DATE)
        WHERE k.day_type IN ('weekend', 'holiday') GROUP BY 1""").fetchall()
    )
    assert rows[True] > 0.15 and rows[False] < 0.01


def test_shift_workers_are_at_work_at_night(con: Any) -> None:
    """The confounder: their dominant night cell is an industrial park, not their home."""
    share = one(
        con,
        """
        SELECT avg((c.area_type = 'industrial_park')::INT) FROM voice_cdr v JOIN truth t USING (msisdn)
        JOIN cells c USING (cell_id) JOIN calendar k ON k.date = CAST(v.start_time AS DATE)
        WHERE t.shift_worker AND (hour(start_time) >= 23 OR hour(start_time) < 5)
          AND k.day_type IN ('workday', 'adjusted_workday')""",
    )[0]
    assert share > 0.6


def test_business_travellers_roam_in_short_trips_some_to_hong_kong_and_macau(con: Any) -> None:
    rows = {
        r[0]: r[1:]
        for r in con.execute("""
        WITH r AS (SELECT msisdn, count(*) AS days, max((visited_country IN ('HK', 'MO'))::INT) AS hkmo
                   FROM roaming WHERE direction = 'out' GROUP BY 1)
        SELECT t.persona, avg(coalesce(r.days, 0)), avg(coalesce(r.hkmo, 0))
        FROM truth t LEFT JOIN r USING (msisdn) GROUP BY 1""").fetchall()
    }
    bt_days, bt_hk = rows["business_traveller"]
    assert 3 < bt_days < 15  # often away, but far less than migrants
    assert rows["migrant_worker"][0] > bt_days
    assert bt_hk > 0.05 and rows["migrant_worker"][1] == 0


def test_influential_subscribers_have_more_contacts(con: Any) -> None:
    corr = one(
        con,
        """
        WITH d AS (SELECT msisdn, count(DISTINCT peer_number) AS k FROM voice_cdr GROUP BY 1)
        SELECT corr(ln(t.influence), ln(d.k)) FROM truth t JOIN d USING (msisdn) WHERE NOT t.migrant""",
    )[0]
    assert corr > 0.2


def test_lookalike_hosts_and_ip_only_sessions_exist(con: Any) -> None:
    from tagcloud.sim.internet import lookalike_hosts

    hosts = "', '".join(lookalike_hosts())
    lookalikes, ip_only, encrypted = one(
        con,
        f"""
        SELECT count(*) FILTER (WHERE host IN ('{hosts}')), count(*) FILTER (WHERE host IS NULL),
               count(*) FILTER (WHERE host IS NOT NULL AND uri_path IS NULL) FROM data_xdr""",
    )
    assert lookalikes > 0 and ip_only > 0 and encrypted > 0
    song = one(con, "SELECT count(*) FROM data_xdr WHERE regexp_matches(uri_path, '^/song/[0-9]+\\.mp3$')")[0]
    assert song > 0


def test_contacts_of_holders_are_more_likely_to_adopt(con: Any, month_province: Any) -> None:
    """The planted influence: holders among one's contacts raise one's latent propensity."""
    rows = dict(
        con.execute(f"""
        WITH h AS (SELECT msisdn FROM read_parquet('{month_province}/ground_truth/holdings_at_start.parquet')
                   WHERE product_id = 'VAS_CWT'),
             e AS (SELECT DISTINCT msisdn, peer_number FROM voice_cdr WHERE peer_operator = 'CMCC'),
             x AS (SELECT e.msisdn, max((h.msisdn IS NOT NULL)::INT) AS near_holder
                   FROM e LEFT JOIN h ON h.msisdn = e.peer_number GROUP BY 1)
        SELECT x.near_holder, avg(p.probability) FROM x JOIN truth_propensity p USING (msisdn) JOIN truth t USING (msisdn)
        WHERE p.product_id = 'VAS_CWT' AND p.probability > 0 AND NOT t.car_owner GROUP BY 1""").fetchall()
    )
    assert rows[1] > 1.15 * rows[0]
