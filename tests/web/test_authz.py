"""The authorization matrix: every page and API route × every role × in-region / out-of-region →
allowed or refused as the role table (``tagcloud.web.accounts.roles.ROLES``) designs it; and CSRF
on every form. Expectations come from the role definitions, so a view that forgets its check, or
a scope that leaks, fails here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from tagcloud.web.accounts.roles import ROLES

from .conftest import engine, number_in, post

pytestmark = pytest.mark.django_db

PERMS = {d.code: set(d.permissions) for d in ROLES}
PROVINCE_WIDE = {d.code for d in ROLES if d.scope_level == "province"}
ANY = ""  # any logged-in user


@dataclass(frozen=True)
class Route:
    method: str
    url: str
    needs: tuple[str, ...] = ()
    data: tuple[tuple[str, Any], ...] = ()
    api: bool = False
    any_of: tuple[str, ...] = ()  # allowed when the role holds at least one of these as well

    def call(self, client: Any, role: str) -> Any:
        data = {k: (v.format(role=role) if isinstance(v, str) else v) for k, v in self.data}
        if self.method == "GET":
            return client.get(self.url)
        if self.api:
            token = client.get("/login/") and client.cookies["csrftoken"].value
            return client.post(self.url, data, content_type="application/json", HTTP_X_CSRFTOKEN=token)
        return post(client, self.url, data)


COND = ("cond", ["arpu >= 40"])
ROUTES = [
    Route("GET", "/"),
    Route("GET", "/tags/"),
    Route("GET", "/tags/arpu/"),
    Route("GET", "/audience/", ("build_audience",)),
    Route("GET", "/groups/", ("build_audience",)),
    Route("GET", "/customer/", ("lookup_customer",)),
    Route("GET", "/audit/", ("view_audit",)),
    Route("POST", "/audience/row/", ("build_audience",), (("column", "arpu"), ("op", ">="), ("value", "50"))),
    Route("POST", "/audience/count/", ("build_audience",), (COND,)),
    Route("POST", "/audience/profile/", ("build_audience",), (COND,)),
    Route("POST", "/audience/split/", ("build_audience",), (COND, ("by", "arpu"), ("tiers", "2"))),
    Route("POST", "/audience/save/", ("build_audience",), (COND, ("name", "g_{role}"))),
    Route(
        "POST",
        "/audience/control/",
        ("build_audience", "export_audience"),
        (COND, ("campaign", "m_{role}"), ("share", "0.1")),
    ),
    Route("POST", "/audience/export/", ("build_audience", "export_audience"), (COND,)),
    Route("POST", "/groups/combine/", ("build_audience",), (("op", "union"), ("name", "x_{role}"))),
    Route("POST", "/tags/arpu/propose/", ("propose_tag_change",), (("reason", "why"),)),
    Route("POST", "/i18n/setlang/", (), (("language", "en"), ("next", "/"))),
    Route("GET", "/api/me", api=True),
    Route("GET", "/api/regions", api=True),
    Route("GET", "/api/tags", api=True),
    Route("GET", "/api/audit", ("view_audit",), api=True),
    Route("GET", "/api/groups", ("build_audience",), api=True),
    Route("POST", "/api/audience/count", ("build_audience",), (("conditions", ["arpu >= 40"]),), api=True),
    # campaigns: the list for anyone who designs, approves or runs them; each action its own right
    Route("GET", "/campaigns/", any_of=("design_campaign", "approve_campaign", "run_campaign")),
    Route("POST", "/campaigns/design/", ("design_campaign",), (("campaign_id", "c_{role}"),)),
    Route("POST", "/campaigns/NONE/review/", ("approve_campaign",), (("decision", "approve"),)),
    Route("POST", "/campaigns/NONE/run/", ("run_campaign",)),
    Route(
        "GET", "/campaigns/NONE/run-state/", any_of=("design_campaign", "approve_campaign", "run_campaign")
    ),
    Route(
        "GET", "/campaigns/NONE/evaluation/", any_of=("design_campaign", "approve_campaign", "run_campaign")
    ),
    Route("POST", "/api/touchpoints/offers", ("serve_touchpoint",), (("msisdn", "13800000000"),), api=True),
    Route(
        "POST",
        "/api/touchpoints/feedback",
        ("serve_touchpoint",),
        (("contact_id", 1), ("channel", "hall"), ("outcome", "accepted")),
        api=True,
    ),
]


def _allowed(role: str, needs: tuple[str, ...], any_of: tuple[str, ...] = ()) -> bool:
    return set(needs) <= PERMS[role] and (not any_of or bool(set(any_of) & PERMS[role]))


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.url}")
def test_route_by_role_and_region(route: Route, clients: dict[str, Any], outsider: dict[str, Any]) -> None:
    for where, by_role in (("in", clients), ("out", outsider)):
        for d in ROLES:
            r = route.call(by_role[d.code], f"{where}_{d.code}")
            allowed = _allowed(d.code, route.needs, route.any_of)
            if allowed:
                assert r.status_code not in (401, 403), (where, d.code, r.status_code)
                assert r.status_code < 500, (where, d.code, r.status_code)
            else:
                assert r.status_code == 403, (where, d.code, r.status_code)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.url}")
def test_anonymous_is_sent_to_login(route: Route, regions: None) -> None:
    r = route.call(Client(), "anon") if route.method == "GET" else Client().post(route.url, {})
    if route.url.startswith("/i18n/"):
        assert r.status_code in (302, 403)  # switching language needs no login, but needs CSRF
    elif route.api:
        assert r.status_code in (401, 403)
    else:
        assert r.status_code in (302, 403)
        if r.status_code == 302:
            assert r["Location"].startswith("/login/")


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method == "POST"], ids=lambda r: r.url)
def test_every_form_needs_csrf(route: Route, clients: dict[str, Any]) -> None:
    # The province administrator may do everything; without the token it is still refused.
    c = clients["province_admin"]
    if route.api:
        r = c.post(route.url, dict(route.data), content_type="application/json")
    else:
        r = c.post(route.url, {k: v for k, v in route.data})
    assert r.status_code == 403


def test_customer_lookup_by_role_and_region(
    clients: dict[str, Any], outsider: dict[str, Any], warehouse: Any
) -> None:
    n = number_in(warehouse, "township_id = 'C01K01T01'")
    for where, by_role in (("in", clients), ("out", outsider)):
        for d in ROLES:
            page = post(by_role[d.code], "/customer/", {"msisdn": n}).status_code
            api = by_role[d.code].get(f"/api/customers/{n}").status_code
            if "lookup_customer" not in PERMS[d.code]:
                expected = 403
            elif where == "in" or d.code in PROVINCE_WIDE:
                expected = 200
            else:
                expected = 404  # out of region looks exactly like an unknown number
            assert (page, api) == (expected, expected), (where, d.code)


def test_counts_match_each_users_scope(
    clients: dict[str, Any], outsider: dict[str, Any], warehouse: Any
) -> None:
    scopes = {
        "city": ("city_id = 'C01'", "city_id = 'C02'"),
        "county": ("county_id = 'C01K01'", "county_id = 'C02K01'"),
        "township": ("township_id = 'C01K01T01'", "township_id = 'C02K01T01'"),
        "province": (None, None),
    }
    for d in ROLES:
        if "build_audience" not in PERMS[d.code]:
            continue
        for i, by_role in enumerate((clients, outsider)):
            body = by_role[d.code].get("/login/") and by_role[d.code]
            token = body.cookies["csrftoken"].value
            got = body.post(
                "/api/audience/count",
                {"conditions": ["arpu >= 40"]},
                content_type="application/json",
                HTTP_X_CSRFTOKEN=token,
            ).json()["count"]
            assert got == engine(warehouse, scope=scopes[d.scope_level][i]).count("arpu >= 40"), d.code
