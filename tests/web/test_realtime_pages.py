"""Real-time pages through the test client: the rule form refuses bad input naming the field and
keeps nothing; the live condition check gives the closest name; roles and regions are enforced;
the key page shows a secret once; the agent's page answers only inside the agent's region."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from .conftest import number_in, post

FORM = {
    "rule_id": "roam_gd", "name": "漫游进入广东", "event_type": "roam_in",
    "condition": "event.province = 'guangdong' AND arpu >= 100", "offer_id": "ROAM_GD_30",
    "script": "欢迎来到广东, 尾号{msisdn_tail}", "channels": ["sms", "10086"], "priority": "5",
    "cap_per_subscriber": "1", "cap_period_days": "30", "valid_from": "2026-01-01", "valid_until": "2027-12-31",
    "window_start": "00:00", "window_end": "23:59:59", "control_pct": "10",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _memory(settings: Any, tmp_path: Any) -> Any:
    from tagcloud.web.realtime import service

    settings.TOUCHPOINT_MEMORY = f"sqlite:///{tmp_path / 'memory.db'}"
    yield
    service.forget()


def test_rule_form_and_check(clients: dict[str, Any]) -> None:
    from tagcloud.web.realtime.views import open_rules

    m = clients["county_marketer"]
    r = post(m, "/realtime/rules/check/", {"condition": "arpuu >= 100", "event_type": "roam_in"})
    assert r.status_code == 200 and "<code>arpu</code>" in r.content.decode()
    r = post(m, "/realtime/rules/check/", {"condition": "event.provinc = 'x'", "event_type": "roam_in"})
    assert "event.province" in r.content.decode()
    assert (
        "cond-ok"
        in post(
            m, "/realtime/rules/check/", {"condition": FORM["condition"], "event_type": "roam_in"}
        ).content.decode()
    )
    r = post(m, "/realtime/rules/new/", {**FORM, "condition": "arpuu >= 100"})
    assert r.status_code == 400 and "condition" in r.content.decode()
    r = post(m, "/realtime/rules/new/", {**FORM, "valid_until": "2025-01-01"})
    assert r.status_code == 400 and "valid_until" in r.content.decode()
    with open_rules() as store:
        assert store.rules() == []
    r = post(m, "/realtime/rules/new/", FORM)
    assert r.status_code == 302, r.content.decode()[:3000]
    with open_rules() as store:
        got = store.get("roam_gd")
        assert (got["state"], got["region_id"]) == ("draft", "C01K01")
    page = m.get("/realtime/rules/roam_gd/").content.decode()
    assert "v1" in page and "submit-rule" in page
    # a township manager holds neither rule permission; an outsider's marketer does not see it
    assert clients["township_manager"].get("/realtime/rules/").status_code == 403


def test_keys_page_shows_the_secret_once(clients: dict[str, Any]) -> None:
    from tagcloud.web.realtime.models import ApiKey

    admin = clients["province_admin"]
    r = post(
        admin,
        "/realtime/keys/",
        {"action": "create", "name": "10086 CRM", "channels": ["10086"], "region": "C01"},
    )
    assert r.status_code == 200
    key = ApiKey.objects.get()
    text = r.content.decode().split('id="key-text">')[1].split("<")[0]
    assert ApiKey.find(text) == (key, "")
    assert text not in admin.get("/realtime/keys/").content.decode()  # shown once
    post(admin, "/realtime/keys/", {"action": "revoke", "key": key.pk})
    assert ApiKey.find(text)[1] == "revoked key"
    assert clients["county_marketer"].get("/realtime/keys/").status_code == 403


def test_agent_page_in_region_only(clients: dict[str, Any], warehouse: Any) -> None:
    agent = clients["channel_agent"]
    n = number_in(warehouse, "township_id = 'C01K01T01'")
    r = post(agent, "/realtime/agent/", {"msisdn": n, "channel": "10086"})
    assert r.status_code == 200 and 'id="offers"' in r.content.decode()
    other = number_in(warehouse, "township_id = 'C02K01T01'")
    assert post(agent, "/realtime/agent/", {"msisdn": other, "channel": "10086"}).status_code == 404
    assert clients["analyst"].get("/realtime/agent/").status_code == 403
    _ = dt


def test_english_pages_show_no_chinese(clients: dict[str, Any], warehouse: Any) -> None:
    from .conftest import REGIONS, synth_regions
    from .test_i18n import _english, chinese_shown

    m = _english(clients["county_marketer"])
    assert post(m, "/realtime/rules/new/", FORM).status_code == 302
    admin = _english(clients["province_admin"])
    agent = _english(clients["channel_agent"])
    n = number_in(warehouse, "township_id = 'C01K01T01'")
    pages = {
        "rules": m.get("/realtime/rules/"),
        "rule": m.get("/realtime/rules/roam_gd/"),
        "form": m.get("/realtime/rules/new/"),
        "edit": m.get("/realtime/rules/roam_gd/edit/"),
        "check": post(m, "/realtime/rules/check/", {"condition": "arpuu >= 1", "event_type": "roam_in"}),
        "keys": admin.get("/realtime/keys/"),
        "agent": post(agent, "/realtime/agent/", {"msisdn": n, "channel": "10086"}),
    }
    data = {FORM["name"], FORM["script"]} | {r["name"] for r in REGIONS + synth_regions()}
    found = {k: chinese_shown(r.content.decode(), data) for k, r in pages.items()}
    assert all(r.status_code == 200 for r in pages.values()), {k: r.status_code for k, r in pages.items()}
    assert not any(found.values()), found


def test_keys_in_the_admin(clients: dict[str, Any]) -> None:
    from tagcloud.web.realtime.models import ApiKey

    admin = clients["province_admin"]
    r = post(
        admin,
        "/admin/realtime/apikey/add/",
        {"name": "web hall", "channels": '["web_hall"]', "region": "C01"},
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    key = ApiKey.objects.get(name="web hall")
    shown = [str(m) for m in admin.get("/admin/realtime/apikey/").context["messages"]]
    text = next(s.split(": ")[-1] for s in shown if "tck_" in s)
    assert ApiKey.find(text) == (key, "") and key.channels == ["web_hall"]
    r = post(admin, "/admin/realtime/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert r.status_code == 302 and ApiKey.find(text)[1] == "revoked key"
    assert clients["county_marketer"].get("/admin/realtime/apikey/").status_code in (302, 403)
