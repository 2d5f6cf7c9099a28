"""Home dashboard (首页): subscribers in scope, tag build status and freshness, the audit log."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language

from tagcloud.web.accounts.models import AuditAction, AuditEvent
from tagcloud.web.audiences.models import SavedGroup
from tagcloud.web.engine import NoIndex, base_engine, engine_for
from tagcloud.web.taglib.models import OPEN_STATES, TagChangeProposal
from tagcloud.web.views.access import require, scope
from tagcloud.web.warehouse import build_status


@require()
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard of the logged-in user."""
    sc = scope(request)
    ctx: dict[str, Any] = {"build": build_status(), "scope": sc, "subscribers": None}
    try:
        # Subscribers the user may see: the engine's count with their scope ANDed in.
        ctx["subscribers"] = engine_for(request).count("TRUE")
        ctx["index_build"] = base_engine().index.build_id
        ctx["build_rows"] = ctx["build"].meta.get("rows") or base_engine().index.subscribers
    except (NoIndex, PermissionDenied, ValueError, KeyError):
        pass
    ctx["map_json"] = json.dumps(township_map(sc), ensure_ascii=False)
    ctx["groups"] = sc.filter_queryset(SavedGroup.objects.select_related("owner"), "region_id")[:8]
    tasks = []
    if request.user.has_perm("accounts.review_tag_change"):
        tasks += list(
            TagChangeProposal.objects.filter(status__in=OPEN_STATES).exclude(proposer=request.user)[:10]
        )
    ctx["tasks"] = tasks
    ctx["my_proposals"] = TagChangeProposal.objects.filter(proposer=request.user)[:5]
    return render(request, "home.html", ctx)


def township_map(sc: Any) -> list[list[Any]]:
    """Townships in scope as [lon, lat, subscribers, name]: the centre of their cells (reference
    data) and their subscriber count in the current index (its manifest), for the dashboard map."""
    from django.db.models import Avg

    from tagcloud.web.reference.models import Cell

    try:
        counts = base_engine().index.columns.get("township_id", {}).get("counts", {})
    except NoIndex:
        counts = {}
    cells = sc.filter_queryset(Cell.objects.all(), "township_id")
    rows = cells.values("township_id", "township__name", "township__name_en").annotate(
        lat=Avg("lat"), lon=Avg("lon")
    )
    # English pages label the map with the English names where the reference data has them.
    name = "township__name_en" if (get_language() or "").startswith("en") else "township__name"
    return [
        [
            round(r["lon"], 4),
            round(r["lat"], 4),
            int(counts.get(r["township_id"], 0)),
            r[name] or r["township__name"],
        ]
        for r in rows
    ]


@require("view_audit")
def audit_log(request: HttpRequest) -> HttpResponse:
    """Browse the audit log of unmasks, exports and lookups (filter by action and user)."""
    qs = AuditEvent.objects.all()
    action = request.GET.get("action", "")
    if action in AuditAction.values:
        qs = qs.filter(action=action)
    who = request.GET.get("user", "").strip()
    if who:
        qs = qs.filter(username__icontains=who)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request, "audit.html", {"page": page, "actions": AuditAction.choices, "action": action, "who": who}
    )
