"""The jobs page and API: each role sees the jobs of its region (province-wide ones at province
level only), with state, progress and log; retry and cancel follow the job's state; view_jobs needed."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import post

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(settings: Any) -> dict[str, str]:
    """A county campaign's pass (queued), a failed one of another city's county, a province-wide chain."""
    from tagcloud.jobs.store import JobState, JobStore

    with JobStore() as s:
        mine, _ = s.submit(
            "campaign.run", {"campaign_id": "A", "now": "2026-11-10T12:00"}, "Campaign A", "C01K01"
        )
        other, _ = s.submit(
            "campaign.run", {"campaign_id": "B", "now": "2026-11-10T12:00"}, "Campaign B", "C02K01"
        )
        chain, _ = s.submit("daily.chain", {"drop": "/x", "warehouse": "/y"}, "Daily chain 20261110")
        s.claim(other.job_id, "w", 30)
        s.write_log(other.job_id, 1, "SMSC refused the bind")
        s.finish(other.job_id, "w", JobState.FAILED, error="ConnectionRefusedError: SMSC down")
        s.db.q("UPDATE jobs SET max_attempts=1, state='failed' WHERE job_id=?", (other.job_id,))
    return {"mine": mine.job_id, "other": other.job_id, "chain": chain.job_id}


def test_each_role_sees_the_jobs_of_its_region(clients: dict[str, Any], jobs: dict[str, str]) -> None:
    admin = clients["province_admin"].get("/jobs/").content.decode()
    assert all(t in admin for t in ("Campaign A", "Campaign B", "Daily chain 20261110"))
    api = {j["job_id"] for j in clients["province_admin"].get("/api/jobs").json()}
    assert api == set(jobs.values())


def test_a_role_without_view_jobs_is_refused(clients: dict[str, Any], jobs: dict[str, str]) -> None:
    assert clients["county_marketer"].get("/jobs/").status_code == 403
    assert clients["county_marketer"].get("/api/jobs").status_code == 403
    assert clients["county_marketer"].get(f"/jobs/{jobs['mine']}/").status_code == 403


def test_a_city_user_with_view_jobs_sees_only_its_region(
    clients: dict[str, Any], jobs: dict[str, str], demo_accounts: dict[str, Any]
) -> None:
    from django.contrib.auth.models import Permission, User

    u = User.objects.get(username=demo_accounts["city_marketer"].username)
    u.user_permissions.add(Permission.objects.get(codename="view_jobs"))
    from tagcloud.web.accounts.backends import forget_permissions

    forget_permissions()
    c = clients["city_marketer"]
    ids = {j["job_id"] for j in c.get("/api/jobs").json()}
    assert ids == {jobs["mine"]}  # C01K01 is in C01; C02's campaign and the province chain are not
    assert c.get(f"/jobs/{jobs['other']}/").status_code == 404
    assert c.get(f"/api/jobs/{jobs['chain']}").status_code == 404


def test_a_job_page_shows_its_log_and_retry_puts_it_back(
    clients: dict[str, Any], jobs: dict[str, str]
) -> None:
    from tagcloud.jobs.store import JobState, JobStore

    c = clients["province_admin"]
    html = c.get(f"/jobs/{jobs['other']}/").content.decode()
    assert "SMSC refused the bind" in html and "SMSC down" in html and "retry" in html
    r = post(c, f"/api/jobs/{jobs['other']}/retry")
    assert r.status_code == 200 and r.json()["state"] == "queued"
    with JobStore() as s:
        assert s.get(jobs["other"]).state == JobState.QUEUED
    # A queued job is not retried but cancelled; a cancelled one cannot be cancelled again.
    assert post(c, f"/api/jobs/{jobs['mine']}/retry").status_code == 409
    assert post(c, f"/jobs/{jobs['mine']}/cancel/").status_code == 302
    with JobStore() as s:
        assert s.get(jobs["mine"]).state == JobState.CANCELLED
    assert post(c, f"/api/jobs/{jobs['mine']}/cancel").status_code == 409
    assert post(c, f"/api/jobs/{jobs['mine']}/explode").status_code == 404
