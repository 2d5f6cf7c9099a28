"""Jobs pages: the list (polls while jobs are open), one job with its log, retry and cancel."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tagcloud.jobs.store import JobBusy
from tagcloud.web.jobs.access import act, job_for, jobs_for
from tagcloud.web.views.access import require, scope


@require("view_jobs")
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = jobs_for(scope(request))
    template = "jobs/_table.html" if request.headers.get("HX-Request") else "jobs/list.html"
    return render(request, template, {"jobs": jobs, "any_open": any(j.open for j in jobs)})


@require("view_jobs")
@require_GET
def job_page(request: HttpRequest, job_id: str) -> HttpResponse:
    job, log = job_for(scope(request), job_id)
    return render(request, "jobs/job.html", {"job": job, "log": log})


@require("view_jobs")
@require_POST
def job_action(request: HttpRequest, job_id: str, action: str) -> HttpResponse:
    try:
        act(scope(request), job_id, action)
    except (ValueError, JobBusy) as e:
        messages.error(request, str(e))
    return redirect("jobs:job", job_id=job_id)
