"""Which jobs a user may see and act on: those of a region in their scope; jobs of no region
(the daily chain, schedules) at province level only."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from tagcloud.jobs.store import Job, JobStore
from tagcloud.web.accounts.scope import RegionScope


def visible(job: Job, sc: RegionScope) -> bool:
    return sc.everything or (job.region_id is not None and job.region_id in sc.region_ids)


def jobs_for(sc: RegionScope, limit: int = 200) -> list[Job]:
    with JobStore() as store:
        return [j for j in store.jobs(limit=limit * 5) if visible(j, sc)][:limit]


def job_for(sc: RegionScope, job_id: str) -> tuple[Job, list[Any]]:
    """The job and its log, or 404 (also for a job outside the scope: its existence is not told)."""
    with JobStore() as store:
        try:
            job = store.get(job_id)
        except KeyError:
            raise Http404(f"no job {job_id}") from None
        if not visible(job, sc):
            raise Http404(f"no job {job_id}")
        return job, store.log(job_id)


def act(sc: RegionScope, job_id: str, action: str) -> Job:
    """``retry`` or ``cancel`` a visible job; ValueError/JobBusy when its state does not allow it."""
    from tagcloud.jobs.worker import enqueue

    job_for(sc, job_id)
    with JobStore() as store:
        if action == "cancel":
            return store.cancel(job_id)
        if action == "retry":
            job = store.retry(job_id)
            enqueue(job_id)
            store.mark_enqueued(job_id)
            return job
    raise PermissionDenied(f"unknown action {action!r}")
