"""Customer 360: in-region lookups work and are audited; out-of-region and unknown numbers get the
same refusal (audited as denied); unmasking is for permitted roles only and audited."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import number_in, post

pytestmark = pytest.mark.django_db


def test_lookup_in_region(clients: dict[str, Any], warehouse: Any) -> None:
    from tagcloud.web.accounts.models import AuditEvent

    n = number_in(warehouse, "county_id = 'C01K01' AND township_id = 'C01K01T01'")
    for role in ("county_marketer", "township_manager", "channel_agent", "city_marketer", "province_admin"):
        r = post(clients[role], "/customer/", {"msisdn": n})
        html = r.content.decode()
        assert r.status_code == 200, role
        assert n[:3] + "****" + n[-4:] in html, role
        # Only a role that may unmask gets the number back (in the unmask form it typed it into).
        assert (n in html) == (role == "province_admin"), role
        assert "C01K01T01" in html and "ARPU" in html
    assert AuditEvent.objects.filter(action="lookup").count() == 5


def test_lookup_out_of_region_is_refused_like_an_unknown_number(
    clients: dict[str, Any], warehouse: Any
) -> None:
    from tagcloud.web.accounts.models import AuditEvent

    other = number_in(warehouse, "county_id = 'C03K02'")
    r = post(clients["county_marketer"], "/customer/", {"msisdn": other})
    assert r.status_code == 404 and "C03K02" not in r.content.decode()
    assert AuditEvent.objects.get(action="denied").username == "demo_county_marketer"
    assert post(clients["county_marketer"], "/customer/", {"msisdn": "13999999999"}).status_code == 404
    assert post(clients["county_marketer"], "/customer/", {"msisdn": "12345"}).status_code == 400


def test_unmask_is_for_permitted_roles_and_audited(clients: dict[str, Any], warehouse: Any) -> None:
    from tagcloud.web.accounts.models import AuditEvent

    n = number_in(warehouse, "county_id = 'C01K01'")
    assert post(clients["county_marketer"], "/customer/", {"msisdn": n, "unmask": "1"}).status_code == 403
    r = post(clients["province_admin"], "/customer/", {"msisdn": n, "unmask": "1"})
    assert r.status_code == 200 and n in r.content.decode()
    assert AuditEvent.objects.get(action="unmask").target == n[:3] + "****" + n[-4:]


def test_api_customer(clients: dict[str, Any], warehouse: Any) -> None:
    n = number_in(warehouse, "county_id = 'C01K01'")
    body = clients["county_marketer"].get(f"/api/customers/{n}").json()
    assert body["county_id"] == "C01K01" and "****" in body["msisdn"] and "arpu" in body["values"]
    other = number_in(warehouse, "county_id = 'C05K04'")
    assert clients["county_marketer"].get(f"/api/customers/{other}").status_code == 404
    assert clients["analyst"].get(f"/api/customers/{n}").status_code == 403


def test_contact_history_from_the_campaign_ledger(
    clients: dict[str, Any], warehouse: Any, tmp_path: Any, settings: Any
) -> None:
    import datetime as dt

    from tagcloud.campaigns.policy import ContactLedger

    n = number_in(warehouse, "county_id = 'C01K01'")
    url = f"sqlite:///{tmp_path / 'campaigns.db'}"
    with ContactLedger(url) as ledger:
        ledger.record_response(
            n, "5g_pack_30", "10086", "accepted", dt.datetime(2026, 10, 3, 10, 0), campaign_id="cmp_5g"
        )
    settings.CAMPAIGN_DB = url
    html = post(clients["county_marketer"], "/customer/", {"msisdn": n}).content.decode()
    assert "cmp_5g" in html and "5g_pack_30" in html
    settings.CAMPAIGN_DB = ""
    assert (
        "尚无营销活动数据" in post(clients["county_marketer"], "/customer/", {"msisdn": n}).content.decode()
    )
