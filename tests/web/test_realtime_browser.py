"""The real-time rule and the agent's page in headless chromium: a county marketer writes a
"roaming into Guangdong" rule (the condition checked as typed, with the closest name), tests it on
yesterday's events, submits it; a city approver approves; the marketer switches it on; the event
worker fires it (an SMS over SMPP to a local SMSC); the 10086 agent's page shows the offer with its
script and the earlier SMS; "considering" at 10086 shows in the hall; acceptance in the hall stops it
everywhere."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import engine, login, screenshot

pytestmark = pytest.mark.browser


def test_rule_to_agent_in_the_browser(
    browser: Any, page: Any, live_server: Any, settings: Any, demo_accounts: dict[str, Any],
    warehouse: Path, tmp_path: Path,
) -> None:  # fmt: skip
    from django.contrib.auth.models import User

    from tagcloud.campaigns.channels.smpp import SmppClient
    from tagcloud.campaigns.channels.smsc import LocalSmsc, read_journal
    from tagcloud.campaigns.policy import ContactLedger
    from tagcloud.realtime.bus import SqliteBus
    from tagcloud.realtime.engine import SubscriberTable
    from tagcloud.realtime.evaluate import backtest, read_events
    from tagcloud.realtime.events import Event, EventType, Lateness
    from tagcloud.realtime.rulestore import RuleStore
    from tagcloud.realtime.worker import Worker
    from tagcloud.web.accounts.models import Profile, Role
    from tagcloud.web.campaigns import service as campaigns
    from tagcloud.web.realtime import service

    from .test_realtime_api import _memory  # noqa: F401 - the same memory isolation

    settings.TOUCHPOINT_MEMORY = f"sqlite:///{tmp_path / 'memory.db'}"
    settings.CAMPAIGN_APPROVAL_CHAINS = {"county": ["city"]}
    service.forget()
    # yesterday's events: roaming into Guangdong (and back home) for subscribers of the county
    eng = engine(warehouse, unmask=True)
    nums = [str(x) for x in eng.list_members("county_id = 'C01K01'", limit=400)["msisdn"]]
    yesterday = dt.datetime.combine(dt.date.today() - dt.timedelta(days=1), dt.time(10))
    events = [
        Event(f"y{k}", EventType.ROAM_IN, n, yesterday + dt.timedelta(minutes=k),
              {"province": "guangdong" if k % 3 else "hunan", "city": "gz", "other_province": True})
        for k, n in enumerate(nums)
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(e.to_json() for e in events))
    settings.REALTIME_EVENTS = str(path)
    marketer = demo_accounts["county_marketer"]
    u = User.objects.create_user("city_approver", password="pw-city-1234")
    Profile.objects.create(user=u, role=Role.objects.get(code="approver"), region_id="C01")
    base = live_server.url

    # The marketer writes the rule; a misspelt name gets the closest one as a hint.
    login(page, base, marketer.username, marketer.password)
    page.click("header >> text=实时营销")
    page.click("#new-rule")
    page.fill("input[name=rule_id]", "roam_gd")
    page.fill("input[name=name]", "漫游进入广东")
    page.fill("#condition", "event.province = 'guangdong' AND arpuu >= 50")
    page.wait_for_selector("#cond-check .cond-error")
    assert "arpu" in page.inner_text("#cond-check code")
    screenshot(page, "realtime-rule-form")
    page.fill("#condition", "event.province = 'guangdong' AND arpu >= 50")
    page.wait_for_selector("#cond-ok")
    page.fill("input[name=offer_id]", "ROAM_GD_30")
    page.fill("textarea[name=script]", "欢迎来到广东! 尾号{msisdn_tail}客户可办理30元漫游包, 回复Y办理")
    page.check("input[name=channels][value='10086']")
    page.check("input[name=channels][value=hall]")
    page.fill("input[name=control_pct]", "0")
    page.fill("input[name=valid_from]", (dt.date.today() - dt.timedelta(days=7)).isoformat())
    page.fill("input[name=priority]", "5")
    page.click("#save-rule")
    page.wait_for_selector("#state:has-text('draft'), #form-error")
    assert page.locator("#form-error").count() == 0, page.inner_text("#form-error")

    # Tested on yesterday's events: the page's count is the library's backtest.
    page.click("#run-backtest")
    page.wait_for_selector("#backtest-result")
    with RuleStore(campaigns.db_url()) as store:
        design = store.design("roam_gd")
    expect = backtest(design, read_events(path), SubscriberTable.from_warehouse(warehouse, ["arpu"]))
    assert expect.fired > 0 and expect.subscribers > 0
    got = page.locator("#backtest-result")
    assert (int(got.get_attribute("data-fired") or -1), int(got.get_attribute("data-subscribers") or -1)) == (
        expect.fired, expect.subscribers,
    )  # fmt: skip
    assert f"将触发 {expect.fired} 次" in got.inner_text()
    screenshot(page, "realtime-rule-tested")
    page.click("#submit-rule")
    page.wait_for_selector("#state:has-text('submitted')")

    # The city approver approves it.
    ctx = browser.new_context(viewport={"width": 1360, "height": 860}, locale="zh-CN")
    boss = ctx.new_page()
    login(boss, base, "city_approver", "pw-city-1234")
    boss.goto(f"{base}/realtime/rules/")
    boss.click("#inbox >> text=漫游进入广东")
    boss.click("#approve-rule")
    boss.wait_for_selector("#state:has-text('approved')")
    ctx.close()

    # The marketer switches it on: the worker picks it up without a restart.
    page.reload()
    page.click("#activate-rule")
    page.wait_for_selector("#state:has-text('active')")
    screenshot(page, "realtime-rule-active")

    # A subscriber of the agent's township roams into Guangdong today: an SMS over SMPP.
    n = str(eng.list_members("township_id = 'C01K01T01' AND arpu >= 50", limit=1)["msisdn"][0])
    bus = SqliteBus(f"sqlite:///{tmp_path / 'bus.db'}")
    now = dt.datetime.now().replace(microsecond=0)
    bus.publish([Event("t1", EventType.ROAM_IN, n, now - dt.timedelta(minutes=5),
                       {"province": "guangdong", "city": "gz", "other_province": True}).to_json()])  # fmt: skip
    journal = tmp_path / "smsc.jsonl"
    with (
        ContactLedger(campaigns.db_url()) as ledger,
        RuleStore(campaigns.db_url()) as rules,
        LocalSmsc(port=_free_port(), rate=2000, receipt_delay=0.01, journal=journal) as smsc,
        SmppClient("127.0.0.1", smsc.port, rate=2000) as smpp,
    ):
        w = Worker(bus, ledger, rules, SubscriberTable.from_warehouse(warehouse, ["arpu"]), smpp=smpp,
                   lateness=Lateness(max_future=dt.timedelta(hours=1)))  # fmt: skip
        w.run(idle_timeout=0.5, poll=0.05)
        # quiet hours defer the SMS: a test run at night sees it reserved, by day submitted
        sms = ledger.db.q("SELECT status FROM contacts WHERE msisdn=? AND channel='sms'", (n,))
    bus.close()
    assert len(sms) == 1
    if sms[0][0] != "reserved":
        assert any(n in json.dumps(x, ensure_ascii=False) for x in read_journal(journal))

    # The 10086 agent sees the offer with its script and the SMS that went before.
    agent = demo_accounts["channel_agent"]
    ctx = browser.new_context(viewport={"width": 1360, "height": 860}, locale="zh-CN")
    desk = ctx.new_page()
    login(desk, base, agent.username, agent.password)
    desk.goto(f"{base}/realtime/agent/")
    desk.fill("#lookup input[name=msisdn]", n)
    desk.select_option("#lookup select[name=channel]", "10086")
    desk.click("#lookup button[type=submit]")
    offer = desk.locator("#offers .offer[data-offer=ROAM_GD_30]")
    assert f"尾号{n[-4:]}客户可办理30元漫游包" in offer.inner_text()
    assert "sms" in desk.inner_text("#history") and "rule:roam_gd" in desk.inner_text("#history")
    screenshot(desk, "realtime-agent-10086")
    offer.locator("button[value=considering]").click()
    desk.wait_for_selector("#recorded")
    # The subscriber walks into the hall: the hall sees "considering at 10086", and sells it.
    desk.select_option("#lookup select[name=channel]", "hall")
    desk.click("#lookup button[type=submit]")
    hall = desk.locator("#offers .offer[data-offer=ROAM_GD_30]")
    assert "considered at 10086 today" in hall.inner_text()
    assert "今天在10086表示考虑" in desk.inner_text("#memory")
    screenshot(desk, "realtime-agent-hall")
    hall.locator("button[value=accepted]").click()
    desk.wait_for_selector("#recorded")
    # Every channel stops offering it.
    for ch in ("10086", "hall"):
        desk.select_option("#lookup select[name=channel]", ch)
        desk.click("#lookup button[type=submit]")
        assert desk.locator("#offers .offer[data-offer=ROAM_GD_30]").count() == 0
        assert "ROAM_GD_30 (accepted_offer)" in desk.inner_text("#excluded")
    ctx.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
