"""Per request, for signed-in users: sign out after ``SESSION_IDLE_SECONDS`` without a request
(audited as a logout for idleness), and send a user whose password is older than
``PASSWORD_MAX_AGE_DAYS`` to the password-change page until they change it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

LAST_SEEN = "_tagcloud_last_seen"
TOUCH_EVERY = 60  # seconds: the idle clock is kept to the minute, not written on every request
# Paths a user with an expired password may still open (besides the change page itself).
OPEN_PREFIXES = ("/static/", "/i18n/", "/logout/", "/login/")


class SessionAndPasswordAgeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            last = request.session.get(LAST_SEEN)
            idle = int(getattr(settings, "SESSION_IDLE_SECONDS", 0) or 0)
            if idle > 0 and last is not None and now - int(last) > idle:
                request.tagcloud_logout_reason = "idle"
                logout(request)
                return self._to_login(request)
            if last is None or now - int(last) >= TOUCH_EVERY:
                request.session[LAST_SEEN] = now
            expired = self._expired(request, user)
            if expired is not None:
                return expired
        return self.get_response(request)

    def _to_login(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": "session expired after inactivity; sign in again"}, status=401)
        url = f"{reverse('login')}?next={request.path}"
        if request.headers.get("HX-Request"):
            resp = HttpResponse(status=204)
            resp["HX-Redirect"] = url  # htmx fragments: the whole page goes to the login
            return resp
        return redirect(url)

    def _expired(self, request: HttpRequest, user: Any) -> HttpResponse | None:
        change = reverse("security:password-change")
        if request.path == change or request.path.startswith(OPEN_PREFIXES):
            return None
        from tagcloud.web.security.passwords import password_expired

        if not password_expired(user):
            return None
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"detail": f"password expired; change it at {change} before using the API"}, status=403
            )
        if request.headers.get("HX-Request"):
            resp = HttpResponse(status=204)
            resp["HX-Redirect"] = change
            return resp
        return redirect(f"{change}?expired=1")
