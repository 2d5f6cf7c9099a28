"""The REST API (django-ninja): the same scoped, audited domain calls as the pages, with an
OpenAPI document at ``/api/openapi.json`` and interactive docs at ``/api/docs``. Authentication is
the platform's session (CSRF enforced on writes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import NinjaAPI, Query, Schema
from ninja.security import django_auth

from tagcloud.web.accounts.masking import mask_msisdn
from tagcloud.web.accounts.models import AuditAction, AuditEvent
from tagcloud.web.reference.models import Region
from tagcloud.web.views.access import scope

api = NinjaAPI(
    title="Tagcloud API",
    version="1",
    description="Customer tags, audiences and customer lookup, scoped to the caller's region.",
    auth=django_auth,
    urls_namespace="api",
)


class Error(Schema):
    detail: str


class Me(Schema):
    username: str
    role: str | None
    region_id: str | None
    scope: str
    everything: bool
    permissions: list[str]


class RegionOut(Schema):
    region_id: str
    name: str
    name_en: str
    level: str
    parent_id: str | None


class AuditOut(Schema):
    at: datetime
    username: str
    role: str
    action: str
    target: str
    rows: int


class AuditFilter(Schema):
    action: AuditAction | None = None
    limit: int = 100


class MaskOut(Schema):
    masked: str


def need(request: HttpRequest, perm: str) -> None:
    """Refuse (403) unless the caller holds ``accounts.<perm>``."""
    if not request.user.has_perm(f"accounts.{perm}"):
        raise PermissionDenied(f"role lacks permission {perm}")


@api.exception_handler(PermissionDenied)
def _denied(request: HttpRequest, exc: Exception) -> Any:
    return api.create_response(request, {"detail": str(exc) or "permission denied"}, status=403)


@api.get("/me", response=Me, summary="Who am I: role, region scope and permissions")
def me(request: HttpRequest) -> dict[str, Any]:
    user: Any = request.user
    profile = getattr(user, "profile", None)
    sc = scope(request)
    perms = sorted(p.split(".", 1)[1] for p in user.get_all_permissions() if p.startswith("accounts."))
    return {
        "username": user.get_username(),
        "role": profile.role_id if profile else None,
        "region_id": profile.region_id if profile else None,
        "scope": sc.label,
        "everything": sc.everything,
        "permissions": perms,
    }


@api.get("/regions", response=list[RegionOut], summary="Regions inside the caller's scope")
def regions(request: HttpRequest) -> Any:
    return scope(request).filter_queryset(Region.objects.all(), "region_id").order_by("region_id")


@api.get("/audit", response={200: list[AuditOut], 403: Error}, summary="The audit log (administrators)")
def audit(request: HttpRequest, filters: Query[AuditFilter]) -> Any:
    need(request, "view_audit")
    qs = AuditEvent.objects.all()
    if filters.action:
        qs = qs.filter(action=filters.action)
    return qs[: max(1, min(filters.limit, 1000))]


@api.get("/mask/{msisdn}", response=MaskOut, summary="How a number is shown to roles that may not unmask")
def mask(request: HttpRequest, msisdn: str) -> dict[str, str]:
    return {"masked": mask_msisdn(msisdn)}
