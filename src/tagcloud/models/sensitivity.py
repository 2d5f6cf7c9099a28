"""Tariff sensitivity (客户资费敏感模型, seed 000 §6.4): indicators weighted by AHP.

The seed judges price sensitivity from four angles, each a group of indicators:

* basic attributes (用户基础属性): brand, group (enterprise) customer, family-net member, urban town;
* payment (缴费情况): how often and how much the subscriber tops up;
* consumption (消费情况): spend level and the share of spend the subscriber chose beyond the plan;
* contact (接触信息): discount offers taken and bill/balance queries.

Every indicator is scaled to 0–1 so that 1 means "more price-sensitive" (a percent rank over the
subscribers, or a fixed code score), and weighted by the AHP hierarchy below: the weight of a group
comes from the criteria matrix, the weight of an indicator inside its group from the group's
matrix; the global weight is their product. The score is 100 × the weighted sum. The judgements are
parameters: a business analyst may replace them, and an inconsistent set (CR > 0.10) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tagcloud.models.ahp import Criterion, global_weights

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

# Indicator → the SQL (over the CTE ``ind``) that scales it to 0–1, 1 = more sensitive.
INDICATORS: dict[str, tuple[str, str]] = {
    "brand": ("CASE brand WHEN 'easyown' THEN 1.0 WHEN 'mzone' THEN 0.6 ELSE 0.0 END", "神州行 1, 动感地带 0.6, 全球通 0"),
    "not_group": ("CASE WHEN group_id IS NULL THEN 1.0 ELSE 0.0 END", "not an enterprise-group member"),
    "family_net": ("CASE WHEN family_vnet_id IS NOT NULL THEN 1.0 ELSE 0.0 END", "on a family V-net / family plan"),
    "rural": ("CASE WHEN is_urban THEN 0.0 ELSE 1.0 END", "home outside the urban town (城关镇)"),
    "topup_frequency": ("percent_rank() OVER (ORDER BY topups_per_month)", "percent rank of top-ups per month"),
    "topup_amount_small": ("1 - percent_rank() OVER (ORDER BY avg_topup)", "1 − percent rank of mean top-up"),
    "low_arpu": ("1 - percent_rank() OVER (ORDER BY arpu)", "1 − percent rank of mean monthly ARPU"),
    "low_discretionary": ("1 - percent_rank() OVER (ORDER BY discretionary_share)",
                          "1 − percent rank of the share of the bill beyond the plan fee"),
    "offers_taken": ("percent_rank() OVER (ORDER BY offers)", "percent rank of discount packs / offers ordered"),
    "bill_queries": ("percent_rank() OVER (ORDER BY queries)", "percent rank of balance and bill queries"),
}  # fmt: skip

# Default judgements (Saaty 1–9 scale): consumption matters most, then payment, contact, basic.
DEFAULT_HIERARCHY = Criterion(
    "tariff_sensitivity",
    (
        Criterion("basic", (Criterion("brand"), Criterion("not_group"), Criterion("family_net"), Criterion("rural")),
                  {("brand", "not_group"): 2, ("brand", "family_net"): 3, ("brand", "rural"): 2,
                   ("not_group", "family_net"): 2, ("not_group", "rural"): 1, ("rural", "family_net"): 2}),
        Criterion("payment", (Criterion("topup_frequency"), Criterion("topup_amount_small")),
                  {("topup_frequency", "topup_amount_small"): 1}),
        Criterion("consumption", (Criterion("low_arpu"), Criterion("low_discretionary")),
                  {("low_arpu", "low_discretionary"): 2}),
        Criterion("contact", (Criterion("offers_taken"), Criterion("bill_queries")),
                  {("offers_taken", "bill_queries"): 3}),
    ),
    {("consumption", "payment"): 2, ("consumption", "contact"): 3, ("consumption", "basic"): 4,
     ("payment", "contact"): 2, ("payment", "basic"): 3, ("contact", "basic"): 2},
)  # fmt: skip


def weights(hierarchy: Criterion = DEFAULT_HIERARCHY) -> dict[str, float]:
    """Global indicator weights from the hierarchy (raises if any group's CR > 0.10)."""
    w = global_weights(hierarchy)
    unknown = set(w) - set(INDICATORS)
    if unknown:
        raise ValueError(f"the hierarchy names indicators the model does not compute: {sorted(unknown)}")
    return w


def score_sql(w: Mapping[str, float], *, high: float = 60.0, medium: float = 40.0) -> str:
    """SQL for msisdn, tariff_sensitivity_score (0–100), tariff_sensitivity_level over the warehouse."""
    terms = " + ".join(f"{float(v)!r} * ({INDICATORS[k][0]})" for k, v in w.items())
    return f"""
    WITH months AS (
        SELECT greatest(count(DISTINCT bill_month), 1) AS n FROM billing_monthly
    ), bill AS (
        SELECT msisdn, avg(arpu)::DOUBLE AS arpu,
               sum(coalesce(fee_voice, 0) + coalesce(fee_data, 0) + coalesce(fee_vas, 0))::DOUBLE
                 / nullif(sum(arpu)::DOUBLE, 0) AS discretionary_share
        FROM billing_monthly GROUP BY msisdn
    ), pay AS (
        SELECT msisdn, count(*) AS n_pay, avg(amount)::DOUBLE AS avg_topup FROM payments GROUP BY msisdn
    ), offers AS (
        SELECT o.msisdn, count(*) AS offers FROM orders o JOIN products p USING (product_id)
        WHERE o.action = 'subscribe' AND p.kind IN ('data_pack', 'family', 'vas') GROUP BY o.msisdn
    ), queries AS (
        SELECT msisdn, count(*) AS queries FROM service_contacts
        WHERE reason IN ('balance_query', 'bill_query', 'data_query') GROUP BY msisdn
    ), ind AS (
        SELECT s.msisdn, s.brand, s.group_id, s.family_vnet_id, coalesce(r.is_urban, true) AS is_urban,
               coalesce(pay.n_pay, 0) / (SELECT n FROM months) AS topups_per_month,
               coalesce(pay.avg_topup, 0) AS avg_topup,
               coalesce(bill.arpu, 0) AS arpu, coalesce(bill.discretionary_share, 0) AS discretionary_share,
               coalesce(offers.offers, 0) AS offers, coalesce(queries.queries, 0) AS queries
        FROM subscribers s
        LEFT JOIN regions r ON r.region_id = s.home_region_id
        LEFT JOIN bill USING (msisdn) LEFT JOIN pay USING (msisdn)
        LEFT JOIN offers USING (msisdn) LEFT JOIN queries USING (msisdn)
        WHERE s.status <> 'closed'
    ), scored AS (
        SELECT msisdn, round(100 * ({terms}), 1) AS tariff_sensitivity_score FROM ind
    )
    SELECT msisdn, tariff_sensitivity_score,
           CASE WHEN tariff_sensitivity_score >= {high} THEN 'high'
                WHEN tariff_sensitivity_score >= {medium} THEN 'medium' ELSE 'low' END AS tariff_sensitivity_level
    FROM scored
    """


def run(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Score every open subscriber of the warehouse behind ``con``."""
    p = dict(params or {})
    w = weights(p.get("hierarchy", DEFAULT_HIERARCHY))
    return con.sql(score_sql(w, high=p.get("high", 60.0), medium=p.get("medium", 40.0))).to_arrow_table()
