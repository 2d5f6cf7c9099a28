"""``/account/…``: the password-change page."""

from __future__ import annotations

from django.urls import path

from tagcloud.web.security import views
from tagcloud.web.views.access import require

app_name = "security"
# any logged-in user (declared for the authorization matrix; the view also requires a login itself)
urlpatterns = [path("password/", require()(views.PasswordChange.as_view()), name="password-change")]
