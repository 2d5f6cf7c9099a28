"""The platform's foundation: login, roles and permissions, scoping through the API, the audit
log, the admin, the language switch and CSRF."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_every_role_exists_with_its_permissions(demo_accounts: dict[str, Any]) -> None:
    from django.contrib.auth.models import User

    from .conftest import ROLE_CODES

    assert set(demo_accounts) == set(ROLE_CODES) | {"approver_county", "approver_city"}
    admin = User.objects.get(username="demo_province_admin")
    county = User.objects.get(username="demo_county_marketer")
    agent = User.objects.get(username="demo_channel_agent")
    assert admin.has_perm("accounts.unmask_msisdn") and admin.has_perm("accounts.view_audit")
    assert admin.has_perm("reference.change_region") and admin.is_staff
    assert county.has_perm("accounts.export_audience") and not county.has_perm("accounts.unmask_msisdn")
    assert agent.has_perm("accounts.lookup_customer") and not agent.has_perm("accounts.build_audience")
    assert not county.is_staff


def test_demo_users_sit_on_one_region_chain(demo_accounts: dict[str, Any]) -> None:
    assert demo_accounts["province_admin"].region_id == "P"
    assert demo_accounts["city_marketer"].region_id == "C01"
    assert demo_accounts["county_marketer"].region_id == "C01K01"
    assert demo_accounts["township_manager"].region_id == "C01K01T01"
    # the approval chain county → city → province has an approver at every step
    assert demo_accounts["approver_county"].region_id == "C01K01"
    assert demo_accounts["approver_city"].region_id == "C01"
    assert demo_accounts["approver"].region_id == "P"


def test_demo_users_need_regions(db: Any) -> None:
    from tagcloud.web.accounts.demo import create_demo_users

    with pytest.raises(ValueError, match="load-reference"):
        create_demo_users()


def test_login_page_and_redirect() -> None:
    c = Client()
    r = c.get("/")
    assert r.status_code == 302 and r["Location"].startswith("/login/")
    r = c.get("/login/")
    assert r.status_code == 200 and "登录" in r.content.decode()


def test_wrong_password_is_refused(demo_accounts: dict[str, Any]) -> None:
    r = Client().post("/login/", {"username": "demo_county_marketer", "password": "wrong"})
    assert r.status_code == 200 and "用户名或密码不正确" in r.content.decode()


def test_login_form_needs_csrf(demo_accounts: dict[str, Any]) -> None:
    a = demo_accounts["county_marketer"]
    r = Client(enforce_csrf_checks=True).post("/login/", {"username": a.username, "password": a.password})
    assert r.status_code == 403


def test_home_shows_role_and_scope(clients: dict[str, Any]) -> None:
    html = clients["county_marketer"].get("/").content.decode()
    assert "区县营销人员" in html and "C01K01县" in html
    assert "审计日志" not in html  # no link to what the role may not open


def test_api_me_and_scoped_regions(clients: dict[str, Any]) -> None:
    me = clients["county_marketer"].get("/api/me").json()
    assert me["role"] == "county_marketer" and me["region_id"] == "C01K01" and not me["everything"]
    assert "unmask_msisdn" not in me["permissions"] and "export_audience" in me["permissions"]
    ids = {r["region_id"] for r in clients["county_marketer"].get("/api/regions").json()}
    assert ids == {"C01K01", *(f"C01K01T0{t}" for t in range(1, 7))}
    ids = {r["region_id"] for r in clients["province_admin"].get("/api/regions").json()}
    assert len(ids) == 1 + 5 + 20 + 120


def test_api_needs_login() -> None:
    assert Client().get("/api/me").status_code == 401


def test_audit_log_is_for_admins_and_approvers(clients: dict[str, Any], rf: Any) -> None:
    from django.contrib.auth.models import User

    from tagcloud.web.accounts.audit import record
    from tagcloud.web.accounts.models import AuditAction

    req = rf.get("/")
    req.user = User.objects.get(username="demo_province_admin")
    record(req, AuditAction.UNMASK, "136****6297", rows=1, msisdn_region="C01K01T01")
    for role in ("province_admin", "approver"):
        r = clients[role].get("/audit/?action=unmask")
        assert r.status_code == 200 and "136****6297" in r.content.decode()
        assert clients[role].get("/api/audit").json()[0]["target"] == "136****6297"
    for role in ("county_marketer", "analyst", "channel_agent"):
        assert clients[role].get("/audit/").status_code == 403
        assert clients[role].get("/api/audit").status_code == 403


def test_audit_log_cannot_be_edited_in_the_admin(clients: dict[str, Any]) -> None:
    c = clients["province_admin"]
    assert c.get("/admin/accounts/auditevent/").status_code == 200
    assert c.get("/admin/accounts/auditevent/add/").status_code == 403


def test_admin_maintains_reference_data(clients: dict[str, Any]) -> None:
    c = clients["province_admin"]
    for model in ("region", "cell", "product", "channel"):
        assert c.get(f"/admin/reference/{model}/").status_code == 200, model
    assert c.get("/admin/auth/user/").status_code == 200
    # Marketers are not staff: the admin sends them to its login page.
    assert clients["county_marketer"].get("/admin/reference/region/").status_code == 302


def test_language_switch_to_english(clients: dict[str, Any]) -> None:
    c = clients["county_marketer"]
    token = c.get("/").cookies["csrftoken"].value
    r = c.post("/i18n/setlang/", {"language": "en", "next": "/"}, HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 302
    html = c.get("/").content.decode()
    assert 'lang="en"' in html and "County marketer" in html and "Home" in html


def test_openapi_document(clients: dict[str, Any]) -> None:
    doc = clients["analyst"].get("/api/openapi.json").json()
    assert doc["info"]["title"] == "Tagcloud API"
    assert "/api/me" in doc["paths"] and "/api/regions" in doc["paths"]


def test_chinese_unless_the_user_switched(clients: dict[str, Any]) -> None:
    # An English browser still gets Chinese: the choice is the user's switch, not the desktop's locale.
    html = clients["county_marketer"].get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="zh-hans"' in html and "工作台" in html


def test_dashboard_map_of_townships_in_scope(clients: dict[str, Any]) -> None:
    from tagcloud.web.reference.models import Cell

    Cell.objects.create(
        cell_id="c-in-1", lat=30.1, lon=114.2, rat="4G", township_id="C01K01T01", area_type="rural_township"
    )
    Cell.objects.create(
        cell_id="c-in-2", lat=30.3, lon=114.4, rat="5G", township_id="C01K01T01", area_type="rural_township"
    )
    Cell.objects.create(
        cell_id="c-out", lat=31.0, lon=115.0, rat="4G", township_id="C02K01T01", area_type="rural_township"
    )
    html = clients["county_marketer"].get("/").content.decode()
    assert "[[114.3, 30.2, " in html and "115.0" not in html
