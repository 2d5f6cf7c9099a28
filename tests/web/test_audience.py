"""Audience builder through the web: the count fragment agrees with the library under the user's
scope, errors point at the token, save/split/control/export/combine work and are scoped/audited."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from .conftest import engine, post

pytestmark = pytest.mark.django_db

COUNTY = "county_id = 'C01K01'"


def _count(html: str) -> int:
    import re

    m = re.search(r'data-count="(\d+)"', html)
    assert m, html
    return int(m.group(1))


def test_count_is_scoped_to_the_users_county(clients: dict[str, Any], warehouse: Any) -> None:
    cond = ["arpu >= 50", "NOT tag_0001"]
    r = post(clients["county_marketer"], "/audience/count/", {"cond": cond})
    assert r.status_code == 200
    expected = engine(warehouse, scope=COUNTY).count("(arpu >= 50) AND (NOT tag_0001)")
    assert _count(r.content.decode()) == expected
    province = _count(post(clients["province_admin"], "/audience/count/", {"cond": cond}).content.decode())
    assert province == engine(warehouse).count("(arpu >= 50) AND (NOT tag_0001)") > expected > 0


def test_count_follows_each_condition_change(clients: dict[str, Any]) -> None:
    c = clients["county_marketer"]
    counts = [
        _count(post(c, "/audience/count/", {"cond": rows}).content.decode())
        for rows in ([], ["arpu >= 50"], ["arpu >= 50", "brand = 'gotone'"])
    ]
    assert counts[0] > counts[1] > counts[2] > 0


def test_an_or_cannot_escape_the_region(clients: dict[str, Any], warehouse: Any) -> None:
    r = post(clients["county_marketer"], "/audience/count/", {"cond": ["arpu >= 50 OR TRUE"]})
    assert _count(r.content.decode()) == engine(warehouse).count(COUNTY)


def test_a_misspelt_name_is_marked_with_a_suggestion(clients: dict[str, Any]) -> None:
    html = post(
        clients["county_marketer"], "/audience/count/", {"cond": ["brand = 'gotone'", "arpux >= 1"]}
    ).content.decode()
    assert "<mark>arpux</mark>" in html and "arpu" in html and "data-count" not in html


def test_picker_builds_quoted_conditions(clients: dict[str, Any]) -> None:
    c = clients["county_marketer"]
    html = post(
        c, "/audience/row/", {"column": "brand", "op": "in", "value": "gotone, mzone"}
    ).content.decode()
    assert "brand IN (&#x27;gotone&#x27;, &#x27;mzone&#x27;)" in html
    assert (
        "arpu BETWEEN 50 AND 100"
        in post(c, "/audience/row/", {"column": "arpu", "op": "between", "value": "50,100"}).content.decode()
    )
    assert post(c, "/audience/row/", {"column": "brand", "op": ">=", "value": "x"}).status_code == 422
    assert post(c, "/audience/row/", {"column": "brand", "op": "=", "value": "nokia"}).status_code == 422
    assert post(c, "/audience/row/", {"column": "nope", "op": "=", "value": "1"}).status_code == 422


def test_save_split_and_combine(clients: dict[str, Any], outsider: dict[str, Any], warehouse: Any) -> None:
    from tagcloud.web.audiences.models import SavedGroup

    c = clients["county_marketer"]
    r = post(c, "/audience/save/", {"cond": ["arpu >= 80"], "name": "rich_k01"})
    assert r.status_code == 200 and "rich_k01" in r.content.decode()
    g = SavedGroup.objects.get(name="rich_k01")
    assert g.members == engine(warehouse, scope=COUNTY).count("arpu >= 80") and g.region_id == "C01K01"
    assert post(c, "/audience/save/", {"cond": ["arpu >= 80"], "name": "rich_k01"}).status_code == 422
    post(c, "/audience/save/", {"cond": ["brand = 'gotone'"], "name": "gotone_k01"})
    r = post(
        c, "/groups/combine/", {"groups": ["rich_k01", "gotone_k01"], "op": "intersect", "name": "both_k01"}
    )
    assert r.status_code == 200
    assert SavedGroup.objects.get(name="both_k01").members == engine(warehouse, scope=COUNTY).count(
        "arpu >= 80 AND brand = 'gotone'"
    )
    # The group list is scoped: another city's county marketer neither sees nor combines them.
    assert "rich_k01" in c.get("/groups/").content.decode()
    assert "rich_k01" not in outsider["county_marketer"].get("/groups/").content.decode()
    r = post(
        outsider["county_marketer"],
        "/groups/combine/",
        {"groups": ["rich_k01", "gotone_k01"], "op": "union", "name": "steal"},
    )
    assert r.status_code == 403
    html = post(c, "/audience/split/", {"cond": ["arpu >= 20"], "by": "arpu", "tiers": "3"}).content.decode()
    assert html.count("<tr>") >= 3 and "arpu &lt;" in html


def test_profile_charts(clients: dict[str, Any]) -> None:
    html = post(
        clients["county_marketer"], "/audience/profile/", {"cond": ["arpu >= 50"], "profile": ["brand"]}
    ).content.decode()
    assert 'class="chart"' in html and "全球通" in html and "产品渗透率" in html


def test_export_is_masked_and_audited(clients: dict[str, Any], warehouse: Any) -> None:
    from tagcloud.web.accounts.models import AuditEvent

    r = post(clients["county_marketer"], "/audience/export/", {"cond": ["arpu >= 80"]})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert len(rows) == engine(warehouse, scope=COUNTY).count("arpu >= 80")
    assert all("****" in x["msisdn"] for x in rows) and {x["county_id"] for x in rows} == {"C01K01"}
    e = AuditEvent.objects.get(action="export")
    assert e.username == "demo_county_marketer" and e.rows == len(rows)
    # Unmasking needs the right; asking without it is refused.
    assert (
        post(
            clients["county_marketer"], "/audience/export/", {"cond": ["arpu >= 80"], "unmask": "1"}
        ).status_code
        == 403
    )


def test_admin_unmasked_export_is_audited(clients: dict[str, Any]) -> None:
    from tagcloud.web.accounts.models import AuditEvent

    r = post(clients["province_admin"], "/audience/export/", {"cond": ["arpu >= 300"], "unmask": "1"})
    rows = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert rows and all(x["msisdn"].isdigit() and len(x["msisdn"]) == 11 for x in rows)
    assert AuditEvent.objects.get(action="unmask").rows == len(rows)


def test_control_group(clients: dict[str, Any]) -> None:
    from tagcloud.web.audiences.models import SavedGroup

    r = post(
        clients["county_marketer"],
        "/audience/control/",
        {"cond": ["arpu >= 30"], "campaign": "c5g", "share": "0.2"},
    )
    assert r.status_code == 200
    action, control = (SavedGroup.objects.get(name=f"c5g.{k}").members for k in ("action", "control"))
    assert 0.1 < control / (action + control) < 0.3


def test_builder_page_renders_the_catalogue(clients: dict[str, Any]) -> None:
    html = clients["county_marketer"].get("/audience/?cond=arpu+%3E%3D+50").content.decode()
    assert "ARPU(元)" in html and 'value="arpu &gt;= 50"' in html
