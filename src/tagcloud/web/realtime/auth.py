"""Who calls the touchpoint API: a person (the session, with its CSRF check, as everywhere) or a
channel system (``X-API-Key: tck_…`` or ``Authorization: Bearer tck_…``). A request that presents
a key is judged by the key alone — a bad key is refused (401) even when a session cookie rides
along. A key's region becomes the request's region scope, so every region check downstream (the
audience engine's lookup, the audit log) treats the system like a person assigned to that region."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import AuthenticationError
from ninja.security import APIKeyHeader, django_auth

from tagcloud.web.accounts.audit import record
from tagcloud.web.accounts.models import AuditAction


def presented_key(request: HttpRequest) -> str | None:
    key = request.headers.get("X-API-Key")
    if key:
        return key
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


def key_scope(key: Any) -> Any:
    """The region scope of a key: its region and everything below it (the people's rule)."""
    from tagcloud.web.accounts.scope import _parent_map, scope_for_region

    r = key.region
    parents = {} if r.level == "province" else _parent_map()
    return scope_for_region(r.region_id, r.level, parents, r.name, r.name_en)


class SessionOrKey(APIKeyHeader):
    """django-ninja auth: a channel system's key, else the person's session (CSRF-checked)."""

    param_name = "X-API-Key"

    def __init__(self, *perms: str) -> None:
        super().__init__()
        # what a person (a session) must hold; read by the authorization matrix (tests/robustness)
        self.permissions: tuple[str, ...] = perms

    def __call__(self, request: HttpRequest) -> Any:
        text = presented_key(request)
        if text is None:
            user = django_auth(request)
            if user and any(not user.has_perm(f"accounts.{p}") for p in self.permissions):
                raise PermissionDenied(f"role lacks permission {', '.join(self.permissions)}")
            return user
        return self.authenticate(request, text)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        from tagcloud.web.realtime.models import ApiKey

        found, why = ApiKey.find(key or "")
        if why:
            request.api_key_refused = found
            record(request, AuditAction.DENIED, f"api {request.path}", reason=why,
                   api_key=found.key_id if found else (key or "")[:16])  # fmt: skip
            raise AuthenticationError(401, f"API key refused: {why}")
        assert found is not None
        request.api_key = found
        request._tagcloud_scope = key_scope(found)
        _touch(found)
        return found


SESSION_OR_KEY = SessionOrKey("serve_touchpoint")
_last_touch: dict[int, float] = {}
TOUCH_EVERY_S = 60.0  # "last used" to the minute: a write per call would cost more than the call


def _touch(key: Any) -> None:
    import time

    from tagcloud.web.realtime.models import ApiKey

    now = time.monotonic()
    if now - _last_touch.get(key.pk, -1e9) >= TOUCH_EVERY_S:
        _last_touch[key.pk] = now
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())


def touchpoint_caller(request: HttpRequest, channel: str) -> None:
    """Refuse (403, audited) unless the caller may serve ``channel``: a person holding
    ``serve_touchpoint``, or a key issued for that channel."""
    key = getattr(request, "api_key", None)
    if key is None:
        if not request.user.has_perm("accounts.serve_touchpoint"):
            raise PermissionDenied("role lacks permission serve_touchpoint")
        return
    if channel not in key.channels:
        record(
            request,
            AuditAction.DENIED,
            f"api {request.path}",
            reason=f"channel {channel} not in key's channels",
        )
        raise PermissionDenied(f"this key serves {', '.join(key.channels) or 'no channel'}, not {channel}")
