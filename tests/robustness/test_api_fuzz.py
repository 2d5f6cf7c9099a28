"""Schemathesis over the whole OpenAPI document as every demo role (wired as in
tests/web/test_api_schema.py): 0 server errors, 0 responses outside the schema (status code,
content type and body conformance), and 0 data outside the caller's region scope on the routes
that return regions or subscribers. Few examples per route and role (CI time)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tagcloud.web.wsgi import application
from tests.web import conftest as web

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)

# The web tests' fixtures (pytest finds fixtures among a module's attributes).
warehouse, regions, demo_accounts, clients = web.warehouse, web.regions, web.demo_accounts, web.clients
_fast_passwords, _campaign_db = web._fast_passwords, web._campaign_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 6  # per route and role
SEEN: dict[str, int] = {}  # examples run, by role (printed at the end)


@pytest.fixture(params=web.ROLE_CODES)
def role(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def session_headers(clients: dict[str, Any], role: str) -> dict[str, str]:
    c = clients[role]
    c.get("/login/")
    session, csrf = c.cookies["sessionid"].value, c.cookies["csrftoken"].value
    return {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf}


@pytest.fixture
def role_scope(demo_accounts: dict[str, Any], role: str) -> Any:
    from django.contrib.auth.models import User

    from tagcloud.web.accounts.scope import scope_for_user

    return scope_for_user(User.objects.get(username=demo_accounts[role].username))


@pytest.fixture(autouse=True)
def _groups_in_two_cities(regions: None) -> None:
    """Saved groups in the demo chain's county and in another city: /api/groups must keep them apart."""
    from tagcloud.web.audiences.models import SavedGroup

    for region in ("C01K01", "C01K01T01", "C02K01", "C02K01T01"):
        SavedGroup.objects.create(name=f"g_{region}", condition="arpu >= 40", members=1, region_id=region)


@pytest.fixture(autouse=True)
def _keep_the_test_connection(session_headers: dict[str, str]) -> Any:
    """As in tests/web/test_api_schema.py: calls go to the WSGI application directly, whose signal
    handlers would close the test's database connection (and its transaction on PostgreSQL)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def out_of_scope(path: str, body: Any, sc: Any) -> list[str]:
    """Region ids in a 200 answer that the caller's scope does not reach."""
    from tagcloud.web.audiences.models import SavedGroup

    if sc.everything:
        return []
    bad: list[str] = []
    if path == "/api/regions":
        bad += [r["region_id"] for r in body if not sc.allows(r["region_id"])]
    elif path.startswith("/api/customers/") and isinstance(body, dict):
        for k in ("township_id", "county_id", "city_id"):
            if body.get(k):  # the most precise region the row names decides
                if not sc.allows(body[k]):
                    bad.append(body[k])
                break
    elif path == "/api/groups":
        for g in body:
            owners = SavedGroup.objects.filter(name=g["name"]).values_list("region_id", flat=True)
            if not any(sc.allows(r) for r in owners):
                bad.append(f"group {g['name']}")
    return bad


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_role(case: Any, role: str, session_headers: dict[str, str], role_scope: Any) -> None:
    response = _call(case, session_headers)
    SEEN[role] = SEEN.get(role, 0) + 1
    case.validate_response(response, checks=CHECKS, headers=session_headers)
    if response.status_code == 200:
        leaked = out_of_scope(case.path, response.json(), role_scope)
        assert not leaked, (role, case.method, case.formatted_path, leaked)


def _call(case: Any, session_headers: dict[str, str]) -> Any:
    cookies = dict(part.split("=", 1) for part in session_headers["Cookie"].split("; "))
    return case.call(headers=session_headers, cookies=cookies)


def test_subscribers_in_and_out_of_region(
    role: str, session_headers: dict[str, str], role_scope: Any, warehouse: Any
) -> None:
    """Generated numbers rarely name a subscriber: ask for one in the demo chain's township and one in
    another city, through the same schema checks and the same scope check."""
    from tests.web.conftest import number_in

    answers = {}
    for where, cond in (("in", "township_id = 'C01K01T01'"), ("out", "township_id = 'C02K01T01'")):
        n = number_in(warehouse, cond)
        for path in ("/api/customers/{msisdn}", "/api/customers/{msisdn}/behaviour"):
            case = schema[path]["GET"].Case(path_parameters={"msisdn": n})
            response = _call(case, session_headers)
            SEEN[role] = SEEN.get(role, 0) + 1
            case.validate_response(response, checks=CHECKS, headers=session_headers)
            if response.status_code == 200:
                assert not out_of_scope(case.formatted_path, response.json(), role_scope), (role, where)
            answers[(where, path)] = response.status_code
    lookup = "lookup_customer" in web_perms(role)
    assert answers[("in", "/api/customers/{msisdn}")] == (200 if lookup else 403), answers
    if role_scope.everything:
        assert answers[("out", "/api/customers/{msisdn}")] == (200 if lookup else 403), answers
    else:
        assert answers[("out", "/api/customers/{msisdn}")] == (404 if lookup else 403), answers


def web_perms(role: str) -> set[str]:
    from tagcloud.web.accounts.roles import ROLE_BY_CODE

    return set(ROLE_BY_CODE[role].permissions)


def test_examples_were_run(role: str) -> None:
    """Runs after the fuzzing above (same module, file order): prints what was tried."""
    if not SEEN:
        pytest.skip("the fuzzing did not run in this session")
    if role == web.ROLE_CODES[-1]:
        print(f"\nAPI fuzzing: requests checked by role {SEEN}, total {sum(SEEN.values())}")
    assert SEEN.get(role, 0) >= len(schema.raw_schema["paths"]), role


def test_scope_check_catches_a_leak() -> None:
    """The region check above really fails on an answer from another city."""
    from tagcloud.web.accounts.scope import RegionScope

    sc = RegionScope(False, frozenset({"C01K01", "C01K01T01"}), root="C01K01", level="county")
    assert out_of_scope("/api/regions", [{"region_id": "C01K01T01"}, {"region_id": "C02"}], sc) == ["C02"]
    assert out_of_scope("/api/customers/1", {"township_id": "C02K01T01", "city_id": "C01"}, sc) == [
        "C02K01T01"
    ]
    assert out_of_scope("/api/customers/1", {"township_id": "C01K01T01"}, sc) == []
