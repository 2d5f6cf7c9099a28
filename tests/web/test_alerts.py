"""KPI alerts on the platform: rules refused with their reasons, the seed's story through the
loop with inbox messages and SMS over SMPP to the LocalSmsc, and every route × role × region."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.web.conftest import post

DAY = dt.date(2026, 9, 23)


@pytest.fixture
def smsc(settings: Any, tmp_path: Any) -> Any:
    from tagcloud.campaigns.channels.smsc import LocalSmsc
    from tagcloud.campaigns.demo import _free_port

    s = LocalSmsc(port=_free_port(), rate=1000, receipt_delay=0.01, journal=tmp_path / "smsc.jsonl").start()
    settings.ALERTS_SMSC = f"127.0.0.1:{s.port}"
    settings.ALERTS_KPI_DIR = str(tmp_path / "no-kpis")
    yield s
    s.stop()


@pytest.fixture
def chain(demo_accounts: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth.models import User

    from tagcloud.web.alerts.models import StaffContact

    users = {r: User.objects.get(username=a.username) for r, a in demo_accounts.items()}
    for i, r in enumerate(("township_manager", "county_marketer", "city_marketer")):
        StaffContact.objects.create(user=users[r], mobile=f"1390000{i:04d}")
    return users


def _rule(chain: dict[str, Any], **kw: Any) -> Any:
    from tagcloud.web.alerts.service import RuleInput

    base = dict(
        name="share", kpi="two_party_share", region_id="C01K01T01", level="township", kind="absolute",
        operator="<", threshold=70.0, reporter_id=chain["township_manager"].pk,
        reviewer_ids=[chain["county_marketer"].pk], owner_id=chain["city_marketer"].pk,
    )  # fmt: skip
    base.update(kw)
    return RuleInput(**base)  # type: ignore[arg-type]


def test_a_chain_with_a_missing_role_is_refused_with_the_reason(chain: dict[str, Any]) -> None:
    from tagcloud.web.alerts.models import AlertRule
    from tagcloud.web.alerts.service import RuleError, save_rule

    city = chain["city_marketer"]
    with pytest.raises(RuleError) as e:
        save_rule(_rule(chain, reviewer_ids=[]), city)
    assert any("no reviewer" in p for p in e.value.problems)
    with pytest.raises(RuleError) as e:
        save_rule(_rule(chain, owner_id=None), city)
    assert any("no final owner" in p for p in e.value.problems)
    with pytest.raises(RuleError) as e:  # the analyst may not handle alerts
        save_rule(_rule(chain, reviewer_ids=[chain["analyst"].pk]), city)
    assert any("handle_alert" in p for p in e.value.problems)
    with pytest.raises(RuleError) as e:  # a township manager cannot see the whole county
        save_rule(_rule(chain, region_id="C01K01"), city)
    assert any("outside their scope" in p for p in e.value.problems)
    assert AlertRule.objects.count() == 0
    assert save_rule(_rule(chain), city).pk


def test_the_rule_form_shows_the_reasons(chain: dict[str, Any], clients: dict[str, Any]) -> None:
    c = clients["city_marketer"]
    r = post(c, "/alerts/rules/", {"name": "x", "kpi": "revenue", "region": "C01K01T01", "level": "township",
                                    "kind": "absolute", "operator": "<", "threshold": "10",
                                    "reporter": chain["township_manager"].pk, "owner": chain["city_marketer"].pk})  # fmt: skip
    assert r.status_code == 400
    assert "no reviewer" in r.content.decode()


def test_the_seed_story_with_sms(chain: dict[str, Any], smsc: Any) -> None:
    from tagcloud.campaigns.channels.smsc import read_journal
    from tagcloud.regions.alerts import AlertFlowError
    from tagcloud.web.alerts import service
    from tagcloud.web.alerts.models import AlertEvent, InboxMessage, SmsNotice

    town, county, city = chain["township_manager"], chain["county_marketer"], chain["city_marketer"]
    a = service.raise_by_hand(city, "two_party_share", "C01K01T01", DAY, town.pk, [county.pk], city.pk, "")
    assert a.text.startswith("9月23日C01K01县公司的C01K01T01镇当日两方新增市场占有率为")
    journal = read_journal(smsc.journal)
    assert {m["to"] for m in journal} == {"13900000000", "13900000001", "13900000002"}
    sent = SmsNotice.objects.filter(alert=a, status="submitted")
    assert sent.count() == 3 and {n.text for n in sent} == {a.text}
    assert {n.message_id for n in sent} <= {m["message_id"] for m in journal}  # really reached the SMSC
    with pytest.raises(AlertFlowError):
        service.act(a, county, "approve")  # not the county's turn yet
    a = service.act(a, town, "report", "rival's campaign at the market")
    a = service.act(a, county, "return", "which outlets?")
    assert a.state == "returned"
    a = service.act(a, town, "revise", "3 outlets near the market, agents poached")
    a = service.act(a, county, "approve")
    assert a.state == "at_owner"
    a = service.act(a, city, "comment", "keep watching")
    a = service.act(a, city, "close", "ok", today=DAY)
    assert a.state == "tracking" and a.closed_on == DAY
    actions = list(AlertEvent.objects.filter(alert=a).values_list("action", "actor_name"))
    assert [x for x, _ in actions] == ["raise", "report", "return", "revise", "approve", "comment", "close"]
    assert InboxMessage.objects.filter(recipient=town, alert=a).count() >= 3  # raised, returned, closed
    texts = list(SmsNotice.objects.filter(alert=a).values_list("text", flat=True))
    assert any("退回修改" in t for t in texts) and any("结束流程" in t for t in texts)
    assert len(read_journal(smsc.journal)) == len(texts)
    assert service.end_tracking(DAY + dt.timedelta(days=a.tracking_days + 1)) == 1


ROUTES = ["/alerts/", "/alerts/history/", "/alerts/rules/", "/alerts/raise/"]
VIEWERS = {"province_admin", "city_marketer", "county_marketer", "township_manager"}
RULE_MAKERS = {"province_admin", "city_marketer", "county_marketer"}


@pytest.mark.parametrize("role", ["province_admin", "city_marketer", "county_marketer", "township_manager",
                                  "analyst", "approver", "channel_agent", "knowledge_editor"])  # fmt: skip
def test_routes_by_role(role: str, clients: dict[str, Any]) -> None:
    c = clients[role]
    for url in ROUTES:
        code = c.get(url).status_code
        allowed = role in (RULE_MAKERS if url in ("/alerts/rules/", "/alerts/raise/") else VIEWERS)
        assert code == (200 if allowed else 403), (role, url, code)


def test_an_alert_outside_the_scope_is_404(
    chain: dict[str, Any], smsc: Any, clients: dict[str, Any], outsider: dict[str, Any]
) -> None:
    from tagcloud.web.alerts import service

    town, county, city = chain["township_manager"], chain["county_marketer"], chain["city_marketer"]
    a = service.raise_by_hand(city, "revenue", "C01K01T01", DAY, town.pk, [county.pk], city.pk, "check")
    for role in ("province_admin", "city_marketer", "county_marketer", "township_manager"):
        assert clients[role].get(f"/alerts/{a.pk}/").status_code == 200
        assert outsider[role].get(f"/alerts/{a.pk}/").status_code == (
            200 if role == "province_admin" else 404
        )
        r = post(outsider[role], f"/alerts/{a.pk}/act/", {"action": "report", "text": "x"})
        assert r.status_code in ((403,) if role == "province_admin" else (404,))
    assert clients["analyst"].get(f"/alerts/{a.pk}/").status_code == 403
    # a participant acts through the page; a non-participant in scope cannot
    r = post(clients["county_marketer"], f"/alerts/{a.pk}/act/", {"action": "approve"})
    a.refresh_from_db()
    assert a.state == "raised"
    r = post(clients["township_manager"], f"/alerts/{a.pk}/act/", {"action": "report", "text": "agents"})
    assert r.status_code == 302
    a.refresh_from_db()
    assert a.state == "in_review"
    assert (
        post(
            clients["province_admin"], f"/alerts/{a.pk}/act/", {"action": "comment", "text": "x"}
        ).status_code
        == 403
    )
    page = clients["county_marketer"].get(f"/alerts/{a.pk}/").content.decode()
    assert "同意并上报" in page and "退回修改" in page
    hist = clients["city_marketer"].get("/alerts/history/?q=agents")
    assert hist.status_code == 200


def test_rules_outside_the_scope_are_not_listed(
    chain: dict[str, Any], clients: dict[str, Any], outsider: dict[str, Any]
) -> None:
    from tagcloud.web.alerts.service import save_rule

    save_rule(_rule(chain, name="西平规则"), chain["city_marketer"])
    assert "西平规则" in clients["county_marketer"].get("/alerts/rules/").content.decode()
    assert "西平规则" not in outsider["county_marketer"].get("/alerts/rules/").content.decode()
    assert "西平规则" in outsider["province_admin"].get("/alerts/rules/").content.decode()
    # and nobody saves a rule on a region outside their own scope
    r = post(outsider["city_marketer"], "/alerts/rules/", {"name": "x", "kpi": "revenue", "region": "C01K01T01",
             "level": "township", "kind": "absolute", "operator": "<", "threshold": "1"})  # fmt: skip
    assert r.status_code == 400 and "outside your scope" in r.content.decode()


@pytest.fixture(scope="module")
def market(tmp_path_factory: Any) -> dict[str, Any]:
    from tests.regions.conftest import market_province

    return market_province(tmp_path_factory.mktemp("demo-market"))


def test_demo_accounts_land_where_there_are_customers(market: dict[str, Any], db: Any, settings: Any) -> None:
    from tagcloud.web.accounts.demo import create_demo_users
    from tagcloud.web.reference.load import load_from_warehouse

    wh = market["warehouse"]
    settings.WAREHOUSE_DIR = wh.root
    load_from_warehouse(wh.root)
    accounts = {a.role: a for a in create_demo_users()}
    counts = dict(
        wh.connect().execute("SELECT home_region_id, count(*) FROM subscribers GROUP BY 1").fetchall()
    )
    town = accounts["township_manager"].region_id
    assert counts[town] == max(counts.values())  # the busiest township, not the first by id
    assert accounts["channel_agent"].region_id == town
    from tagcloud.web.reference.models import Region

    t = Region.objects.select_related("parent__parent").get(region_id=town)
    assert accounts["county_marketer"].region_id == t.parent.region_id  # type: ignore[union-attr]
    assert accounts["city_marketer"].region_id == t.parent.parent.region_id  # type: ignore[union-attr]


def test_english_alert_pages(chain: dict[str, Any], smsc: Any, clients: dict[str, Any]) -> None:
    from tagcloud.web.alerts import service

    town, county, city = chain["township_manager"], chain["county_marketer"], chain["city_marketer"]
    a = service.raise_by_hand(city, "two_party_share", "C01K01T01", DAY, town.pk, [county.pk], city.pk, "")
    c = clients["township_manager"]
    post(c, "/i18n/setlang/", {"language": "en", "next": "/alerts/"})
    page = c.get("/alerts/").content.decode()
    assert "two-party share of new additions" in page and "Waiting for me" in page
    detail = c.get(f"/alerts/{a.pk}/").content.decode()
    assert "Report" in detail and "Explanation (ranked by contribution)" in detail
