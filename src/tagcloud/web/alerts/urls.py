"""Alert page URLs, included under ``/alerts/`` by the project's URL map."""

from __future__ import annotations

from django.urls import path

from tagcloud.web.alerts import views

urlpatterns = [
    path("", views.alert_list, name="alerts"),
    path("rules/", views.rules, name="alert-rules"),
    path("raise/", views.raise_alert, name="alert-raise"),
    path("history/", views.history, name="alert-history"),
    path("<int:pk>/", views.alert_page, name="alert"),
    path("<int:pk>/act/", views.act, name="alert-act"),
]
