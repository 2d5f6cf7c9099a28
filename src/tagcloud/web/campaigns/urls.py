"""Campaign page URLs, included under ``/campaigns/`` by the project's URL map."""

from __future__ import annotations

from django.urls import path

from tagcloud.web.campaigns import views

urlpatterns = [
    path("", views.campaign_list, name="campaigns"),
    path("design/", views.design, name="campaign-design"),
    path("<str:campaign_id>/", views.campaign_page, name="campaign"),
    path("<str:campaign_id>/submit/", views.submit, name="campaign-submit"),
    path("<str:campaign_id>/review/", views.review, name="campaign-review"),
    path("<str:campaign_id>/run/", views.run, name="campaign-run"),
    path("<str:campaign_id>/run-state/", views.run_state, name="campaign-run-state"),
    path("<str:campaign_id>/calls/<str:name>", views.call_list, name="campaign-call-list"),
    path("<str:campaign_id>/call-results/", views.call_results, name="campaign-call-results"),
    path("<str:campaign_id>/responses/", views.responses, name="campaign-responses"),
    path("<str:campaign_id>/evaluation/", views.evaluation, name="campaign-evaluation"),
]
