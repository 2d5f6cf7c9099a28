"""Tag library: tree, search by Chinese name, the tag page, and change proposals through review."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import post

pytestmark = pytest.mark.django_db


def test_tree_and_search_by_chinese_name(clients: dict[str, Any]) -> None:
    c = clients["county_marketer"]
    html = c.get("/tags/").content.decode()
    assert "标签0001" in html and "behaviour" in html
    html = c.get("/tags/?q=网龄").content.decode()
    assert (
        'href="/tags/tenure_months/"' in html
        and "tag_0001" not in html.split('id="search-results"')[1].split("</section>")[0]
    )


def test_tag_page(clients: dict[str, Any]) -> None:
    r = clients["analyst"].get("/tags/arpu/")
    assert r.status_code == 200 and "ARPU(元)" in r.content.decode() and 'class="chart"' in r.content.decode()
    assert clients["analyst"].get("/tags/no_such_tag/").status_code == 404


def test_change_proposal_goes_through_review(clients: dict[str, Any]) -> None:
    from tagcloud.web.taglib.models import TagChangeProposal

    c = clients["county_marketer"]
    # A rule with an unknown name is refused before it is recorded.
    post(c, "/tags/tag_0001/propose/", {"rule": "arpux > 1", "reason": "typo"})
    assert not TagChangeProposal.objects.exists()
    r = post(c, "/tags/tag_0001/propose/", {"rule": "arpu >= 100 AND tag_0002", "reason": "narrower"})
    assert r.status_code == 302
    p = TagChangeProposal.objects.get()
    assert p.status == "proposed"
    # The approver sees it as a task, and approves it; the proposer could not.
    assert "tag_0001" in clients["approver"].get("/").content.decode()
    assert post(c, f"/proposals/{p.pk}/review/", {"decision": "approve"}).status_code == 403
    post(clients["approver"], f"/proposals/{p.pk}/review/", {"decision": "approve", "note": "ok"})
    p.refresh_from_db()
    assert p.status == "approved" and p.reviewer.username == "demo_approver"
    # A reviewed proposal cannot be reviewed again.
    post(clients["province_admin"], f"/proposals/{p.pk}/review/", {"decision": "reject"})
    p.refresh_from_db()
    assert p.status == "approved"


def test_api_tags_search(clients: dict[str, Any]) -> None:
    found = clients["channel_agent"].get("/api/tags?q=ARPU").json()
    assert "arpu" in [t["name"] for t in found]
    assert all(
        "arpu" in (t["name"] + t["name_zh"] + t["name_en"] + t["definition_zh"] + t["definition_en"]).lower()
        for t in found
    )
