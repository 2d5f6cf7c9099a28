"""Schemathesis against the OpenAPI document: generated requests to every API route, as the
province administrator (who may call all of them), never get a server error."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tagcloud.web.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def session_headers(clients: dict[str, Any]) -> dict[str, str]:
    c = clients["province_admin"]
    c.get("/login/")
    session, csrf = c.cookies["sessionid"].value, c.cookies["csrftoken"].value
    return {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf}


@pytest.fixture(autouse=True)
def _keep_the_test_connection(session_headers: dict[str, str]) -> Any:
    """Calls go to the WSGI application directly, not through Django's test client, so its signal
    handlers would close the database connection after each request — and with it the test's
    transaction on PostgreSQL. The test client disconnects them the same way (and connects them again
    after each of its requests, hence after ``session_headers``'s login)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_server_errors(case: Any, session_headers: dict[str, str]) -> None:
    # the session travels as cookies: a Cookie header alone is dropped by the WSGI client, and every
    # call would then be anonymous (401) and prove nothing
    cookies = dict(part.split("=", 1) for part in session_headers["Cookie"].split("; "))
    response = case.call(headers=session_headers, cookies=cookies)
    # (a generated X-API-Key on the touchpoint routes is judged alone, and refused: 401 is right then)
    sent_key = any(h.lower() in ("x-api-key", "authorization") for h in (case.headers or {}))
    assert response.status_code != 401 or sent_key, (case.method, case.formatted_path)
    assert response.status_code < 500, (
        case.method,
        case.formatted_path,
        response.status_code,
        response.text[:500],
    )


def test_the_document_lists_every_route() -> None:
    paths = set(schema.raw_schema["paths"])
    assert {"/api/me", "/api/audience/count", "/api/customers/{msisdn}", "/api/tags", "/api/audit"} <= paths
