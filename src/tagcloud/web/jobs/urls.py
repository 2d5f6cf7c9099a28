"""``/jobs/…``."""

from __future__ import annotations

from django.urls import path

from tagcloud.web.jobs import views

app_name = "jobs"
urlpatterns = [
    path("", views.job_list, name="list"),
    path("<str:job_id>/", views.job_page, name="job"),
    path("<str:job_id>/<str:action>/", views.job_action, name="action"),
]
