"""Evaluation: action vs control, lift, CI, p-value (checked against scipy's chi-square), usage, branches."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from scipy.stats import chi2_contingency

from tagcloud.campaigns.evaluate import Comparison, evaluate, format_report
from tagcloud.campaigns.execute import launch, plan_wave, split_target
from tagcloud.campaigns.policy import ContactLedger

from .helpers import NOON, demo_design


def test_comparison_statistics() -> None:
    c = Comparison(9000, 540, 1000, 20)
    assert math.isclose(c.lift, 0.06 / 0.02)
    _chi2, p, _, _ = chi2_contingency([[540, 9000 - 540], [20, 980]], correction=False)
    assert math.isclose(c.p_value, p, rel_tol=1e-9)
    lo, hi = c.ci()
    assert lo < c.difference < hi and lo > 0
    same = Comparison(1000, 50, 1000, 50)
    assert same.lift == 1 and same.p_value == 1.0
    tiny = Comparison(10, 3, 10, 0)  # expected counts under 5: Fisher's exact test
    assert 0.05 < tiny.p_value < 0.5 and tiny.lift == math.inf


def test_evaluate_campaign(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 6000
    d = demo_design(waves=("sms",))
    ms = np.array([f"137{i:08d}" for i in range(n)], dtype=object)
    subs = np.where(rng.random(n) < 0.3, "high", "low").astype(object)
    t = split_target(d, ms, subs)
    con = duckdb.connect()
    with ContactLedger(f"sqlite:///{tmp_path / 'l.db'}") as led:
        launch(led, d, t, tmp_path)
        plan_wave(led, d, t, 0)
        act = ~t.control
        # action members accept 9% (via SMS reply), everyone also orders on their own at 2%
        accept = act & (rng.random(n) < 0.09)
        for m in ms[accept]:
            led.record_response(
                str(m), None, "sms", "accepted", NOON + dt.timedelta(days=2), campaign_id=d.campaign_id
            )
        organic = rng.random(n) < 0.02
        offer = np.where(subs == "high", "5G_PACK_50", "5G_PACK_30")
        con.register(
            "o",
            pa.table(
                {
                    "msisdn": ms[organic].astype(str),
                    "product_id": offer[organic],
                    "action": ["subscribe"] * int(organic.sum()),
                    "order_time": [NOON + dt.timedelta(days=9)] * int(organic.sum()),
                }
            ),
        )
        con.execute("CREATE TABLE orders AS SELECT * FROM o")
        months = [dt.date(2026, 10, 1), dt.date(2026, 12, 1)]
        con.execute(
            "CREATE TABLE billing_monthly AS SELECT msisdn, bill_month, 50.0 + (bill_month = DATE '2026-12-01')::INT * 10 "
            "AS arpu, 1000.0 AS dou_mb, 200.0 AS mou_min FROM (SELECT unnest(?) AS msisdn), (SELECT unnest(?) AS bill_month)",
            [list(ms.astype(str)), months],
        )
        con.execute(
            "CREATE TABLE regions AS SELECT * FROM (VALUES ('C01', 'city', NULL), ('C01K01', 'county', 'C01'), "
            "('C01K02', 'county', 'C01'), ('C01K01T01', 'township', 'C01K01'), ('C01K02T01', 'township', 'C01K02')) "
            "r(region_id, level, parent_id)"
        )
        con.execute(
            "CREATE TABLE subscribers AS SELECT msisdn, CASE WHEN right(msisdn, 1) < '5' THEN 'C01K01T01' ELSE 'C01K02T01' END "
            "AS home_region_id FROM (SELECT unnest(?) AS msisdn)",
            [list(ms.astype(str))],
        )
        rep = evaluate(led, d, t, con)
    o = rep.overall
    assert o.action_n == int(act.sum()) and o.control_n == int(t.control.sum())
    expected_action = int((act & (accept | organic)).sum())
    assert o.action_successes == expected_action
    assert o.control_successes == int((t.control & organic).sum())
    assert o.lift > 2.5 and o.p_value < 1e-4
    assert set(rep.by_sub_campaign["sub_campaign"]) == {"high", "low"}
    assert rep.contacts["contacts"].sum() == int(act.sum())
    arpu = rep.usage.filter((rep.usage["metric"] == "arpu") & (rep.usage["group"] == "control"))
    assert arpu["before"][0] == 50 and arpu["change"][0] == 10
    assert set(rep.by_branch["county"]) == {"C01K01", "C01K02"}
    assert rep.by_branch["action_n"].sum() == o.action_n
    assert rep.by_week["action_successes"].sum() == o.action_successes
    # the member outcomes an uplift model trains on reconcile with the comparison
    mem = rep.members.to_pydict()
    assert mem["msisdn"] == sorted(ms.astype(str).tolist())
    treated, took = np.array(mem["treated"]), np.array(mem["took"])
    assert treated.sum() == o.action_n and (treated & took).sum() == o.action_successes
    assert (~treated & took).sum() == o.control_successes
    assert set(mem["offer_id"]) == {"5G_PACK_50", "5G_PACK_30"}
    text = format_report(rep)
    assert "lift" in text and "by branch" in text


def test_minimum_detectable_effect_is_the_power_calculation() -> None:
    from tagcloud.campaigns.evaluate import minimum_detectable_effect

    # z(0.975) + z(0.80) = 2.8016; p = 100 / 2000; √(p(1−p)(1/1000 + 1/1000)) = 0.0097468
    assert abs(minimum_detectable_effect(1000, 1000, 100) - 0.027307) < 1e-5
    # four times the members halve it; no successes or an empty group leave nothing to size a test with
    assert abs(minimum_detectable_effect(4000, 4000, 400) - 0.027307 / 2) < 1e-5
    assert math.isinf(minimum_detectable_effect(1000, 1000, 0))
    assert math.isinf(minimum_detectable_effect(1000, 0, 10))


def test_small_samples_say_too_few_to_conclude() -> None:
    # The README's small demo: 0.430% of 1,628 targeted vs 0 of a random group of the same size.
    small = Comparison(1628, 7, 1628, 0)
    assert not small.conclusive and math.isinf(small.lift)
    v = small.verdict()
    assert v.startswith("too few to conclude") and "inf" not in v and "1,628" in v
    # The same rates at 100 times the size are a finding, printed with their counts.
    big = Comparison(162_800, 700, 162_800, 300)
    assert big.conclusive and big.verdict().startswith(f"{big.lift:.2f}×") and "162,800" in big.verdict()


def test_report_reads_as_tables_and_writes_markdown_and_xlsx(tmp_path: Path) -> None:
    import zipfile

    import polars as pl

    from tagcloud.campaigns.evaluate import (
        CampaignReport,
        report_markdown,
        report_sections,
        write_report_xlsx,
    )

    subs = pl.DataFrame(
        {"sub_campaign": ["high", "low"], "offer_id": ["P1", "P2"]}
    ).with_columns(
        pl.DataFrame([Comparison(5000, 250, 500, 10).as_dict(), Comparison(40, 2, 4, 0).as_dict()])
    )  # fmt: skip
    rep = CampaignReport(
        "C1",
        Comparison(5040, 252, 504, 10),
        subs,
        pl.DataFrame({"wave": [1], "channel": ["sms"], "status": ["delivered"], "contacts": [4_536]}),
        pl.DataFrame(),
        pl.DataFrame(),
        pl.DataFrame(),
        pl.DataFrame(),
        ["no orders table"],
    )
    text = format_report(rep)
    assert "shape:" not in text and "by sub-campaign" in text and "4,536" in text
    # the small sub-campaign's lift is not a number a manager could act on
    low = next(line for line in text.splitlines() if line.strip().startswith("low"))
    assert "too few to conclude" in low
    md = report_markdown(rep)
    assert "## by sub-campaign" in md and "| high | P1 | 5,000 | 250 |" in md
    path = write_report_xlsx(rep, tmp_path / "r.xlsx")
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
    assert len(sheets) == 1 + len(report_sections(rep))  # a summary, then one sheet per table
