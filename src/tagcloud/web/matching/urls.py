from __future__ import annotations

from django.urls import path

from tagcloud.web.matching import views

urlpatterns = [path("", views.report, name="matching")]
