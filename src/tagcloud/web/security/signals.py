"""Every sign-in event in the audit log: logins, logouts, failures (with the name typed), lockouts."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from tagcloud.web.accounts.audit import record_sign_in
from tagcloud.web.accounts.models import AuditAction


@receiver(user_logged_in, dispatch_uid="tagcloud-audit-login")
def _logged_in(sender: Any, request: Any, user: Any, **kw: Any) -> None:
    record_sign_in(request, AuditAction.LOGIN, user.get_username(), user)


@receiver(user_logged_out, dispatch_uid="tagcloud-audit-logout")
def _logged_out(sender: Any, request: Any, user: Any, **kw: Any) -> None:
    if user is not None:  # a logout without a session signs nobody out
        reason = getattr(request, "tagcloud_logout_reason", "") if request is not None else ""
        record_sign_in(request, AuditAction.LOGOUT, user.get_username(), user, reason=reason or "user")


@receiver(user_login_failed, dispatch_uid="tagcloud-audit-login-failed")
def _failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kw: Any) -> None:
    # Django has already replaced the password with asterisks in ``credentials``.
    username = str(credentials.get("username", "") or "")
    record_sign_in(
        request,
        AuditAction.LOGIN_FAILED,
        username,
        locked=bool(getattr(request, "axes_locked_out", False)),
        path=str(getattr(request, "path", ""))[:100],
    )


@receiver(user_locked_out, dispatch_uid="tagcloud-audit-locked-out")
def _locked(sender: Any, request: Any, username: str | None, ip_address: str | None, **kw: Any) -> None:
    record_sign_in(request, AuditAction.LOCKED_OUT, username or "", ip_address=ip_address)
