"""Tag library (标签库): the category tree with counts, search by name or 口径, a tag's page
(口径 zh/en, rule, lineage, owner, status, versions, coverage chart) and change proposals that go
through review."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tagcloud.web.engine import NoIndex, base_engine
from tagcloud.web.taglib import governance, library
from tagcloud.web.taglib.models import ProposalStatus, TagChangeProposal
from tagcloud.web.views.access import require
from tagcloud.web.warehouse import warehouse_dir


def _columns() -> tuple[dict[str, Any], int]:
    try:
        idx = base_engine().index
    except NoIndex:
        return {}, 0
    return idx.columns, idx.subscribers


@require()
@require_GET
def library_page(request: HttpRequest) -> HttpResponse:
    """The tree of categories with their tags, and search results for ``q``."""
    lang = get_language() or "zh-hans"
    columns, subscribers = _columns()
    items = library.entries(columns)
    q = request.GET.get("q", "")
    return render(
        request,
        "tags/library.html",
        {
            "tree": library.tree(items, lang),
            "q": q,
            "results": library.search(items, q) if q else None,
            "subscribers": subscribers,
            "total": len(items),
            "lang": lang,
        },
    )


@require()
@require_GET
def tag_page(request: HttpRequest, name: str) -> HttpResponse:
    """One attribute or tag: 口径, rule, lineage, owner, status, versions, coverage, proposals."""
    columns, subscribers = _columns()
    items = library.entries(columns)
    entry = items.get(name)
    if entry is None:
        raise Http404(f"no attribute or tag {name!r}")
    cat = library.catalogue()
    lineage = None
    if cat is not None and name in cat.depends:
        lineage = cat.lineage(name)
    elif "reads" in entry.extra:  # a knowledge tag: its inputs, and theirs down to warehouse columns
        reads = [r for r in entry.extra["reads"] if cat is not None and r in cat.depends]
        lineage = {
            "inputs": entry.extra["reads"],
            "columns": sorted({c for r in reads for c in cat.lineage(r)["columns"]}) if cat else [],
            "used_by": [],
        }
    points = library.coverage(warehouse_dir() / "index", name)
    return render(
        request,
        "tags/tag.html",
        {
            "e": entry,
            "tag": entry.extra.get("tag"),
            "attr": entry.extra.get("attr"),
            "meta": columns.get(name, {}),
            "subscribers": subscribers,
            "lineage": lineage,
            "coverage_json": json.dumps(
                [
                    {
                        "title": _("覆盖率 %"),
                        "labels": [p["build"] for p in points],
                        "values": [p["share"] for p in points],
                        "line": True,
                    }
                ],
                ensure_ascii=False,
            ),
            "has_coverage": bool(points),
            "proposals": TagChangeProposal.objects.filter(tag=name).select_related("proposer", "reviewer"),
            # The governed versions in the application database (tagcloud web load-tags, approvals).
            "versions": governance.versions(name),
            "lang": get_language() or "zh-hans",
        },
    )


@require("propose_tag_change")
@require_POST
def propose(request: HttpRequest, name: str) -> HttpResponse:
    """Propose a change of a tag's rule and/or 口径; a new rule is checked before it is accepted."""
    columns, _ = _columns()
    if name not in library.entries(columns):
        raise Http404(f"no attribute or tag {name!r}")
    rule = request.POST.get("rule", "").strip()
    reason = request.POST.get("reason", "").strip()
    if not reason:
        messages.error(request, "请写明变更原因 / give a reason")
        return redirect("tag", name=name)
    if rule:
        from tagcloud.tags.condition import ConditionError, parse_condition

        cat = library.catalogue()
        # Names the catalogue defines and names the current build holds (either may be missing).
        names: dict[str, Any] = dict(cat.names()) if cat is not None else {}
        with contextlib.suppress(NoIndex):
            names.update(base_engine().names())
        try:
            parse_condition(rule, names)
        except ConditionError as e:
            messages.error(request, f"规则有误 / rule: {e}")
            return redirect("tag", name=name)
    from tagcloud.tags.catalogue import CatalogueError

    try:  # the whole catalogue's checks (types, cycles, offline inputs), as an approval would run them
        governance.check_proposal(
            name, rule, request.POST.get("definition_zh", ""), request.POST.get("definition_en", "")
        )
    except CatalogueError as e:
        messages.error(request, f"变更未通过检查 / the change does not check: {e}")
        return redirect("tag", name=name)
    TagChangeProposal.objects.create(
        tag=name,
        rule=rule,
        definition_zh=request.POST.get("definition_zh", "").strip(),
        definition_en=request.POST.get("definition_en", "").strip(),
        reason=reason,
        proposer=request.user,
    )
    messages.success(request, "变更申请已提交, 等待审核 / proposal submitted for review")
    return redirect("tag", name=name)


@require("review_tag_change")
@require_POST
def review(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or reject an open proposal (never one's own)."""
    p = get_object_or_404(TagChangeProposal, pk=pk)
    decision = request.POST.get("decision")
    if p.status != ProposalStatus.PROPOSED:
        messages.error(request, "该申请已审核 / already reviewed")
    elif p.proposer_id == request.user.pk:
        messages.error(request, "不能审核自己的申请 / you cannot review your own proposal")
    elif decision not in ("approve", "reject"):
        messages.error(request, "decision must be approve or reject")
    elif decision == "approve":
        from tagcloud.tags.catalogue import CatalogueError

        try:
            tag = governance.approve_proposal(
                p, request.user, request.POST.get("note", "").strip(), warehouse_dir()
            )
        except CatalogueError as e:  # the catalogue moved on since it was proposed: it stays open
            messages.error(request, f"变更未通过检查 / the change does not check: {e}")
        else:
            online = f" → v{tag.version} {tag.status.value}" if tag is not None else ""
            messages.success(request, f"{p.tag}: {p.get_status_display()}{online}")
    else:
        p.status = ProposalStatus.REJECTED
        p.reviewer = request.user
        p.review_note = request.POST.get("note", "").strip()
        p.reviewed_at = timezone.now()
        p.save()
        messages.success(request, f"{p.tag}: {p.get_status_display()}")
    return redirect("tag", name=p.tag)
