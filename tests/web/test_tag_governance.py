"""Tag governance through the platform: the catalogue loaded into the database, statuses and
versions on the tag page, an approved proposal going online as a new version for the next build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import post

pytestmark = pytest.mark.django_db


@pytest.fixture
def gov_wh(clients: dict[str, Any], settings: Any, tmp_path: Path) -> Path:
    """The pages pointed at an empty warehouse of this test: approvals write their overrides there."""
    wh = tmp_path / "wh"
    wh.mkdir()
    settings.WAREHOUSE_DIR = wh
    return wh


def test_load_tags_is_idempotent_and_feeds_the_tag_page(clients: dict[str, Any], gov_wh: Path) -> None:
    from tagcloud.web.taglib.governance import load_from_warehouse
    from tagcloud.web.taglib.models import TagVersion

    first = load_from_warehouse(gov_wh)
    assert first.tags > 400 and first.added >= first.tags and first.updated == 0
    again = load_from_warehouse(gov_wh)
    assert (again.added, again.updated, again.local_kept) == (0, 0, 0)
    assert TagVersion.objects.filter(tag="age_18_24").get().status == "online"
    # The page reads the status from the database, not from the definitions.
    TagVersion.objects.filter(tag="age_18_24").update(status="review")
    html = clients["analyst"].get("/tags/age_18_24/").content.decode()
    assert 'id="tag-status">review · v1' in html and 'id="tag-versions"' in html


def test_approved_proposal_becomes_an_online_version(clients: dict[str, Any], gov_wh: Path) -> None:
    from tagcloud.tags.governance import load_effective_catalogue, overrides_dir
    from tagcloud.web.taglib.governance import load_from_warehouse
    from tagcloud.web.taglib.models import TagChangeProposal, TagVersion

    load_from_warehouse(gov_wh)
    c = clients["county_marketer"]
    rule = "age_band = '18-24' AND tenure_months >= 6"
    post(c, "/tags/age_18_24/propose/", {"rule": rule, "definition_zh": "网龄半年以上", "reason": "稳定客户"})
    p = TagChangeProposal.objects.get()
    r = post(clients["approver"], f"/proposals/{p.pk}/review/", {"decision": "approve", "note": "ok"})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.status == "approved"
    v = TagVersion.objects.get(tag="age_18_24", version=2)
    assert (v.status, v.rule, v.origin, v.by) == ("online", rule, "local", "demo_approver")
    assert f"proposal #{p.pk}" in v.change
    # Kept in the warehouse for the next build: the builder's catalogue carries the new rule.
    assert (overrides_dir(gov_wh) / "age_18_24.yaml").is_file()
    t = load_effective_catalogue(gov_wh).tags["age_18_24"]
    assert (t.rule, t.version, t.definition_zh) == (rule, 2, "网龄半年以上")
    html = clients["analyst"].get("/tags/age_18_24/").content.decode()
    assert 'id="tag-status">online · v2' in html and "tenure_months &gt;= 6" in html
    # Loading the catalogue again keeps the local version as it is.
    again = load_from_warehouse(gov_wh)
    assert (again.added, again.updated) == (0, 0)
    assert TagVersion.objects.get(tag="age_18_24", version=2).origin == "local"


def test_invalid_proposal_is_refused_with_the_checkers_message(clients: dict[str, Any], gov_wh: Path) -> None:
    from tagcloud.web.taglib.models import TagChangeProposal

    c = clients["county_marketer"]
    # Names exist, so the condition parses; the catalogue's check finds the cycle.
    r = post(c, "/tags/age_18_24/propose/", {"rule": "age_18_24 OR age_25_34", "reason": "x"}, follow=True)
    assert "cycle between definitions" in r.content.decode()
    assert not TagChangeProposal.objects.exists()
    # Two proposals that each check alone: once the first is online the second would close a cycle.
    post(c, "/tags/age_18_24/propose/", {"rule": "age_25_34 OR age_band = '18-24'", "reason": "a"})
    post(c, "/tags/age_25_34/propose/", {"rule": "age_18_24", "reason": "b"})
    a, b = TagChangeProposal.objects.order_by("pk")
    post(clients["approver"], f"/proposals/{a.pk}/review/", {"decision": "approve"})
    r = post(clients["approver"], f"/proposals/{b.pk}/review/", {"decision": "approve"}, follow=True)
    assert "cycle between definitions" in r.content.decode()
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("approved", "proposed")


def test_a_newer_catalogue_version_wins_over_a_stale_database(clients: dict[str, Any], gov_wh: Path) -> None:
    from tagcloud.tags.governance import TagChange, change_tag
    from tagcloud.web.taglib.governance import load_from_warehouse

    load_from_warehouse(gov_wh)
    change_tag(gov_wh, "age_18_24", TagChange(status="offline", comment="retired"))  # as the CLI does
    html = clients["analyst"].get("/tags/age_18_24/").content.decode()
    assert 'id="tag-status">offline' in html
    assert load_from_warehouse(gov_wh).added == 1
    html = clients["analyst"].get("/tags/age_18_24/").content.decode()
    assert 'id="tag-status">offline · v2' in html
