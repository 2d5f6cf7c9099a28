"""Tariff sensitivity: AHP-weighted indicators rank a thrifty prepaid user above a premium one."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pytest

from tagcloud.models.ahp import Criterion, InconsistentJudgementsError
from tagcloud.models.sensitivity import DEFAULT_HIERARCHY, INDICATORS, run, weights


def _warehouse(con: duckdb.DuckDBPyConnection, tables: Callable[..., None]) -> None:
    tables("subscribers", "regions", "billing_monthly", "payments", "orders", "products", "service_contacts")
    con.execute("""INSERT INTO regions VALUES ('T1', '城关镇', NULL, 'township', 'C1', true),
                                              ('T2', '某乡', NULL, 'township', 'C1', false)""")
    # thrifty: 神州行, rural, family net; premium: 全球通, group member, urban; two in between.
    con.execute("""INSERT INTO subscribers VALUES
        ('13800000001', 1, 'easyown', NULL, '2020-01-01', 'active', 'prepaid', '55-64', 'F', NULL, NULL, 'F1', false, 'T2', '2026-11-30'),
        ('13800000002', 2, 'gotone', NULL, '2015-01-01', 'active', 'postpaid', '35-44', 'M', 'G1', NULL, NULL, NULL, 'T1', '2026-11-30'),
        ('13800000003', 3, 'mzone', NULL, '2022-01-01', 'active', 'prepaid', '18-24', 'M', NULL, NULL, NULL, NULL, 'T1', '2026-11-30'),
        ('13800000004', 4, 'easyown', NULL, '2021-01-01', 'active', 'prepaid', '45-54', 'M', NULL, NULL, NULL, NULL, 'T1', '2026-11-30'),
        ('13800000005', 5, 'easyown', NULL, '2021-01-01', 'closed', 'prepaid', '45-54', 'M', NULL, NULL, NULL, NULL, 'T1', '2026-11-30')""")
    con.execute("""INSERT INTO billing_monthly VALUES
        ('2026-11-01', '13800000001', 18, 200, 50, 5, 3, 18, 0, 0, 0, 0, 0),
        ('2026-11-01', '13800000002', 268, 9000, 900, 20, 50, 188, 30, 20, 0, 30, 0),
        ('2026-11-01', '13800000003', 58, 6000, 100, 60, 5, 38, 0, 15, 0, 5, 0),
        ('2026-11-01', '13800000004', 38, 800, 200, 10, 2, 38, 0, 0, 0, 0, 0)""")
    con.execute("""INSERT INTO payments VALUES
        (1, '13800000001', '2026-11-02 10:00', 10, 'hall'), (2, '13800000001', '2026-11-09 10:00', 10, 'hall'),
        (3, '13800000001', '2026-11-20 10:00', 10, 'hall'), (4, '13800000002', '2026-11-05 10:00', 300, 'bank'),
        (5, '13800000003', '2026-11-05 10:00', 50, 'app'), (6, '13800000004', '2026-11-05 10:00', 30, 'app')""")
    con.execute("""INSERT INTO products VALUES ('DP1', '流量包', NULL, 'data_pack', 10, 1024, 0, false, NULL),
                                               ('PL1', '套餐', NULL, 'plan', 58, 1024, 100, false, NULL)""")
    con.execute("""INSERT INTO orders VALUES (1, '13800000001', 'DP1', 'subscribe', '2026-11-03 09:00', 'sms_hall', NULL),
                                             (2, '13800000001', 'DP1', 'subscribe', '2026-11-13 09:00', 'sms_hall', NULL),
                                             (3, '13800000002', 'PL1', 'change', '2026-11-13 09:00', 'hall', NULL)""")
    con.execute("""INSERT INTO service_contacts VALUES
        (1, '13800000001', '2026-11-04 09:00', '10086', 'balance_query', 60),
        (2, '13800000001', '2026-11-14 09:00', 'sms_hall', 'bill_query', 10),
        (3, '13800000004', '2026-11-14 09:00', 'sms_hall', 'bill_query', 10)""")


def test_thrifty_subscriber_scores_highest(
    con: duckdb.DuckDBPyConnection, tables: Callable[..., None]
) -> None:
    _warehouse(con, tables)
    out = {
        r["msisdn"]: (r["tariff_sensitivity_score"], r["tariff_sensitivity_level"])
        for r in run(con).to_pylist()
    }
    assert set(out) == {"13800000001", "13800000002", "13800000003", "13800000004"}  # closed excluded
    scores = {k: v[0] for k, v in out.items()}
    assert scores["13800000001"] > scores["13800000004"] > scores["13800000002"]
    assert scores["13800000001"] == max(scores.values()) and scores["13800000002"] == min(scores.values())
    assert all(0 <= s <= 100 for s in scores.values())
    assert out["13800000001"][1] == "high" and out["13800000002"][1] == "low"


def test_default_weights_consistent_and_complete() -> None:
    w = weights()
    assert set(w) == set(INDICATORS)
    assert sum(w.values()) == pytest.approx(1.0)
    assert max(w, key=w.__getitem__) == "low_arpu"  # consumption judged most important


def test_inconsistent_judgements_refused(con: duckdb.DuckDBPyConnection, tables: Callable[..., None]) -> None:
    _warehouse(con, tables)
    bad = Criterion(
        DEFAULT_HIERARCHY.name,
        DEFAULT_HIERARCHY.children,
        {("consumption", "payment"): 9, ("payment", "contact"): 9, ("contact", "consumption"): 9,
         ("consumption", "basic"): 1, ("payment", "basic"): 1, ("contact", "basic"): 1},
    )  # fmt: skip
    with pytest.raises(InconsistentJudgementsError, match="criterion group 'tariff_sensitivity'"):
        run(con, {"hierarchy": bad})
