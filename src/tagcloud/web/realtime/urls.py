"""Real-time marketing page URLs, included under ``/realtime/`` by the project's URL map."""

from __future__ import annotations

from django.urls import path

from tagcloud.web.realtime import views

urlpatterns = [
    path("rules/", views.rule_list, name="rt-rules"),
    path("rules/new/", views.rule_new, name="rt-rule-new"),
    path("rules/check/", views.rule_check, name="rt-rule-check"),
    path("rules/<str:rule_id>/", views.rule_page, name="rt-rule"),
    path("rules/<str:rule_id>/edit/", views.rule_edit, name="rt-rule-edit"),
    path("rules/<str:rule_id>/backtest/", views.rule_backtest, name="rt-rule-backtest"),
    path("rules/<str:rule_id>/<str:action>/", views.rule_action, name="rt-rule-action"),
    path("keys/", views.keys, name="rt-keys"),
    path("agent/", views.agent, name="rt-agent"),
]
