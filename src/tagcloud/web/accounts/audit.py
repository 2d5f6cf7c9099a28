"""Writing the audit log: every unmask, export and customer lookup, and refused attempts."""

from __future__ import annotations

from typing import Any

from tagcloud.web.accounts.models import AuditEvent


def record(request: Any, action: Any, target: str, rows: int = 0, **detail: Any) -> AuditEvent:
    """Write one audit event (an ``AuditAction``) for the request's user; target is a masked number,
    a group or a condition."""
    user = request.user if getattr(request.user, "is_authenticated", False) else None
    profile = getattr(user, "profile", None) if user is not None else None
    return AuditEvent.objects.create(
        user=user,
        username=user.get_username() if user is not None else "",
        role=profile.role_id if profile is not None else ("superuser" if user and user.is_superuser else ""),
        action=action,
        target=target[:200],
        rows=rows,
        detail=detail,
        ip=request.META.get("REMOTE_ADDR") or None,
    )
