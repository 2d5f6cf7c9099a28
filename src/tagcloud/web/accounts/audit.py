"""Writing the audit log: every unmask, export and customer lookup, and refused attempts."""

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
        ip=request.META.get("REMOTE_ADDR") or None,
    )
