"""URL map: pages, the admin, the API and Django's language switch."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from tagcloud.web.api import api
from tagcloud.web.views import home

urlpatterns = [
    path("", home.home, name="home"),
    path("audit/", home.audit_log, name="audit"),
    path("login/", auth_views.LoginView.as_view(template_name="login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
