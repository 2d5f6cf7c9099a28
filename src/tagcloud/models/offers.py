"""Offer models of seed 000: bill-based plan recommendation (§6.1) and 4G→5G migration targets (§6.3).

Both read the last ``months`` bills, the product catalogue and the handset library; the migration
model also uses scikit-learn (k-means for segments, a decision tree for priority).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

PLAN_DEFAULTS: dict[str, Any] = {
    "months": 3,  # bills averaged
    "voice_overage_yuan": 10.0,  # scenario 1: voice beyond the plan costs at least this a month
    "data_overage_yuan": 20.0,  # scenario 2: data beyond the plan costs at least this a month
    "small_overage_yuan": 1.0,  # scenario 4: some data overage, below scenario 2's threshold
    "pack_fill": 0.8,  # scenario 5: data use at least this share of the plan's allowance
}

# The five bill scenarios (账单资费匹配推荐情景): three lead to a plan, two to a data pack.
SCENARIOS = {
    1: "语音超套: voice overage → a plan with enough minutes",
    2: "流量超套: heavy data overage → a plan with enough data",
    3: "5G终端4G套餐: 5G handset on a 4G plan, spend near a 5G plan → the 5G plan",
    4: "流量小额超套: small data overage → a data pack",
    5: "流量将满: data use near the allowance → a data pack before overage starts",
}


def plan_recommendation(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Bill-based plan and pack recommendation (seed 000 §6.1): the first scenario that applies.

    Columns: msisdn, plan_scenario (1–5), recommended_product, product_fee, current_spend.
    Plans recommended are the cheapest of the catalogue covering the mean minutes and MB (5G plans
    only for 5G handsets); packs the cheapest general data pack covering the overage.
    """
    p = {**PLAN_DEFAULTS, **(params or {})}
    return con.sql(
        f"""
        WITH recent AS (
            SELECT DISTINCT bill_month FROM billing_monthly ORDER BY bill_month DESC LIMIT {int(p["months"])}
        ), bill AS (
            SELECT msisdn, avg(arpu)::DOUBLE AS arpu, avg(mou_min) AS mou, avg(dou_mb) AS dou,
                   avg(fee_voice)::DOUBLE AS fee_voice, avg(fee_data)::DOUBLE AS fee_data
            FROM billing_monthly WHERE bill_month IN (SELECT bill_month FROM recent) GROUP BY msisdn
        ), hs AS (
            SELECT h.msisdn, arg_max(k.supports_5g, h.first_seen) AS h5
            FROM subscriber_handsets h JOIN handsets k USING (tac) GROUP BY h.msisdn
        ), cur AS (
            SELECT s.msisdn, s.plan_id, coalesce(pl.requires_5g, false) AS on_5g, pl.data_mb AS plan_mb,
                   pl.monthly_fee::DOUBLE AS plan_fee, coalesce(hs.h5, false) AS h5, b.*
            FROM subscribers s JOIN bill b USING (msisdn)
            LEFT JOIN products pl ON pl.product_id = s.plan_id LEFT JOIN hs USING (msisdn)
            WHERE s.status = 'active'
        ), plans AS (
            SELECT product_id, monthly_fee::DOUBLE AS fee, data_mb, voice_min, requires_5g
            FROM products WHERE kind = 'plan'
        ), fit AS (  -- the cheapest plan covering the usage, for each subscriber
            SELECT c.msisdn, arg_min(p.product_id, p.fee) AS plan, min(p.fee) AS plan_fee_new,
                   arg_min(p.product_id, p.fee) FILTER (WHERE p.requires_5g) AS plan5,
                   min(p.fee) FILTER (WHERE p.requires_5g) AS plan5_fee
            FROM cur c JOIN plans p
              ON p.voice_min >= c.mou AND p.data_mb >= c.dou AND (NOT p.requires_5g OR c.h5)
            GROUP BY c.msisdn
        ), pack AS (
            SELECT product_id, monthly_fee::DOUBLE AS fee, data_mb FROM products
            WHERE kind = 'data_pack' AND product_id NOT IN ('DP_NIGHT', 'DP_VIDEO')  -- general packs only
        ), pk AS (
            SELECT c.msisdn, arg_min(k.product_id, k.fee) AS pack, min(k.fee) AS pack_fee
            FROM cur c JOIN pack k ON k.data_mb >= greatest(c.dou - coalesce(c.plan_mb, 0), 0) GROUP BY c.msisdn
        ), s AS (
            SELECT c.msisdn, c.arpu, f.plan, f.plan_fee_new, f.plan5, f.plan5_fee, pk.pack, pk.pack_fee,
                   CASE WHEN c.fee_voice >= {float(p["voice_overage_yuan"])} AND f.plan IS NOT NULL
                             AND f.plan <> c.plan_id THEN 1
                        WHEN c.fee_data >= {float(p["data_overage_yuan"])} AND f.plan IS NOT NULL
                             AND f.plan <> c.plan_id THEN 2
                        WHEN c.h5 AND NOT c.on_5g AND f.plan5 IS NOT NULL AND c.arpu >= 0.8 * f.plan5_fee THEN 3
                        WHEN c.fee_data >= {float(p["small_overage_yuan"])} AND pk.pack IS NOT NULL THEN 4
                        WHEN c.plan_mb > 0 AND c.dou >= {float(p["pack_fill"])} * c.plan_mb AND pk.pack IS NOT NULL THEN 5
                   END AS plan_scenario
            FROM cur c LEFT JOIN fit f USING (msisdn) LEFT JOIN pk USING (msisdn)
        )
        SELECT msisdn, plan_scenario,
               CASE WHEN plan_scenario IN (1, 2) THEN plan WHEN plan_scenario = 3 THEN plan5 ELSE pack END
                 AS recommended_product,
               CASE WHEN plan_scenario IN (1, 2) THEN plan_fee_new WHEN plan_scenario = 3 THEN plan5_fee
                    ELSE pack_fee END AS product_fee,
               round(arpu, 2) AS current_spend
        FROM s WHERE plan_scenario IS NOT NULL
        """
    ).to_arrow_table()


MIGRATION_DEFAULTS: dict[str, Any] = {
    "months": 3,
    "min_dou_mb": 1024,  # no data potential below this
    "min_tenure_days": 180,  # new and low-value: joined less than this ago with ARPU below …
    "low_arpu": 30.0,
    "max_complaints": 1,  # business-averse: more complaints than this in the window
    "contract_days": 180,  # handset changed within this many days: still in its contract
    "clusters": 4,
    "tree_depth": 4,
    "seed": 0,
}


def migration_5g(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """4G→5G migration targets (seed 000 §6.3): filter, cluster, decision-tree priority.

    1. Candidates: active subscribers not on a 5G plan. Filtered out as having no potential: the
       business-averse (complaints), handsets still in contract, no data use, new low-value users.
    2. k-means on standardised ARPU, DOU, MOU, tenure and handset 5G capability gives segments.
    3. A decision tree learns what distinguishes subscribers already on a 5G plan (look-alike);
       its probability for each candidate is the priority score, cut into A / B / C tiers.
    Columns: msisdn, migration_segment, migration_score, migration_priority.
    """
    import numpy as np
    import pyarrow as pa
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier
    from threadpoolctl import threadpool_limits

    p = {**MIGRATION_DEFAULTS, **(params or {})}
    t = con.sql(
        f"""
        WITH recent AS (
            SELECT DISTINCT bill_month FROM billing_monthly ORDER BY bill_month DESC LIMIT {int(p["months"])}
        ), bill AS (
            SELECT msisdn, avg(arpu)::DOUBLE AS arpu, avg(dou_mb) AS dou, avg(mou_min) AS mou
            FROM billing_monthly WHERE bill_month IN (SELECT bill_month FROM recent) GROUP BY msisdn
        ), hs AS (
            SELECT h.msisdn, arg_max(k.supports_5g, h.first_seen)::INT AS h5, max(h.first_seen) AS last_change,
                   count(*) AS handsets
            FROM subscriber_handsets h JOIN handsets k USING (tac) GROUP BY h.msisdn
        ), sc AS (SELECT msisdn, count(*) FILTER (WHERE reason = 'complaint') AS complaints
                  FROM service_contacts GROUP BY msisdn
        ), ref AS (SELECT max(bill_month) + INTERVAL 1 MONTH AS d FROM billing_monthly)
        SELECT s.msisdn, coalesce(pl.requires_5g, false) AS on_5g, b.arpu, b.dou, b.mou,
               date_diff('day', s.join_date, (SELECT d FROM ref)) AS tenure, coalesce(hs.h5, 0) AS h5,
               coalesce(sc.complaints, 0) AS complaints,
               hs.handsets > 1 AND date_diff('day', hs.last_change, (SELECT d FROM ref)) < {int(p["contract_days"])}
                 AS in_contract
        FROM subscribers s JOIN bill b USING (msisdn)
        LEFT JOIN products pl ON pl.product_id = s.plan_id LEFT JOIN hs USING (msisdn) LEFT JOIN sc USING (msisdn)
        WHERE s.status = 'active'
        """
    ).fetchnumpy()
    on5 = np.asarray(t["on_5g"], bool)
    x = np.column_stack([np.asarray(t[c], float) for c in ("arpu", "dou", "mou", "tenure", "h5")])
    x = np.nan_to_num(x)
    potential = (
        ~on5
        & (np.asarray(t["complaints"]) <= int(p["max_complaints"]))
        & ~np.asarray(t["in_contract"], bool)
        & (x[:, 1] >= float(p["min_dou_mb"]))
        & ~((x[:, 3] < int(p["min_tenure_days"])) & (x[:, 0] < float(p["low_arpu"])))
    )
    z = StandardScaler().fit_transform(x)
    with threadpool_limits(limits=1, user_api="openmp"):
        seg = KMeans(int(p["clusters"]), n_init=4, random_state=int(p["seed"])).fit_predict(z)
        tree = DecisionTreeClassifier(
            max_depth=int(p["tree_depth"]), min_samples_leaf=20, random_state=int(p["seed"])
        )
        tree.fit(np.column_stack([x, seg]), on5)
        score = tree.predict_proba(np.column_stack([x, seg]))[:, list(tree.classes_).index(True)] if on5.any() else (
            np.zeros(len(x))
        )  # fmt: skip
    idx = np.flatnonzero(potential)
    # Tiers by rank thirds (tree probabilities tie in blocks, so quantile cuts could leave a tier empty).
    rank = np.empty(len(idx), np.int64)
    rank[np.argsort(-score[idx], kind="stable")] = np.arange(len(idx))
    tier_of_rank = np.array(["A", "B", "C"])[np.minimum(rank * 3 // max(len(idx), 1), 2)]
    tier = np.empty(len(score), dtype="<U1")
    tier[idx] = tier_of_rank
    return pa.table(
        {
            "msisdn": pa.array(np.asarray(t["msisdn"])[idx]),
            "migration_segment": pa.array(seg[idx].astype(np.int16)),
            "migration_score": pa.array(score[idx].round(4)),
            "migration_priority": pa.array(tier[idx]),
        }
    )
