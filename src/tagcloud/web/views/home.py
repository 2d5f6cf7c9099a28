"""Home dashboard (首页): subscribers in scope, tag build status and freshness, the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tagcloud.web.accounts.models import AuditAction, AuditEvent
from tagcloud.web.views.access import require, scope
from tagcloud.web.warehouse import build_status


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard of the logged-in user."""
    ctx: dict[str, Any] = {"build": build_status(), "scope": scope(request)}
    return render(request, "home.html", ctx)


@require("view_audit")
def audit_log(request: HttpRequest) -> HttpResponse:
    """Browse the audit log of unmasks, exports and lookups (filter by action and user)."""
    qs = AuditEvent.objects.all()
    action = request.GET.get("action", "")
    if action in AuditAction.values:
        qs = qs.filter(action=action)
    user = request.GET.get("user", "").strip()
    if user:
        qs = qs.filter(username__icontains=user)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request, "audit.html", {"page": page, "actions": AuditAction.choices, "action": action, "user": user}
    )
