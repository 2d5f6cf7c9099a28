"""Login lockout (django-axes) glue: the client address it counts by, and unlocking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def client_ip(request: Any) -> str:
    """The address django-axes counts failures by: the audit log's (behind the proxy, the address
    it forwarded), so a lockout and its audit events name the same address."""
    from tagcloud.web.accounts.audit import client_ip as audit_ip

    return audit_ip(request) or "0.0.0.0"


@dataclass(frozen=True)
class Lockout:
    """One account or address with failures on record."""

    username: str
    ip_address: str
    failures: int
    locked: bool


def lockouts() -> list[Lockout]:
    """Every username/address with failed logins on record, locked ones first."""
    from axes.models import AccessAttempt
    from django.conf import settings
    from django.db.models import Sum

    limit = int(settings.AXES_FAILURE_LIMIT)
    by_user = dict(
        AccessAttempt.objects.values_list("username").annotate(n=Sum("failures_since_start")).order_by()
    )
    by_ip = dict(
        AccessAttempt.objects.values_list("ip_address").annotate(n=Sum("failures_since_start")).order_by()
    )
    out = [
        Lockout(a.username or "", a.ip_address or "", a.failures_since_start, False)
        for a in AccessAttempt.objects.order_by("-attempt_time")
    ]
    out = [
        Lockout(
            x.username,
            x.ip_address,
            x.failures,
            (by_user.get(x.username) or 0) >= limit or (by_ip.get(x.ip_address) or 0) >= limit,
        )
        for x in out
    ]
    return sorted(out, key=lambda x: not x.locked)


def unlock(request: Any, by: str, username: str | None = None, ip_address: str | None = None) -> int:
    """Clear the failures of an account and/or an address (an administrator's unlock); audited.
    Returns how many records were cleared."""
    from axes.utils import reset

    from tagcloud.web.accounts.audit import record_sign_in
    from tagcloud.web.accounts.models import AuditAction

    if not username and not ip_address:
        raise ValueError("unlock: name an account (username) or an address (ip_address)")
    n = 0
    if username:
        n += int(reset(username=username))
    if ip_address:
        n += int(reset(ip=ip_address))
    record_sign_in(
        request, AuditAction.UNLOCKED, username or ip_address or "", by=by, ip_address=ip_address, cleared=n
    )
    return n


def lockout_response(request: Any, original_response: Any, credentials: Any) -> Any:
    """The page a locked-out login gets (HTTP 429): how many failures, for how long, whom to ask."""
    from django.conf import settings
    from django.shortcuts import render

    cool_off = settings.AXES_COOLOFF_TIME
    minutes = int(cool_off.total_seconds() // 60) if cool_off else 0
    ctx = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    return render(request, "security/locked_out.html", ctx, status=429)
