"""Channel systems' API keys on the touchpoint API: missing / revoked / rotated / out-of-scope keys
are refused (401 / 403 / 404) and audited; a good key decides in its region; people keep their session
with its CSRF check."""

from __future__ import annotations

from typing import Any

import pytest

from tagcloud.web.accounts.models import AuditEvent

from .conftest import number_in


@pytest.fixture(autouse=True)
def _memory(settings: Any, tmp_path: Any) -> Any:
    from tagcloud.web.realtime import service

    settings.TOUCHPOINT_MEMORY = f"sqlite:///{tmp_path / 'memory.db'}"
    yield
    service.forget()


def issue(region: str = "C01K01", channels: tuple[str, ...] = ("10086", "hall")) -> tuple[Any, str]:
    from tagcloud.web.realtime.models import ApiKey
    from tagcloud.web.reference.models import Region

    return ApiKey.issue("10086 CRM", list(channels), Region.objects.get(region_id=region), None)


def call(client: Any, path: str, body: dict[str, Any], key: str | None = None, bearer: bool = False) -> Any:
    headers = {}
    if key is not None:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if bearer else {"HTTP_X_API_KEY": key}
    return client.post(path, body, content_type="application/json", **headers)


def test_keys_refused_and_audited(client: Any, regions: Any, warehouse: Any) -> None:
    n = number_in(warehouse, "county_id = 'C01K01'")
    body = {"msisdn": n, "channel": "10086"}
    assert call(client, "/api/touchpoints/decide", body).status_code == 401  # no key, no session
    r = call(client, "/api/touchpoints/decide", body, "tck_nothing_here")
    assert r.status_code == 401 and "unknown key" in r.json()["detail"]
    key, text = issue()
    assert key.secret_hash not in text and text.split("_")[2] not in key.secret_hash  # only a hash kept
    ok = call(client, "/api/touchpoints/decide", body, text)
    assert ok.status_code == 200, ok.content
    assert ok.json()["msisdn"] != n and n not in ok.content.decode()  # masked
    assert call(client, "/api/touchpoints/decide", body, text, bearer=True).status_code == 200
    seen = AuditEvent.objects.filter(username=f"apikey:{key.key_id}", action="lookup")
    assert seen.count() == 2 and seen.first().detail["system"] == "10086 CRM"  # type: ignore[union-attr]
    # out of scope: a channel the key does not serve → 403; a subscriber outside its region → 404
    r = call(client, "/api/touchpoints/decide", {**body, "channel": "web_hall"}, text)
    assert r.status_code == 403 and "not web_hall" in r.json()["detail"]
    other = number_in(warehouse, "county_id = 'C02K01'")
    assert call(client, "/api/touchpoints/decide", {**body, "msisdn": other}, text).status_code == 404
    denied = AuditEvent.objects.filter(username=f"apikey:{key.key_id}", action="denied")
    assert {d.detail["reason"] for d in denied} == {"channel web_hall not in key's channels", "out of region"}
    # rotated: the old text stops at once, the new one works
    new = key.rotate(None)
    r = call(client, "/api/touchpoints/decide", body, text)
    assert r.status_code == 401
    assert call(client, "/api/touchpoints/decide", body, new).status_code == 200
    # revoked
    key.revoke(None)
    r = call(client, "/api/touchpoints/decide", body, new)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert AuditEvent.objects.filter(action="denied", detail__reason="revoked key").count() == 1
    assert [e.action for e in key.events.order_by("at", "pk")] == ["created", "rotated", "revoked"]


def test_a_bad_key_is_not_rescued_by_a_session(clients: dict[str, Any], warehouse: Any) -> None:
    agent = clients["channel_agent"]
    n = number_in(warehouse, "township_id = 'C01K01T01'")
    r = call(agent, "/api/touchpoints/decide", {"msisdn": n, "channel": "hall"}, "tck_bad_key")
    assert r.status_code == 401
    # the person's session still needs its CSRF token
    assert call(agent, "/api/touchpoints/decide", {"msisdn": n, "channel": "hall"}).status_code == 403
    agent.get("/login/")
    r = agent.post(
        "/api/touchpoints/decide", {"msisdn": n, "channel": "hall"}, content_type="application/json",
        HTTP_X_CSRFTOKEN=agent.cookies["csrftoken"].value,
    )  # fmt: skip
    assert r.status_code == 200, r.content
    # a marketer without serve_touchpoint is refused
    m = clients["analyst"]
    m.get("/login/")
    r = m.post(
        "/api/touchpoints/decide", {"msisdn": n, "channel": "hall"}, content_type="application/json",
        HTTP_X_CSRFTOKEN=m.cookies["csrftoken"].value,
    )  # fmt: skip
    assert r.status_code == 403


def test_feedback_by_key_and_the_old_offers_endpoint(client: Any, regions: Any, warehouse: Any) -> None:
    """A key records feedback; acceptance at the hall stops the model's offer at 10086 too."""
    from tagcloud.web.campaigns import service as campaigns

    _key, text = issue()
    n = number_in(warehouse, "county_id = 'C01K01'")
    r = call(client, "/api/touchpoints/decide/feedback",
             {"msisdn": n, "offer_id": "PL_X", "channel": "hall", "outcome": "accepted", "source_id": "C9"}, text)  # fmt: skip
    assert r.status_code == 200, r.content
    with campaigns.open_ledger() as ledger:
        assert ledger.db.q("SELECT msisdn, channel FROM acceptances") == [(n, "hall")]
    d = call(client, "/api/touchpoints/decide", {"msisdn": n, "channel": "10086"}, text).json()
    assert d["memory"][0]["phrase"] == "accepted at the service hall today"
    bad = call(client, "/api/touchpoints/decide/feedback",
               {"msisdn": n, "offer_id": "PL_X", "channel": "sms", "outcome": "refused"}, text)  # fmt: skip
    assert bad.status_code == 403  # the key serves no SMS
    # today's offers endpoint takes the key too
    r = call(client, "/api/touchpoints/offers", {"msisdn": n, "channel": "hall"}, text)
    assert r.status_code == 200 and any(h["status"] == "accepted" for h in r.json()["history"])
