"""Issue 6's done-when in headless chromium, on a small simulated province: a county marketer
designs a campaign with two tiered sub-campaigns, SMS then an outbound-call wave and a 10% control
group; a city approver returns it once and then approves it; it executes over SMPP (local SMSC);
the simulated responses arrive; the evaluation shows the lift against control. Screenshots go to
docs/screenshots/campaign-*.png."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

START = dt.datetime(2026, 9, 16, 10, 0)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated province of 6,000 subscribers × 3 days: a county of ~1,200, enough that the
    simulator's response rates (well under 1% per contact) give a few successes to evaluate."""
    from tagcloud.sim.simulate import simulate

    out = tmp_path_factory.mktemp("campaign_province")
    simulate(out, subscribers=6000, days=3, seed=11, quiet=True)
    return out


@pytest.fixture(scope="module")
def sim_warehouse(province: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The province ingested, built and indexed (what `tagcloud demo` does)."""
    from tagcloud.audience.indexer import build_index
    from tagcloud.data.ingest import IngestOptions, ingest
    from tagcloud.tags.build import build

    wh = tmp_path_factory.mktemp("campaign_wh")
    ingest(province, wh, IngestOptions(quiet=True))
    build(wh, skip_missing_models=True, quiet=True)
    build_index(wh, quiet=True)
    return wh


def _fill_design(page: Any, control: str) -> None:
    page.fill("#design-form input[name=name]", "5G 升级: 高 ARPU 5G升级 / 其余 10G流量包")
    page.fill("#design-form input[name=condition]", "arpu_3m >= 20")
    page.fill("#design-form input[name=start]", START.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#design-form input[name=priority]", "5")
    page.fill("#design-form input[name=control_pct]", control)
    page.select_option("#design-form select[name=tier_attribute]", "arpu_3m")
    page.fill("#design-form input[name=tier_threshold]", "80")
    page.fill("#design-form input[name=offer_high]", "G5_UP")
    page.fill("#design-form input[name=offer_rest]", "DP_10G")
    page.fill("#design-form textarea[name=sms_script]", "尊敬的客户(尾号{msisdn_tail}): 专属优惠, 回复KT办理")
    page.fill("#design-form input[name=call_after_days]", "3")
    page.fill("#design-form input[name=call_capacity]", "5000")
    page.fill("#design-form textarea[name=call_script]", "您好, 我是10086客户经理, 为您推荐……")


def test_done_when_in_the_browser(
    browser: Any, page: Any, live_server: Any, settings: Any, province: Path, sim_warehouse: Path, job_worker: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    from django.contrib.auth.models import User

    from tagcloud.campaigns.demo import _answer_calls
    from tagcloud.campaigns.evaluate import evaluate
    from tagcloud.sim.truth import GroundTruth
    from tagcloud.web.accounts.demo import create_demo_users
    from tagcloud.web.accounts.models import Profile, Role
    from tagcloud.web.campaigns import service
    from tagcloud.web.reference.load import load_from_warehouse

    settings.WAREHOUSE_DIR = sim_warehouse
    settings.SIM_DIR = str(province)
    settings.CAMPAIGN_APPROVAL_CHAINS = {"county": ["city"]}
    load_from_warehouse(sim_warehouse)
    accounts = {a.role: a for a in create_demo_users()}
    marketer = accounts["county_marketer"]
    city = Profile.objects.get(user__username=marketer.username).region.parent_id
    u = User.objects.create_user("city_approver", password="pw-city-1234")
    Profile.objects.create(user=u, role=Role.objects.get(code="approver"), region_id=city)
    base = live_server.url

    # The county marketer designs the campaign and submits it.
    login(page, base, marketer.username, marketer.password)
    page.click("header >> text=营销活动")
    page.fill("#design-form input[name=campaign_id]", "UP5G")
    _fill_design(page, "5")
    screenshot(page, "campaign-design")
    page.click("#design-form button[name=submit]")
    page.wait_for_selector("#state:has-text('in_review')")

    # The city approver returns it with a comment.
    ctx = browser.new_context(viewport={"width": 1360, "height": 860}, locale="zh-CN")
    boss = ctx.new_page()
    login(boss, base, "city_approver", "pw-city-1234")
    boss.click("header >> text=营销活动")
    boss.click("#inbox a:has-text('UP5G')")
    boss.fill("#review input[name=comment]", "对照组请用10%, 评估才干净")
    boss.click("#review button[value=return]")
    boss.wait_for_selector("#state:has-text('returned')")

    # The marketer sees the comment, sets 10% control and resubmits; the approver approves.
    page.goto(f"{base}/campaigns/UP5G/")
    assert "对照组请用10%" in page.inner_text("#approvals")
    page.fill("#design-form input[name=control_pct]", "10")
    page.fill("#design-form input[name=note]", "对照组 10%")
    page.click("#design-form button[name=submit]")
    page.wait_for_selector("#state:has-text('in_review')")
    boss.goto(f"{base}/campaigns/")
    boss.click("#inbox a:has-text('UP5G')")
    screenshot(boss, "campaign-review")
    boss.fill("#review input[name=comment]", "同意")
    boss.click("#review button[value=approve]")
    boss.wait_for_selector("#state:has-text('approved')")
    ctx.close()

    # Day 0: SMS over SMPP to the local SMSC; the simulated subscribers answer.
    page.goto(f"{base}/campaigns/UP5G/")
    page.fill("#run input[name=now]", START.strftime("%Y-%m-%dT%H:%M"))
    page.click("#run button")
    page.wait_for_selector("#run-state.done:has-text('SMS submitted')", timeout=120_000)
    page.click("#simulate button")
    page.wait_for_selector(".messages:has-text('simulated acceptances')")

    # Day 3: the call list for non-responders, downloaded; the call centre's results uploaded.
    page.fill("#run input[name=now]", (START + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#run button")
    page.wait_for_selector("#run-state.done:has-text('calls listed')", timeout=120_000)
    page.reload()
    with page.expect_download() as dl:
        page.click("#call-lists a")
    calls = tmp_path / "calls.csv"
    dl.value.save_as(calls)
    results = tmp_path / "results.csv"
    _answer_calls(GroundTruth.load(province), calls, results, START + dt.timedelta(days=3), 0)
    page.set_input_files("#call-results input[name=results]", str(results))
    page.click("#call-results button")
    page.wait_for_selector(".messages:has-text('call results')")
    screenshot(page, "campaign-run")

    # The evaluation: action vs control, lift, CI and p-value, charts.
    page.click("text=效果评估")
    page.wait_for_selector(".chart svg")
    screenshot(page, "campaign-evaluation")
    with service.open_store() as store, service.open_ledger() as ledger:
        d = store.design("UP5G")
        from tagcloud.campaigns.execute import Target

        target = Target.load(service.work_dir() / "targets" / "UP5G.target.parquet")
        from tagcloud.data.warehouse import Warehouse

        report = evaluate(ledger, d, target, Warehouse(sim_warehouse).connect())
    assert d.control_share == 0.10 and target.control.sum() > 0
    assert report.overall.action_successes > 0
    o = report.overall
    shown = (f"{o.lift:.2f}" if o.control_successes else "∞") if o.conclusive else "样本太少, 无法下结论"
    assert page.inner_text("#lift-value") == shown
    assert page.inner_text("#p-value") == f"{o.p_value:.4f}"
