"""The REST API (django-ninja): the same scoped, audited domain calls as the pages, with an
OpenAPI document at ``/api/openapi.json`` and interactive docs at ``/api/docs``. Authentication is
the platform's session (CSRF enforced on writes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import NinjaAPI, Query, Schema, Status

from tagcloud.web.accounts.masking import mask_msisdn
from tagcloud.web.accounts.models import AuditAction, AuditEvent
from tagcloud.web.api_common import ServiceUnavailable
from tagcloud.web.api_common import engine as _engine
from tagcloud.web.reference.models import Region
from tagcloud.web.views.access import Needs, answers, scope

api = NinjaAPI(
    title="Tagcloud API",
    version="1",
    description="Customer tags, audiences and customer lookup, scoped to the caller's region.",
    auth=Needs(),  # any logged-in user; routes that need more say auth=Needs(perm, ...)
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


@api.exception_handler(PermissionDenied)
def _denied(request: HttpRequest, exc: Exception) -> Any:
    return api.create_response(request, {"detail": str(exc) or "permission denied"}, status=403)


@api.get("/me", response=answers(Me), summary="Who am I: role, region scope and permissions")
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


@api.get("/regions", response=answers(list[RegionOut]), summary="Regions inside the caller's scope")
def regions(request: HttpRequest) -> Any:
    return scope(request).filter_queryset(Region.objects.all(), "region_id").order_by("region_id")


@api.get(
    "/audit",
    response=answers({200: list[AuditOut], 403: Error}),
    summary="The audit log (administrators)",
    auth=Needs("view_audit"),
)
def audit(request: HttpRequest, filters: Query[AuditFilter]) -> Any:
    qs = AuditEvent.objects.all()
    if filters.action:
        qs = qs.filter(action=filters.action)
    return qs[: max(1, min(filters.limit, 1000))]


@api.get(
    "/mask/{msisdn}", response=answers(MaskOut), summary="How a number is shown to roles that may not unmask"
)
def mask(request: HttpRequest, msisdn: str) -> dict[str, str]:
    return {"masked": mask_msisdn(msisdn)}


class CountIn(Schema):
    conditions: list[str]


class CountOut(Schema):
    count: int
    condition: str
    scope: str | None


class ConditionProblem(Schema):
    detail: str
    row: int
    start: int
    end: int
    suggestion: str | None = None


class TagOut(Schema):
    name: str
    name_zh: str
    name_en: str
    category: str
    kind: str
    count: int | None
    definition_zh: str
    definition_en: str


class CustomerOut(Schema):
    msisdn: str
    build_id: str
    city_id: str | None
    county_id: str | None
    township_id: str | None
    values: dict[str, Any]


class GroupOut(Schema):
    name: str
    kind: str
    members: int
    condition: str
    created_at: datetime


@api.exception_handler(ServiceUnavailable)
def _unavailable(request: HttpRequest, exc: Exception) -> Any:
    return api.create_response(request, {"detail": str(exc)}, status=503)


@api.post(
    "/audience/count",
    response=answers({200: CountOut, 403: Error, 422: ConditionProblem, 503: Error}),
    summary="Count the subscribers in the caller's region matching every condition (ANDed)",
    auth=Needs("build_audience"),
)
def audience_count(request: HttpRequest, body: CountIn) -> Any:
    from tagcloud.tags.condition import ConditionError, parse_condition
    from tagcloud.web.audiences.builder import combine_rows

    eng = _engine(request)
    rows = [c for c in body.conditions if c.strip()]
    names = eng.names()
    for i, text in enumerate(rows):
        try:
            parse_condition(text, names)
        except ConditionError as e:
            problem = {"detail": e.message, "row": i + 1, "start": e.start, "end": e.end}
            return Status(422, {**problem, "suggestion": e.suggestion})
    condition = combine_rows(rows) or "TRUE"
    return {"count": eng.count(condition), "condition": condition, "scope": eng.scope}


@api.get(
    "/tags",
    response=answers({200: list[TagOut], 503: Error}),
    summary="Attributes and tags; q searches names and 口径",
)
def tags(request: HttpRequest, q: str = "") -> Any:
    from tagcloud.web.engine import NoIndex, base_engine
    from tagcloud.web.taglib import library

    try:
        columns = base_engine().index.columns
    except NoIndex:
        columns = {}
    items = library.entries(columns)
    chosen = library.search(items, q) if q.strip() else list(items.values())
    return [
        {
            k: getattr(e, k)
            for k in (
                "name",
                "name_zh",
                "name_en",
                "category",
                "kind",
                "count",
                "definition_zh",
                "definition_en",
            )
        }
        for e in chosen
    ]


@api.get(
    "/customers/{msisdn}",
    response=answers({200: CustomerOut, 400: Error, 403: Error, 404: Error, 503: Error}),
    summary="Customer 360: one subscriber's tags (masked number; in the caller's region; audited)",
    auth=Needs("lookup_customer"),
)
def customer(request: HttpRequest, msisdn: str, unmask: bool = False) -> Any:
    from tagcloud.web.views.customer import lookup_in_scope

    _engine(request, unmask)  # 403 / 503 before any lookup
    try:
        found = lookup_in_scope(request, msisdn, unmask)
    except ValueError as e:
        return Status(400, {"detail": str(e)})
    except (KeyError, LookupError):
        return Status(404, {"detail": f"{mask_msisdn(msisdn)}: not in your region or not a subscriber"})
    row = dict(found["row"])
    head = {k: row.pop(k, None) for k in ("msisdn", "build_id", "city_id", "county_id", "township_id")}
    return {**head, "values": row}


@api.get(
    "/customers/{msisdn}/behaviour",
    response=answers({200: dict[str, Any], 400: Error, 403: Error, 404: Error, 503: Error}),
    summary="Customer 360: the last 30 days' calls, SMS, data by day, top apps, roaming, products held "
    "and service contacts (in the caller's region; audited like a lookup)",
    auth=Needs("lookup_customer"),
)
def customer_behaviour(request: HttpRequest, msisdn: str, unmask: bool = False) -> Any:
    from tagcloud.audience.dictionary import parse_number
    from tagcloud.data.customer import recent_behaviour
    from tagcloud.web.views.customer import lookup_in_scope
    from tagcloud.web.warehouse import warehouse_dir

    _engine(request, unmask)  # 403 / 503 before any lookup
    try:
        lookup_in_scope(request, msisdn, unmask)
    except ValueError as e:
        return Status(400, {"detail": str(e)})
    except (KeyError, LookupError):
        return Status(404, {"detail": f"{mask_msisdn(msisdn)}: not in your region or not a subscriber"})
    b = recent_behaviour(warehouse_dir(), str(int(parse_number(msisdn))), unmask_peers=unmask)
    out = b.as_dict()
    out["msisdn"] = msisdn if unmask else mask_msisdn(msisdn)
    return out


@api.get(
    "/groups",
    response=answers(list[GroupOut]),
    summary="Saved groups visible in the caller's region",
    auth=Needs("build_audience"),
)
def groups(request: HttpRequest) -> Any:
    from tagcloud.web.audiences.models import SavedGroup

    return scope(request).filter_queryset(SavedGroup.objects.all(), "region_id")[:500]


# Touchpoint offers and feedback (the campaigns' page family owns them).
from tagcloud.web.campaigns.api import router as _touchpoints  # noqa: E402

api.add_router("/touchpoints", _touchpoints)

from tagcloud.web.jobs.api import router as jobs_router  # noqa: E402  (the jobs app's routes)

api.add_router("/jobs", jobs_router)
# Next-best-offer decisions for channel systems and agents (real-time marketing).
from tagcloud.web.realtime.api import router as _decide  # noqa: E402

api.add_router("/touchpoints", _decide)
