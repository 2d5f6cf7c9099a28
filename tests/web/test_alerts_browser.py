"""The done-when story of the KPI alerts in headless chromium: on a simulated province with the
planted anomalies, the city's rule raises the competitor's-campaign alert of the township; the
township manager gets the SMS (LocalSmsc journal), reports; the county returns it once; he revises
and reports again; the county approves, the city closes it; the tracking chart shows the course.
Screenshots go to docs/screenshots/."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from .conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def province(tmp_path_factory: Any) -> dict[str, Any]:
    from tests.regions.conftest import market_province

    # big enough that the busiest township has the rule's minimum volume of new numbers a day
    return market_province(tmp_path_factory.mktemp("alerts-province"), subscribers=12_000)


def _act(page: Any, base: str, pk: int, action: str, text: str = "") -> None:
    page.goto(f"{base}/alerts/{pk}/")
    if text:
        page.fill("#act-form textarea[name=text]", text)
    page.click(f"#do-{action}")
    page.wait_for_selector("#state")


def test_the_planted_township_alert_through_the_loop(
    page: Any, browser: Any, live_server: Any, province: dict[str, Any], settings: Any, tmp_path: Any
) -> None:
    from django.contrib.auth.models import User

    from tagcloud.campaigns.channels.smsc import LocalSmsc, read_journal
    from tagcloud.campaigns.demo import _free_port
    from tagcloud.sim.market import load_anomalies
    from tagcloud.web.accounts.demo import create_demo_users
    from tagcloud.web.alerts.demo import demo_rules
    from tagcloud.web.alerts.models import StaffContact
    from tagcloud.web.alerts.service import evaluate_day
    from tagcloud.web.reference.load import load_from_warehouse

    wh = province["warehouse"]
    settings.WAREHOUSE_DIR = wh.root
    load_from_warehouse(wh.root)
    accounts = {a.role: a for a in create_demo_users()}
    campaign = next(a for a in load_anomalies(province["truth"]) if a.kind == "competitor_campaign")
    # the demo lands the township manager where the competitor's campaign was planted
    assert accounts["township_manager"].region_id == campaign.region_id
    smsc = LocalSmsc(
        port=_free_port(), rate=1000, receipt_delay=0.01, journal=tmp_path / "smsc.jsonl"
    ).start()
    settings.ALERTS_SMSC = f"127.0.0.1:{smsc.port}"
    try:
        demo_rules()
        raised = [a for d in province["store"].days() for a in evaluate_day(d)]
        first = dt.date.fromisoformat(campaign.first_day)
        planted = [a for a in raised if a.place_id == campaign.region_id and a.day >= first]
        course = province["store"].values(
            "two_party_share", province["store"].days(), region_ids=[campaign.region_id]
        )
        assert planted, f"not raised: {[(a.day, a.place_id) for a in raised]}; share {course.to_pylist()}"
        alert = planted[0]
        manager = User.objects.get(username=accounts["township_manager"].username)
        mobile = StaffContact.objects.get(user=manager).mobile
        assert mobile in {m["to"] for m in read_journal(smsc.journal)}  # the manager got the SMS
        assert "两方新增市场占有率" in alert.text and "低于50.0%" in alert.text

        base = live_server.url
        town, county, city = (accounts[r] for r in ("township_manager", "county_marketer", "city_marketer"))
        login(page, base, town.username, town.password)
        page.goto(f"{base}/alerts/")
        assert alert.text[:20] in page.inner_text("body")
        screenshot(page, "alerts-township-inbox")
        page.goto(f"{base}/alerts/{alert.pk}/")
        page.wait_for_selector("#tracking-chart[data-ready='1']")
        assert page.locator("table.drill").count() >= 2  # drill-down by sub-region, channel …
        screenshot(page, "alerts-raised")
        _act(page, base, alert.pk, "report", "联通在集市开展新入网送话费活动")

        ctx = browser.new_context(viewport={"width": 1360, "height": 860}, locale="zh-CN")
        cpage = ctx.new_page()
        login(cpage, base, county.username, county.password)
        _act(cpage, base, alert.pk, "return", "请说明涉及的网点和应对措施")
        _act(page, base, alert.pk, "revise", "集市周边3个代理网点被挖角; 已驻点并推出专项优惠")
        _act(cpage, base, alert.pk, "approve")
        ctx.close()

        ctx = browser.new_context(viewport={"width": 1360, "height": 860}, locale="zh-CN")
        ypage = ctx.new_page()
        login(ypage, base, city.username, city.password)
        _act(ypage, base, alert.pk, "close", "同意, 进入跟踪期")
        alert.refresh_from_db()
        assert alert.state == "tracking"
        assert [e.action for e in alert.events.all()] == [
            "raise",
            "report",
            "return",
            "revise",
            "approve",
            "close",
        ]
        ypage.goto(f"{base}/alerts/{alert.pk}/")
        ypage.wait_for_selector("#tracking-chart[data-ready='1']")
        series = ypage.evaluate("JSON.parse(document.getElementById('tracking-data').textContent)")
        after = [
            v
            for d, v in zip(series["days"], series["values"], strict=True)
            if d > campaign.last_day and v is not None
        ]
        assert after and max(after) >= 50.0  # the share recovered above the threshold after the campaign
        screenshot(ypage, "alerts-closed-tracking")
        ctx.close()
        assert len(read_journal(smsc.journal)) >= 6  # raised ×3, report, return, revise, approve, close
    finally:
        smsc.stop()
