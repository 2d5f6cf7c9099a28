"""The campaign pages over the campaign library: design with two tiered sub-campaigns, SMS then
a call wave and 10% control; a city approver returns once then approves; run over SMPP to the
local SMSC; call list out, call results in; the evaluation page; the touchpoint REST endpoints."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest

from .conftest import post

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 2, 10, 0)


@pytest.fixture
def campaign_settings(settings: Any, tmp_path: Any, job_worker: Any) -> Any:
    """A fresh campaign database and work folder; county campaigns approved by the city."""
    settings.CAMPAIGN_DB = f"sqlite:///{tmp_path / 'campaigns.db'}"
    settings.CAMPAIGN_DIR = str(tmp_path / "campaigns")
    settings.CAMPAIGN_APPROVAL_CHAINS = {"county": ["city"]}
    return settings


@pytest.fixture
def city_approver(demo_accounts: dict[str, Any]) -> Any:
    """An approver assigned to the county marketer's city (C01)."""
    from django.contrib.auth.models import User
    from django.test import Client

    from tagcloud.web.accounts.models import Profile, Role

    u = User.objects.create_user("city_approver", password="pw-city-1234")
    Profile.objects.create(user=u, role=Role.objects.get(code="approver"), region_id="C01")
    c = Client(enforce_csrf_checks=True)
    c.force_login(u)
    return c


DESIGN = {
    "campaign_id": "WEB1",
    "name": "5G 升级",
    "condition": "arpu >= 40",
    "tier_attribute": "arpu",
    "tier_threshold": "80",
    "offer_high": "PL_5G128",
    "offer_rest": "FM_CAMPUS",
    "sms_script": "尊敬的客户(尾号{msisdn_tail}): 5G套餐, 回复KT办理",
    "call_after_days": "3",
    "call_script": "您好, 为您推荐5G套餐",
    "control_pct": "5",
    "priority": "5",
    "call_capacity": "100000",
    "start": START.strftime("%Y-%m-%dT%H:%M"),
}


def _run(client: Any, campaign_id: str, now: dt.datetime) -> str:
    """Press "run" and wait for the background pass; returns what the page reports."""
    import time

    from tagcloud.web.campaigns import service

    assert post(client, f"/campaigns/{campaign_id}/run/", {"now": now.isoformat()}).status_code == 302
    for _ in range(600):
        if not service.run_state(campaign_id).running:
            break
        time.sleep(0.1)
    return client.get(f"/campaigns/{campaign_id}/run-state/").content.decode()


def _store() -> Any:
    from tagcloud.web.campaigns import service

    return service.open_store()


def test_design_return_approve_run_evaluate(
    clients: dict[str, Any], city_approver: Any, campaign_settings: Any, warehouse: Any
) -> None:
    marketer = clients["county_marketer"]
    assert marketer.get("/campaigns/").status_code == 200
    r = post(marketer, "/campaigns/design/", {**DESIGN, "submit": "1"})
    assert r.status_code == 302 and r["Location"] == "/campaigns/WEB1/"
    with _store() as s:
        c = s.get("WEB1")
        d = s.design("WEB1")
    assert (c["state"], c["region_id"], c["waiting_for"]) == ("in_review", "C01K01", "city")
    assert [x.condition for x in d.sub_campaigns] == ["arpu >= 80", ""]
    assert [(w.channel.value, w.after_days) for w in d.waves] == [("sms", 0), ("outbound", 3)]

    # Locked while in review: the designer cannot save a new version.
    post(marketer, "/campaigns/design/", {**DESIGN, "name": "changed"})
    with _store() as s:
        assert s.get("WEB1")["version"] == 1

    # The city approver finds it in the inbox and returns it with a comment.
    assert "WEB1" in city_approver.get("/campaigns/").content.decode()
    assert post(city_approver, "/campaigns/WEB1/review/", {"decision": "return"}).status_code == 302
    with _store() as s:
        assert s.get("WEB1")["state"] == "in_review"  # a return without a comment is refused
    post(city_approver, "/campaigns/WEB1/review/", {"decision": "return", "comment": "对照组请用10%"})
    with _store() as s:
        assert s.get("WEB1")["state"] == "returned"
    page = marketer.get("/campaigns/WEB1/").content.decode()
    assert "对照组请用10%" in page and 'id="design-form"' in page

    post(marketer, "/campaigns/design/", {**DESIGN, "control_pct": "10", "note": "10%", "submit": "1"})
    post(city_approver, "/campaigns/WEB1/review/", {"decision": "approve", "comment": "ok"})
    with _store() as s:
        assert s.get("WEB1")["state"] == "approved"
        assert [v["version"] for v in s.versions("WEB1")] == [1, 2]
        assert s.design("WEB1").control_share == 0.10
    assert "v1" in marketer.get("/campaigns/WEB1/?version=1").content.decode()

    # Day 0: the SMS wave goes over SMPP to the local SMSC.
    state = _run(marketer, "WEB1", START)
    assert "SMS submitted" in state and "done" in state
    from tagcloud.web.campaigns import service

    with service.open_ledger() as led:
        sent = dict(
            led.db.q("SELECT status, count(*) FROM contacts WHERE campaign_id='WEB1' AND wave=0 GROUP BY 1")
        )
    target = service.target_of(service.open_store().design("WEB1"), engine_scope(warehouse))
    assert sent.get("control") == int(target.control.sum()) > 0
    assert sum(v for k, v in sent.items() if k in ("submitted", "delivered")) == int((~target.control).sum())

    # Day 3: the call list of non-responders; download it, answer a third "accepted", upload.
    assert "calls listed" in _run(marketer, "WEB1", START + dt.timedelta(days=3))
    names = service.call_lists("WEB1")
    assert len(names) == 1
    got = marketer.get(f"/campaigns/WEB1/calls/{names[0].name}")
    assert got.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(got.streaming_content).decode())))
    assert len(rows) == int((~target.control).sum())
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["contact_id", "result"])
    for i, row in enumerate(rows):
        w.writerow([row["contact_id"], "accepted" if i % 3 == 0 else "refused"])
    # A results file naming contacts of another campaign is refused whole.
    bad = io.BytesIO(f"contact_id,result\n{rows[0]['contact_id']},accepted\n999999,accepted\n".encode())
    bad.name = "bad.csv"
    post(marketer, "/campaigns/WEB1/call-results/", {"results": bad})
    assert "not in campaign WEB1: [999999]" in marketer.get("/campaigns/WEB1/").content.decode()
    up = io.BytesIO(out.getvalue().encode())
    up.name = "results.csv"
    post(marketer, "/campaigns/WEB1/call-results/", {"results": up, "now": START.isoformat()})
    with service.open_ledger() as led:
        accepted = led.db.q("SELECT count(*) FROM responses WHERE campaign_id='WEB1' AND outcome='accepted'")
    assert accepted[0][0] == len(range(0, len(rows), 3))

    page = marketer.get("/campaigns/WEB1/evaluation/").content.decode()
    assert 'id="lift-value"' in page and "p =" in page
    with service.open_ledger() as led, _store() as s:
        from tagcloud.campaigns.evaluate import evaluate

        rep = evaluate(led, s.design("WEB1"), target, None)
    o = rep.overall
    assert o.action_successes == len(range(0, len(rows), 3)) and o.control_successes == 0
    # No success in the control: either "∞" or, when the groups are too small to tell, no ratio at all.
    shown = "∞" if o.conclusive else "too few to conclude"
    assert f'<span id="lift-value">{shown}</span>' in page.replace(
        "样本太少, 无法下结论", "too few to conclude"
    )
    assert f'p = <span id="p-value">{o.p_value:.4f}' in page

    # Out of region: a county marketer elsewhere sees no such campaign.
    assert clients["township_manager"].get("/campaigns/WEB1/").status_code == 403


def engine_scope(warehouse: Any) -> Any:
    from .conftest import engine

    return engine(warehouse, scope="county_id = 'C01K01'")


def test_bad_design_is_refused_with_the_field(clients: dict[str, Any], campaign_settings: Any) -> None:
    marketer = clients["county_marketer"]
    r = post(marketer, "/campaigns/design/", {**DESIGN, "tier_attribute": "brand"})
    assert r.status_code == 200 and "tier_attribute" in r.content.decode()
    r = post(marketer, "/campaigns/design/", {**DESIGN, "control_pct": "150"})
    assert "control_share" in r.content.decode()
    with _store() as s:
        assert not s.db.q("SELECT 1 FROM campaigns")


def test_touchpoint_offers_and_feedback(
    clients: dict[str, Any], demo_accounts: dict[str, Any], campaign_settings: Any, warehouse: Any
) -> None:
    from tagcloud.campaigns.design import CampaignDesign, SubCampaign, Wave
    from tagcloud.campaigns.workflow import Actor
    from tagcloud.web.campaigns import service

    from .conftest import engine, number_in

    d = CampaignDesign(
        campaign_id="HALL1", name="营业厅推荐", region_id="C01K01", target="township_id = 'C01K01T01'",
        sub_campaigns=[SubCampaign(name="all", offer_id="PL_5G128", scripts={"hall": "推荐5G套餐, 尾号{msisdn_tail}"})],
        waves=[Wave(channel="hall")], start=dt.datetime.now() - dt.timedelta(hours=1), control_share=0.0,
    )  # fmt: skip
    who = Actor(demo_accounts["county_marketer"].username, "county", "C01K01")
    with _store() as s:
        s.create(d, who)
        s.submit("HALL1", who)
        s.approve("HALL1", Actor("c", "city", "C01", can_approve=True))
    service.run("HALL1", engine(warehouse, scope="county_id = 'C01K01'"), dt.datetime.now())
    n = number_in(warehouse, "township_id = 'C01K01T01'")
    agent = clients["channel_agent"]
    token = agent.get("/login/") and agent.cookies["csrftoken"].value
    r = agent.post(
        "/api/touchpoints/offers", {"msisdn": n, "channel": "hall"}, content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )  # fmt: skip
    assert r.status_code == 200, r.content
    body = r.json()
    assert [o["offer_id"] for o in body["offers"]] == ["PL_5G128"] and n[-4:] in body["offers"][0]["script"]
    assert n not in r.content.decode()  # masked
    fb = agent.post(
        "/api/touchpoints/feedback",
        {"contact_id": body["offers"][0]["contact_id"], "channel": "hall", "outcome": "accepted"},
        content_type="application/json", HTTP_X_CSRFTOKEN=token,
    )  # fmt: skip
    assert fb.status_code == 200
    again = agent.post(
        "/api/touchpoints/offers", {"msisdn": n, "channel": "hall"}, content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    ).json()  # fmt: skip
    assert again["offers"] == [] and any(
        (h["event"], h["status"]) == ("response", "accepted") for h in again["history"]
    )
    # A number outside the agent's township is answered like an unknown one.
    other = number_in(warehouse, "township_id = 'C02K01T01'")
    r = agent.post(
        "/api/touchpoints/offers", {"msisdn": other, "channel": "hall"}, content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )  # fmt: skip
    assert r.status_code == 404
