"""Customer behaviour models: dual-SIM suspicion, churn warning, channel preference (seeds 000, 001).

Attributes are computed per subscriber in DuckDB SQL (:func:`attributes_sql`); the learned models
use the generic propensity trainer (:mod:`tagcloud.models.propensity`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


def attributes_sql() -> str:
    """One row per open subscriber: usage rates, trends, handset, service contacts, spend, and the
    pre-decision signs of leaving (离网征兆) that the churn models learn from.

    Rates are per window day; ``*_trend`` is the second half of the window over the first (1 = steady,
    < 1 = fading). The churn signs:

    * ``activity_slope``: least-squares slope of the daily count of originated activity (MO calls,
      MO SMS, data sessions) over the window, divided by the subscriber's daily mean — the share of
      the mean lost (< 0) or gained per day. Every day counts, so it is steadier than the halves.
    * ``rival_call_share``: of the MO calls, those to a rival's hotline (10010, 10000) or to a
      rival-network number called once and never calling back (shopping around, not a contact).
    * ``dou_vs_bills``, ``sms_vs_bills``: the window's data and SMS per day over the daily average
      of the bills before the window's first month (the classic "this month against the last
      months"); NULL without such bills.
    * ``is_suspended``: the business system shows the number suspended.
    """
    return """
    WITH w AS (
        SELECT min(CAST(start_time AS DATE)) AS d0, max(CAST(start_time AS DATE)) AS d1 FROM voice_cdr
    ), mid AS (
        SELECT d0 + CAST((d1 - d0) // 2 AS INTEGER) AS m, greatest(d1 - d0 + 1, 1) AS days,
               (d1 - d0) / 2.0 AS day_mean,
               -- sum of squared deviations of the day index 0 .. days-1 from its mean
               greatest(d1 - d0 + 1, 1) * (power(greatest(d1 - d0 + 1, 1), 2) - 1) / 12.0 AS day_sxx
        FROM w
    ), v AS (
        SELECT msisdn, count(*) FILTER (WHERE direction = 'MO') AS calls_mo,
               count(*) FILTER (WHERE direction = 'MT') AS calls_mt,
               avg((peer_operator IN ('CU', 'CT', 'CBN'))::INT) AS offnet_share,
               count(DISTINCT peer_number) AS contacts,
               count(*) FILTER (WHERE CAST(start_time AS DATE) > (SELECT m FROM mid)) AS late,
               count(*) FILTER (WHERE CAST(start_time AS DATE) <= (SELECT m FROM mid)) AS early,
               sum(date_diff('day', (SELECT d0 FROM w), CAST(start_time AS DATE))) FILTER (WHERE direction = 'MO') AS mo_day_sum,
               count(*) FILTER (WHERE peer_number LIKE '100__' OR peer_number LIKE '1001_') AS calls_to_operators,
               -- asking a rival about its offers (seed 000 离网预警): 10010 China Unicom, 10000 China Telecom
               count(*) FILTER (WHERE direction = 'MO' AND peer_number IN ('10010', '10000')) AS calls_to_competitors
        FROM voice_cdr GROUP BY msisdn
    ), rv AS (
        -- rival-network numbers called once and never calling back: not contacts, shopping around
        SELECT msisdn, count(*) FILTER (WHERE mo = 1 AND mt = 0) AS rival_numbers
        FROM (
            SELECT msisdn, peer_number, count(*) FILTER (WHERE direction = 'MO') AS mo,
                   count(*) FILTER (WHERE direction = 'MT') AS mt
            FROM voice_cdr WHERE peer_operator IN ('CU', 'CT', 'CBN') GROUP BY msisdn, peer_number
        ) GROUP BY msisdn
    ), s AS (
        SELECT msisdn, count(*) FILTER (WHERE direction = 'MO') AS sms_mo,
               sum(date_diff('day', (SELECT d0 FROM w), CAST(sent_time AS DATE))) FILTER (WHERE direction = 'MO') AS mo_day_sum
        FROM sms GROUP BY msisdn
    ), x AS (
        SELECT msisdn, count(*) AS sessions, sum(bytes_up + bytes_down) / 1e6 AS mb,
               count(*) FILTER (WHERE CAST(start_time AS DATE) > (SELECT m FROM mid)) AS late,
               count(*) FILTER (WHERE CAST(start_time AS DATE) <= (SELECT m FROM mid)) AS early,
               sum(date_diff('day', (SELECT d0 FROM w), CAST(start_time AS DATE))) AS day_sum,
               count(DISTINCT host) AS hosts
        FROM data_xdr GROUP BY msisdn
    ), b AS (
        SELECT msisdn, avg(arpu)::DOUBLE AS arpu, avg(dou_mb) AS dou_mb, avg(mou_min) AS mou_min
        FROM billing_monthly GROUP BY msisdn
    ), bh AS (
        -- the bills before the window's first month, per day of their month
        SELECT msisdn, avg(dou_mb / dayofmonth(last_day(bill_month))) AS dou_mb_per_day,
               avg(sms_count / dayofmonth(last_day(bill_month))) AS sms_per_day
        FROM billing_monthly WHERE bill_month < (SELECT date_trunc('month', d0) FROM w) GROUP BY msisdn
    ), sc AS (
        SELECT msisdn, count(*) AS service_contacts,
               count(*) FILTER (WHERE reason = 'complaint') AS complaints,
               count(*) FILTER (WHERE reason = 'porting_inquiry') AS porting_inquiries
        FROM service_contacts GROUP BY msisdn
    ), hs AS (
        SELECT h.msisdn, arg_max(k.os, h.first_seen) AS handset_os, arg_max(k.supports_5g, h.first_seen) AS handset_5g,
               arg_max(k.price_tier, h.first_seen) AS handset_tier, count(*) AS handsets_seen
        FROM subscriber_handsets h LEFT JOIN handsets k USING (tac) GROUP BY h.msisdn
    ), rm AS (SELECT msisdn, count(*) AS roaming_days FROM roaming WHERE direction = 'out' GROUP BY msisdn
    ), act AS (
        -- originated activity: count and sum of day indices, for the least-squares slope
        SELECT msisdn, coalesce(v.calls_mo, 0) + coalesce(s.sms_mo, 0) + coalesce(x.sessions, 0) AS n,
               coalesce(v.mo_day_sum, 0) + coalesce(s.mo_day_sum, 0) + coalesce(x.day_sum, 0) AS day_sum
        FROM subscribers LEFT JOIN v USING (msisdn) LEFT JOIN s USING (msisdn) LEFT JOIN x USING (msisdn)
    )
    SELECT sub.msisdn, sub.brand, sub.payment_type, sub.age_band,
           date_diff('day', sub.join_date, (SELECT d1 FROM w)) AS tenure_days,
           sub.group_id IS NOT NULL AS is_group, sub.family_vnet_id IS NOT NULL AS on_family_vnet,
           coalesce(v.calls_mo, 0) / (SELECT days FROM mid) AS calls_mo_per_day,
           coalesce(v.calls_mt, 0) / (SELECT days FROM mid) AS calls_mt_per_day,
           coalesce(s.sms_mo, 0) / (SELECT days FROM mid) AS sms_per_day,
           coalesce(x.sessions, 0) / (SELECT days FROM mid) AS sessions_per_day,
           coalesce(x.mb, 0) / (SELECT days FROM mid) AS mb_per_day,
           coalesce(x.hosts, 0) AS hosts,
           v.offnet_share, coalesce(v.contacts, 0) AS contacts,
           coalesce(v.calls_to_competitors, 0) AS calls_to_competitors,
           (coalesce(v.late, 0) + 1.0) / (coalesce(v.early, 0) + 1.0) AS calls_trend,
           (coalesce(x.late, 0) + 1.0) / (coalesce(x.early, 0) + 1.0) AS sessions_trend,
           -- slope = sum((day - day_mean) * count) / day_sxx, over the daily mean n / days
           CASE WHEN act.n > 0 AND (SELECT day_sxx FROM mid) > 0
                THEN (act.day_sum - (SELECT day_mean FROM mid) * act.n) / (SELECT day_sxx FROM mid)
                     / (act.n / (SELECT days FROM mid)) END AS activity_slope,
           (coalesce(v.calls_to_competitors, 0) + coalesce(rv.rival_numbers, 0)) / nullif(v.calls_mo, 0) AS rival_call_share,
           coalesce(x.mb, 0) / (SELECT days FROM mid) / nullif(bh.dou_mb_per_day, 0) AS dou_vs_bills,
           coalesce(s.sms_mo, 0) / (SELECT days FROM mid) / nullif(bh.sms_per_day, 0) AS sms_vs_bills,
           b.arpu, b.dou_mb, b.mou_min,
           coalesce(sc.service_contacts, 0) AS service_contacts, coalesce(sc.complaints, 0) AS complaints,
           coalesce(sc.porting_inquiries, 0) AS porting_inquiries, sub.status = 'suspended' AS is_suspended,
           hs.handset_os, hs.handset_5g, hs.handset_tier, coalesce(hs.handsets_seen, 0) AS handsets_seen,
           coalesce(rm.roaming_days, 0) AS roaming_days
    FROM subscribers sub
    LEFT JOIN v USING (msisdn) LEFT JOIN s USING (msisdn) LEFT JOIN x USING (msisdn) LEFT JOIN rv USING (msisdn)
    LEFT JOIN b USING (msisdn) LEFT JOIN bh USING (msisdn) LEFT JOIN sc USING (msisdn) LEFT JOIN hs USING (msisdn)
    LEFT JOIN rm USING (msisdn) LEFT JOIN act USING (msisdn)
    WHERE sub.status <> 'closed'
    """


def attributes(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The attribute table of :func:`attributes_sql` (cached as ``_attributes`` on the connection)."""
    have = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_attributes' AND temporary"
    ).fetchall()[0][0]
    if not have:
        con.execute(f"CREATE TEMP TABLE _attributes AS {attributes_sql()}")
    return con.sql("SELECT * FROM _attributes").to_arrow_table()


DUAL_SIM_DEFAULTS: dict[str, Any] = {
    # Rule (seed 000 §6.2, first pass): a smartphone on our card that carries calls but almost no
    # data — the data goes through another operator's card in the same handset.
    "max_sessions_quantile": 0.10,  # data sessions per day at or below this quantile of smartphones …
    "min_calls_quantile": 0.30,  # … while originated calls per day are at or above this one
    "negative_sessions_quantile": 0.40,  # clear negatives: smartphones above this data quantile
    "seed": 0,
}


def dual_sim(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Dual-SIM suspicion: rules label a sample, a model learns their features, every user is scored.

    Columns: msisdn, dual_sim_rule (the rule's verdict, NULL when undecided), dual_sim_score (0–1),
    is_dual_sim_suspect (score ≥ 0.5).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from tagcloud.models.propensity import score as propensity_score
    from tagcloud.models.propensity import train

    p = {**DUAL_SIM_DEFAULTS, **(params or {})}
    attrs = attributes(con)
    con.register("_dual_attrs", attrs)
    labelled = con.sql(
        f"""
        WITH q AS (
            SELECT quantile_cont(sessions_per_day, {float(p["max_sessions_quantile"])}) AS lo,
                   quantile_cont(sessions_per_day, {float(p["negative_sessions_quantile"])}) AS neg,
                   quantile_cont(calls_mo_per_day, {float(p["min_calls_quantile"])}) AS calls
            FROM _dual_attrs WHERE handset_os IS NOT NULL AND handset_os <> 'feature'
        )
        SELECT a.*,
               CASE WHEN a.handset_os IS NULL OR a.handset_os = 'feature' THEN NULL
                    WHEN a.sessions_per_day <= q.lo AND a.calls_mo_per_day >= q.calls THEN true
                    WHEN a.sessions_per_day >= q.neg THEN false END AS dual_sim_rule
        FROM _dual_attrs a, q
        """
    ).to_arrow_table()
    con.unregister("_dual_attrs")
    # The model must not simply relearn the rule's own inputs, or it could never add anything.
    drop = {"dual_sim_rule", "sessions_per_day", "calls_mo_per_day"}
    feats = [c for c in labelled.column_names if c not in drop | {"msisdn"}]
    sample = labelled.filter(pc.is_valid(labelled.column("dual_sim_rule")))
    result = train(
        sample, "dual_sim_rule", name="dual_sim", features=feats, folds=3, seed=int(p["seed"]), max_iter=80
    )
    score = propensity_score(result, labelled)
    return pa.table(
        {
            "msisdn": labelled.column("msisdn"),
            "dual_sim_rule": labelled.column("dual_sim_rule"),
            "dual_sim_score": pa.array(score.round(4)),
            "is_dual_sim_suspect": pa.array(score >= 0.5),
        }
    ).replace_schema_metadata({"rule_sample_cv_auc": f"{result.auc:.4f}"})


CHURN_DEFAULTS: dict[str, Any] = {
    # Warning score weights over percent ranks (used when no churn labels are given).
    "w_porting": 0.35,
    "w_fading": 0.25,
    "w_complaints": 0.15,
    "w_rivals": 0.1,
    "w_low_value": 0.15,
}


def churn_warning(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Churn warning by rule (离网预警): number-porting inquiries, fading usage (``activity_slope``),
    complaints, calls to rivals (``rival_call_share``), low spend — weighted percent ranks, 0–100.
    Columns: msisdn, churn_score, churn_risk (high ≥ 70, medium ≥ 50, else low)."""
    p = {**CHURN_DEFAULTS, **(params or {})}
    attributes(con)
    total = sum(float(p[k]) for k in CHURN_DEFAULTS)
    return con.sql(
        f"""
        WITH s AS (
            SELECT msisdn, round(100 * (
                {float(p["w_porting"])} * (porting_inquiries > 0)::INT
              + {float(p["w_fading"])} * (1 - percent_rank() OVER (ORDER BY coalesce(activity_slope, 0)))
              + {float(p["w_complaints"])} * percent_rank() OVER (ORDER BY complaints)
              + {float(p["w_rivals"])} * percent_rank() OVER (ORDER BY coalesce(rival_call_share, 0))
              + {float(p["w_low_value"])} * (1 - percent_rank() OVER (ORDER BY coalesce(arpu, 0)))
            ) / {total}, 2) AS churn_score
            FROM _attributes
        )
        SELECT msisdn, churn_score,
               CASE WHEN churn_score >= 70 THEN 'high' WHEN churn_score >= 50 THEN 'medium' ELSE 'low' END AS churn_risk
        FROM s
        """
    ).to_arrow_table()


CHANNELS = ("10086", "hall", "web_hall", "sms_hall", "app", "self_terminal")


def channel_preference(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Preferred contact channel (渠道偏好, seed 001) before any campaign history exists.

    The channel the subscriber uses most on their own initiative — service contacts, payments and
    orders — weighted by recency (half-life ``half_life_days``, default 30). Columns: msisdn,
    preferred_channel, channel_share (its share of the weighted uses), uses. With campaign
    contact/response history, the response model replaces this.
    """
    half_life = float((params or {}).get("half_life_days", 30))
    return con.sql(
        f"""
        WITH u AS (
            SELECT msisdn, channel, contact_time AS t FROM service_contacts
            UNION ALL SELECT msisdn, channel, paid_time FROM payments
            UNION ALL SELECT msisdn, channel, order_time FROM orders
        ), w AS (
            SELECT msisdn, channel,
                   sum(pow(0.5, date_diff('day', t, (SELECT max(t) FROM u)) / {half_life})) AS weight,
                   count(*) AS n
            FROM u WHERE channel IN ({", ".join(f"'{c}'" for c in CHANNELS)}, 'outbound', 'agent', 'bank')
            GROUP BY ALL
        )
        SELECT msisdn, arg_max(channel, weight) AS preferred_channel,
               round(max(weight) / sum(weight), 3) AS channel_share, sum(n) AS uses
        FROM w GROUP BY msisdn
        """
    ).to_arrow_table()
