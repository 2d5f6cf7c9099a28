"""``/api/jobs``: the same jobs, scope and actions as the pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Router, Schema, Status

from tagcloud.jobs.store import Job, JobBusy
from tagcloud.web.jobs.access import act, job_for, jobs_for
from tagcloud.web.views.access import Needs, answers, scope

router = Router(tags=["jobs"], auth=Needs("view_jobs"))


class JobOut(Schema):
    job_id: str
    kind: str
    title: str
    region_id: str | None
    state: str
    done: int
    total: int | None
    attempts: int
    max_attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    summary: str | None
    error: str | None


class JobDetail(JobOut):
    log: list[str]


class JobError(Schema):
    detail: str


def _out(j: Job) -> dict[str, Any]:
    return {**{k: getattr(j, k) for k in JobOut.model_fields if k != "state"}, "state": j.state.value}


@router.get(
    "", response=answers({200: list[JobOut], 403: JobError}), summary="Background jobs in the caller's scope"
)
def list_jobs(request: HttpRequest) -> Any:
    return [_out(j) for j in jobs_for(scope(request))]


@router.get(
    "/{job_id}",
    response=answers({200: JobDetail, 403: JobError, 404: JobError}),
    summary="One job with its log",
)
def get_job(request: HttpRequest, job_id: str) -> Any:
    try:
        job, log = job_for(scope(request), job_id)
    except Http404 as e:
        return Status(404, {"detail": str(e)})
    return {**_out(job), "log": [f"{at:%Y-%m-%d %H:%M:%S} #{attempt} {line}" for at, attempt, line in log]}


@router.post(
    "/{job_id}/{action}",
    response=answers({200: JobOut, 403: JobError, 404: JobError, 409: JobError}),
    summary="retry (a failed or cancelled job) or cancel (a queued or running one)",
)
def job_action(request: HttpRequest, job_id: str, action: str) -> Any:
    if action not in ("retry", "cancel"):
        return Status(404, {"detail": f"no action {action!r}: retry or cancel"})
    try:
        return _out(act(scope(request), job_id, action))
    except Http404 as e:
        return Status(404, {"detail": str(e)})
    except (ValueError, JobBusy) as e:
        return Status(409, {"detail": str(e)})
