"""Writing the audit log: every unmask, export and customer lookup, refused attempts, and every
sign-in, sign-out, failed login, lockout and unlock."""

from __future__ import annotations

from typing import Any

from tagcloud.web.accounts.models import AuditEvent


def record(request: Any, action: Any, target: str, rows: int = 0, **detail: Any) -> AuditEvent:
    """Write one audit event (an ``AuditAction``) for the request's user; target is a masked number,
    a group or a condition."""
    key = getattr(request, "api_key", None) or getattr(request, "api_key_refused", None)
    if key is not None:  # a channel system's API key (web.realtime): audited under the key's id
        detail = {"api_key": key.key_id, "system": key.name, **detail}
    user = request.user if getattr(request.user, "is_authenticated", False) else None
    if getattr(request, "api_key", None) is not None:
        user = None  # the key acts, not a session that may ride along
    profile = getattr(user, "profile", None) if user is not None else None
    username = (
        user.get_username() if user is not None else (f"apikey:{key.key_id}" if key is not None else "")
    )
    return AuditEvent.objects.create(
        user=user,
        username=username,
        role=profile.role_id
        if profile is not None
        else ("superuser" if user and user.is_superuser else ("channel_system" if key is not None else "")),
        action=action,
        target=target[:200],
        rows=rows,
        detail=detail,
        ip=client_ip(request),
    )


def client_ip(request: Any) -> str | None:
    """The client's address: behind the HTTPS proxy (``SECURE_PROXY_SSL_HEADER`` set) the address
    the proxy appended to X-Forwarded-For, else the socket's."""
    if request is None:
        return None
    from django.conf import settings

    meta = getattr(request, "META", {})
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = [a.strip() for a in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if a.strip()]
        if forwarded:
            return _address(forwarded[-1])
    return _address(meta.get("REMOTE_ADDR"))


def _address(raw: Any) -> str | None:
    import ipaddress

    try:
        return str(ipaddress.ip_address(str(raw or "").strip()))
    except ValueError:
        return None  # the audit field holds addresses only; a malformed header is not one


def record_sign_in(request: Any, action: Any, username: str, user: Any = None, **detail: Any) -> AuditEvent:
    """Write one sign-in event (login, logout, failure, lockout, unlock): the account named is
    ``username`` (as typed, for failures of accounts that may not exist)."""
    profile = getattr(user, "profile", None) if user is not None else None
    role = profile.role_id if profile is not None else ("superuser" if user and user.is_superuser else "")
    return AuditEvent.objects.create(
        user=user if user is not None and getattr(user, "pk", None) else None,
        username=username[:150],
        role=role,
        action=action,
        target=username[:200],
        detail=detail,
        ip=client_ip(request),
    )
