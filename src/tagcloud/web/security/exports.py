"""Exports of phone numbers: how many rows a role may take in one file, and the watermark each row
carries (who, when, which audit event), so a leaked file — or a few rows cut from it — names its
exporter. Numbers are masked unless the role may unmask and asks to (views decide, masking.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone


class ExportTooLarge(ValueError):
    """An export over the caller's cap; the message says the cap and how to get under it."""


def export_cap(user: Any, unmasked: bool) -> int:
    """Rows one export may hold for the user: ``EXPORT_CAPS`` by role code, else by the role's
    region level (superusers: province); whole numbers get ``EXPORT_CAP_UNMASKED_SHARE`` of it."""
    caps: dict[str, int] = dict(getattr(settings, "EXPORT_CAPS", {}) or {})
    profile = getattr(user, "profile", None)
    role = getattr(profile, "role", None)
    if role is not None and role.code in caps:
        cap = int(caps[role.code])
    elif role is not None:
        cap = int(caps.get(role.scope_level, 0))
    else:
        cap = int(caps.get("province", 0)) if getattr(user, "is_superuser", False) else 0
    if unmasked:
        cap = int(cap * float(getattr(settings, "EXPORT_CAP_UNMASKED_SHARE", 1.0)))
    return cap


def check_export(user: Any, rows: int, unmasked: bool) -> None:
    """Raise ``ExportTooLarge`` when ``rows`` is over the user's cap."""
    cap = export_cap(user, unmasked)
    if rows > cap:
        kind = "unmasked" if unmasked else "masked"
        raise ExportTooLarge(
            f"{rows:,} numbers is over your role's {kind} export limit of {cap:,}; "
            "narrow the condition or split the audience into tiers"
        )


def watermark(user: Any, event_id: int, at: dt.datetime | None = None) -> str:
    """``<login> <local time> audit#<id>``: written into every row of the file."""
    when = timezone.localtime(at or timezone.now()).strftime("%Y-%m-%dT%H:%M:%S%z")
    return f"{user.get_username()} {when} audit#{event_id}"
