"""``/account/…``: the password-change page."""

from __future__ import annotations

from django.urls import path

from tagcloud.web.security import views

app_name = "security"
urlpatterns = [path("password/", views.PasswordChange.as_view(), name="password-change")]
