"""Pages of the regional markets. Views are thin: they check the permission and the region, call
``service`` / ``tagcloud.regions`` / the audience engine, and render."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tagcloud.regions import cells as cells_mod
from tagcloud.regions import competition as comp
from tagcloud.regions import hotareas, markets, rural
from tagcloud.tags.condition import ConditionError
from tagcloud.web.accounts.audit import record
from tagcloud.web.accounts.models import AuditAction
from tagcloud.web.engine import NoIndex, engine_for
from tagcloud.web.markets import service
from tagcloud.web.markets.models import (
    CellTask,
    CellVersion,
    CompetitionAttachment,
    CompetitionRead,
    CompetitionReply,
    CompetitionReport,
    HotArea,
    Message,
    TownshipInfo,
    TownshipInfoVersion,
)
from tagcloud.web.reference.models import Cell, Region
from tagcloud.web.views.access import require, scope

PAGE = 50
PROFILE = ("brand", "age_band", "rural_type_model", "campus_student_model")  # a hot area's profile columns


def _en() -> bool:
    return (get_language() or "").startswith("en")


def _label(pairs: dict[str, tuple[str, str]], key: str) -> str:
    pair = pairs.get(key)
    return (pair[1] if _en() else pair[0]) if pair else key


def _choices(pairs: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, _label(pairs, k)) for k in pairs]


def _region_name(r: Region) -> str:
    return (r.name_en or r.region_id) if _en() else r.name


def _scoped_regions(
    request: HttpRequest, levels: tuple[str, ...] = ("city", "county", "township")
) -> list[Region]:
    sc = scope(request)
    qs = Region.objects.filter(level__in=levels)
    if not sc.everything:
        qs = qs.filter(region_id__in=sc.region_ids)
    return list(qs.order_by("region_id"))


def _need_region(request: HttpRequest) -> None:
    if scope(request).empty:
        raise PermissionDenied("this account has no region: ask an administrator to assign one")


# -- home -----------------------------------------------------------------------------------------


@require(
    any_of=(
        "report_competition",
        "review_competition",
        "manage_hot_area",
        "maintain_cells",
        "review_cells",
        "edit_township_info",
        "build_audience",
    )
)
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The regional markets' start page: what waits for the user."""
    _need_region(request)
    inbox = Message.objects.filter(user=request.user, read=False)[:20]
    return render(request, "markets/index.html", {"inbox": inbox})


# -- competition ----------------------------------------------------------------------------------


def _report_for(request: HttpRequest, pk: int) -> CompetitionReport:
    r = get_object_or_404(CompetitionReport.objects.select_related("region", "reporter"), pk=pk)
    sc = scope(request)
    if not (service.in_scope(r, sc) or r.shared):
        record(request, AuditAction.DENIED, f"competition report {pk}", region=r.region_id)
        raise Http404("no such report in your region")
    return r


@require(any_of=("report_competition", "review_competition"))
@require_GET
def competition_feed(request: HttpRequest) -> HttpResponse:
    """The feed (竞争信息动态): newest first, this month or history, filters, "new" until opened."""
    _need_region(request)
    sc = scope(request)
    qs = service.visible_reports(sc)
    period = request.GET.get("period", "month")
    month_start = timezone.localdate().replace(day=1)
    qs = (
        qs.filter(created_at__date__gte=month_start)
        if period == "month"
        else qs.filter(created_at__date__lt=month_start)
    )
    for key in ("competitor", "kind", "state", "impact"):
        v = request.GET.get(key, "")
        if v:
            qs = qs.filter(**{key: v})
    if request.GET.get("shared") == "1":
        qs = qs.filter(shared=True)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(text__icontains=q))
    reports = list(qs[:PAGE])
    read = set(
        CompetitionRead.objects.filter(user=request.user, report__in=reports).values_list(
            "report_id", flat=True
        )
    )
    rows = [
        {
            "r": r,
            "new": r.pk not in read,
            "competitor": _label(comp.COMPETITORS, r.competitor),
            "kind": _label(comp.KINDS, r.kind),
            "region": _region_name(r.region),
            "state": _state_label(r.state),
            "outside": not service.in_scope(r, sc),
        }
        for r in reports
    ]
    return render(
        request,
        "markets/competition_feed.html",
        {
            "rows": rows,
            "period": period,
            "filters": request.GET,
            "competitors": _choices(comp.COMPETITORS),
            "kinds": _choices(comp.KINDS),
            "impacts": _choices(comp.IMPACTS),
            "states": [(s.value, _state_label(s.value)) for s in comp.CompetitionState],
        },
    )


def _action_label(action: str) -> str:
    labels = {"report": _("上报"), "verify": _("审核通过"), "reject": _("驳回"), "respond": _("确定应对方案")}
    return labels.get(action, action)


def _state_label(state: str) -> str:
    labels = {
        "reported": _("待业务室主任确认"),
        "office_verified": _("待主管副经理审核"),
        "county_verified": _("待市公司审核分发"),
        "distributed": _("待营销主管应对"),
        "responded": _("已确定应对方案"),
        "rejected": _("已驳回"),
    }
    return labels.get(state, state)


@require("report_competition")
def competition_new(request: HttpRequest) -> HttpResponse:
    """Report a competitor's move: type, region, date, text, impact, photos or files."""
    sc = scope(request)
    if sc.empty:
        raise PermissionDenied("this account has no region")
    regions = _scoped_regions(request)
    ctx: dict[str, Any] = {
        "regions": [(r.region_id, _region_name(r)) for r in regions],
        "competitors": _choices(comp.COMPETITORS),
        "kinds": _choices(comp.KINDS),
        "impacts": _choices(comp.IMPACTS),
        "max_mb": comp.MAX_UPLOAD_BYTES // 2**20,
        "types": ", ".join(sorted(comp.UPLOAD_TYPES)),
        "form": request.POST or {"happened_on": timezone.localdate().isoformat(), "region_id": sc.root},
    }
    if request.method != "POST":
        return render(request, "markets/competition_new.html", ctx)
    p = request.POST
    errors = []
    data = {
        k: p.get(k, "").strip()
        for k in ("competitor", "kind", "region_id", "title", "text", "impact", "kpis")
    }
    for key, allowed in (("competitor", comp.COMPETITORS), ("kind", comp.KINDS), ("impact", comp.IMPACTS)):
        if data[key] not in allowed:
            errors.append(_("请选择%(field)s") % {"field": key})
    if not data["title"] or not data["text"]:
        errors.append(_("标题和内容必填"))
    try:
        data["happened_on"] = dt.date.fromisoformat(p.get("happened_on", ""))
    except ValueError:
        errors.append(_("日期格式应为 YYYY-MM-DD"))
    if not errors:
        try:
            r = service.create_report(request.user, sc, data, request.FILES.getlist("files"))
        except (comp.UploadError, comp.WorkflowError) as e:
            errors.append(str(e))
        else:
            messages.success(request, _("竞争信息已上报"))
            return redirect("markets-competition", pk=r.pk)
    ctx["errors"] = errors
    return render(request, "markets/competition_new.html", ctx, status=422)


@require(any_of=("report_competition", "review_competition"))
@require_GET
def competition_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _need_region(request)
    r = _report_for(request, pk)
    sc = scope(request)
    CompetitionRead.objects.get_or_create(report=r, user=request.user)
    replies = list(r.replies.select_related("author"))
    children: dict[int | None, list[CompetitionReply]] = {}
    for rep in replies:
        children.setdefault(rep.parent_id, []).append(rep)

    def thread(parent: int | None, depth: int) -> list[dict[str, Any]]:
        out = []
        for rep in children.get(parent, []):
            out.append({"reply": rep, "depth": min(depth, 4)})
            out += thread(rep.pk, depth + 1)
        return out

    actor = service.actor_for(request.user, sc)
    report = service._as_report(r)
    can_verify = can_respond = False
    if service.in_scope(r, sc):
        try:
            comp.next_state(report, comp.Action.REJECT, actor, service.policy(), "x")
            can_verify = True
        except comp.WorkflowError:
            pass
        try:
            comp.next_state(report, comp.Action.RESPOND, actor, service.policy(), "x")
            can_respond = True
        except comp.WorkflowError:
            pass
    return render(
        request,
        "markets/competition_detail.html",
        {
            "r": r,
            "competitor": _label(comp.COMPETITORS, r.competitor),
            "kind": _label(comp.KINDS, r.kind),
            "impact": _label(comp.IMPACTS, r.impact),
            "region": _region_name(r.region),
            "state": _state_label(r.state),
            "events": [
                {"e": e, "state": _state_label(e.to_state), "action": _action_label(e.action)}
                for e in r.events.all()
            ],
            "thread": thread(None, 0),
            "attachments": r.attachments.all(),
            "can_verify": can_verify,
            "can_respond": can_respond,
            "at_city_step": r.state == comp.CompetitionState.COUNTY_VERIFIED,
            "heads": service.marketing_heads(r.region_id)
            if r.state == comp.CompetitionState.COUNTY_VERIFIED
            else [],
            "may_reply": service.may_reply(sc) and service.in_scope(r, sc),
            "recipients": r.recipients.select_related("user"),
            "kpi_charts": _kpi_charts(r),
        },
    )


def _kpi_charts(r: CompetitionReport) -> list[dict[str, Any]]:
    """Line charts of the linked KPIs (the response's effect), as the profile charts draw them."""
    from tagcloud.web.warehouse import warehouse_dir

    out = []
    for c in service.kpi_course(r.kpi_names(), r.region_id, r.created_at.date(), warehouse_dir()):
        title = c.get("name_en" if _en() else "name") or c["kpi"]
        if "error" in c:
            out.append({"title": c["kpi"], "error": c["error"]})
        else:
            out.append({"title": title, "labels": c["labels"], "values": c["values"], "line": True})
    return out


@require(any_of=("report_competition", "review_competition", "design_campaign"))
@require_POST
def competition_act(request: HttpRequest, pk: int) -> HttpResponse:
    """One step of the chain: verify (with proposal / grade + recipients), reject, respond."""
    _need_region(request)
    r = _report_for(request, pk)
    if not service.in_scope(r, scope(request)):
        raise PermissionDenied("this report is outside your region")
    p = request.POST
    try:
        importance = int(p["importance"]) if p.get("importance") else None
    except ValueError:
        importance = None
    try:
        service.act(
            r,
            request.user,
            scope(request),
            p.get("action", ""),
            p.get("comment", ""),
            p.getlist("recipients"),
            importance,
            p.get("shared") == "1",
        )
    except comp.WorkflowError as e:
        messages.error(request, str(e))
        return redirect("markets-competition", pk=pk)
    messages.success(request, _("已处理"))
    return redirect("markets-competition", pk=pk)


@require(any_of=("report_competition", "review_competition"))
@require_POST
def competition_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """A threaded reply (跟帖), county level and above, in the report's region."""
    _need_region(request)
    r = _report_for(request, pk)
    sc = scope(request)
    if not (service.may_reply(sc) and service.in_scope(r, sc)):
        raise PermissionDenied("replies are for county level and above, in the report's region")
    text = request.POST.get("text", "").strip()
    if not text:
        messages.error(request, _("回复内容不能为空"))
        return redirect("markets-competition", pk=pk)
    parent = request.POST.get("parent") or None
    if parent is not None and not r.replies.filter(pk=parent).exists():
        raise Http404("no such reply")
    CompetitionReply.objects.create(report=r, parent_id=parent, author=request.user, text=text[:4000])
    return redirect("markets-competition", pk=pk)


@require(any_of=("report_competition", "review_competition"))
@require_GET
def competition_file(request: HttpRequest, pk: int, aid: int) -> HttpResponse:
    _need_region(request)
    r = _report_for(request, pk)
    a = get_object_or_404(CompetitionAttachment, pk=aid, report=r)
    resp = FileResponse(a.file.open("rb"), as_attachment=True, filename=a.name)
    resp["X-Content-Type-Options"] = "nosniff"
    return resp


# -- hot areas ------------------------------------------------------------------------------------


def _scoped_cells(request: HttpRequest) -> list[Cell]:
    sc = scope(request)
    qs = Cell.objects.all()
    if not sc.everything:
        qs = qs.filter(township_id__in=sc.region_ids)
    return list(qs.order_by("cell_id"))


def _area_visible(sc: Any, region_id: str) -> bool:
    """An area drawn in the user's region, or above it (a county's campus for its township manager:
    the engine's scope still limits him to his township's subscribers)."""
    from tagcloud.web.accounts.scope import _parent_map, descendants

    return sc.allows(region_id) or (sc.root is not None and sc.root in descendants(region_id, _parent_map()))


def _area_for(request: HttpRequest, pk: int) -> HotArea:
    a = get_object_or_404(HotArea.objects.select_related("region"), pk=pk)
    if not _area_visible(scope(request), a.region_id):
        record(request, AuditAction.DENIED, f"hot area {pk}", region=a.region_id)
        raise Http404("no such hot area in your region")
    return a


@require(any_of=("manage_hot_area", "build_audience"))
@require_GET
def hotarea_list(request: HttpRequest) -> HttpResponse:
    """Hot areas of the user's region and the map to draw a new one (cells as an ECharts scatter)."""
    _need_region(request)
    sc = scope(request)
    areas = [a for a in HotArea.objects.select_related("region", "owner") if _area_visible(sc, a.region_id)]
    cells = [
        {"id": c.cell_id, "value": [c.lon, c.lat], "area": c.area_type, "site": c.site_name or ""}
        for c in _scoped_cells(request)
    ]
    return render(
        request,
        "markets/hotareas.html",
        {
            "areas": areas,
            "cells": cells,
            "kinds": HotArea.Kind.choices,
            "may_draw": request.user.has_perm("accounts.manage_hot_area"),
        },
    )


@require("manage_hot_area")
@require_POST
def hotarea_save(request: HttpRequest) -> HttpResponse:
    """Save a drawn area: a polygon (cells inside it) and/or picked cells, within the user's region."""
    sc = scope(request)
    if sc.empty or sc.root is None:
        raise PermissionDenied("this account has no region")
    name = request.POST.get("name", "").strip()[:80]
    kind = request.POST.get("kind", "other")
    basis = request.POST.get("basis", "either")
    try:
        polygon = json.loads(request.POST.get("polygon") or "[]")
        picked = json.loads(request.POST.get("cells") or "[]")
        if not isinstance(picked, list) or not isinstance(polygon, list):
            raise ValueError
    except ValueError:
        return render(request, "markets/_error.html", {"message": _("多边形或小区列表格式错误")}, status=422)
    try:
        if not name:
            raise hotareas.HotAreaError(_("请填写名称"))
        if kind not in HotArea.Kind.values or basis not in hotareas.Basis.__members__.values():
            raise hotareas.HotAreaError(_("类型或归属依据无效"))
        mine = _scoped_cells(request)
        chosen = set(str(c) for c in picked)
        if polygon:
            import numpy as np

            chosen |= set(
                hotareas.cells_in_polygon(
                    [c.cell_id for c in mine],
                    np.array([c.lat for c in mine]),
                    np.array([c.lon for c in mine]),
                    polygon,
                )
            )
        allowed = {c.cell_id for c in mine}
        outside = sorted(chosen - allowed)
        if outside:
            raise hotareas.HotAreaError(_("小区不在您的区域内: %(c)s") % {"c": outside[0]})
        cells = hotareas.check_cells(chosen)
    except hotareas.HotAreaError as e:
        return render(request, "markets/_error.html", {"message": str(e)}, status=422)
    a = HotArea.objects.create(
        name=name, kind=kind, basis=basis, cells=cells, polygon=polygon, region_id=sc.root, owner=request.user
    )
    resp = HttpResponse(status=204)
    resp["HX-Redirect"] = f"/markets/hotareas/{a.pk}/"
    return resp


def _area_condition(eng: Any, a: HotArea, view: str) -> str:
    cols = eng.index.columns
    if view == "students":
        return markets.school_condition(a.cells, cols)
    return hotareas.membership_condition(a.cells, a.basis, cols)


@require(any_of=("manage_hot_area", "build_audience"))
@require_GET
def hotarea_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An area's subscribers (masked, paged), profile and count; ``view=students`` for the school
    market's rule on a campus."""
    _need_region(request)
    a = _area_for(request, pk)
    view = request.GET.get("view", "all")
    ctx: dict[str, Any] = {"a": a, "view": view, "region": _region_name(a.region)}
    try:
        eng = engine_for(request)
        condition = _area_condition(eng, a, view)
        started = time.perf_counter()
        members = eng.members(condition)
        page = eng.list_members(
            members, limit=PAGE, columns=tuple(c for c in ("brand", "age_band") if c in eng.index.columns)
        )
        prof_cols: list[str] = [c for c in PROFILE if c in eng.index.columns]
        prof = eng.profile(members, prof_cols) if prof_cols else None
        ctx.update(
            count=len(members),
            rows=page.to_dicts(),
            columns=page.columns,
            condition=condition,
            ms=round(1000 * (time.perf_counter() - started), 1),
            season=markets.school_season(timezone.localdate())[1 if _en() else 0],
        )
        if prof is not None:
            from tagcloud.web.taglib.library import value_label
            from tagcloud.web.views.audience import label

            lang = get_language() or "zh-hans"
            charts = []
            for name in prof_cols:
                part = prof.filter(prof["column"] == name)
                charts.append(
                    {
                        "title": label(eng.index.columns[name], name),
                        "labels": [
                            "∅" if v is None else value_label(name, str(v), lang)
                            for v in part["value"].to_list()
                        ],
                        "values": part["members"].to_list(),
                    }
                )
            ctx["charts"] = charts
    except (NoIndex, hotareas.HotAreaError) as e:
        ctx["error"] = str(e)
    return render(request, "markets/hotarea.html", ctx)


@require("build_audience")
@require_POST
def hotarea_group(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the area's subscribers (or its students) as an audience group / campaign target."""
    from tagcloud.audience.groups import save_group
    from tagcloud.web.audiences.models import SavedGroup

    a = _area_for(request, pk)
    name = request.POST.get("name", "").strip()
    try:
        eng = engine_for(request)
        condition = _area_condition(eng, a, request.POST.get("view", "all"))
        if SavedGroup.objects.filter(name=name).exists():
            raise ValueError(f"group name {name!r} is taken; choose another")
        info = save_group(eng, name, condition)
    except (NoIndex, ValueError, FileExistsError) as e:
        messages.error(request, str(e))
        return redirect("markets-hotarea", pk=pk)
    SavedGroup.objects.create(
        name=info.name,
        kind=info.kind,
        condition=info.condition,
        members=info.members,
        owner=request.user,
        region_id=scope(request).root,
    )
    messages.success(request, _("已保存为客户群 %(n)s (%(m)s 人)") % {"n": info.name, "m": info.members})
    return redirect("markets-hotarea", pk=pk)


@require("build_audience", "export_audience")
@require_POST
def hotarea_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The area's list as CSV, masked unless the role may unmask and asks to; audited either way."""
    a = _area_for(request, pk)
    unmask = request.POST.get("unmask") == "1"
    try:
        eng = engine_for(request, unmask=unmask)
        condition = _area_condition(eng, a, request.POST.get("view", "all"))
    except (NoIndex, hotareas.HotAreaError) as e:
        return render(request, "markets/_error.html", {"message": str(e)}, status=422)
    members = eng.members(condition)
    record(
        request,
        AuditAction.UNMASK if unmask else AuditAction.EXPORT,
        f"hot area {a.pk}: {condition}",
        rows=len(members),
        scope=eng.scope,
        unmasked=unmask,
        build_id=eng.index.build_id,
    )

    def pages() -> Any:
        yield "msisdn,city_id,county_id,township_id\n"
        for offset in range(0, len(members), 50_000):
            yield eng.list_members(members, offset=offset, limit=50_000).write_csv(include_header=False)

    resp = StreamingHttpResponse(pages(), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="hotarea-{a.pk}.csv"'
    return resp


# -- rural market ---------------------------------------------------------------------------------


@require(any_of=("edit_township_info", "build_audience"))
@require_GET
def rural_index(request: HttpRequest) -> HttpResponse:
    """The township info base of the user's region, the rural segments' counts and table 2."""
    _need_region(request)
    sc = scope(request)
    towns = service.editable_townships(sc)
    infos = {i.township_id: i for i in TownshipInfo.objects.filter(township_id__in=list(towns))}
    rows = [{"id": t, "name": n, "info": infos.get(t)} for t, n in sorted(towns.items())]
    segments = []
    try:
        eng = engine_for(request)
        if "rural_type_model" in eng.index.columns:
            for key, (zh, en, cond) in rural.SEGMENTS.items():
                segments.append(
                    {"key": key, "label": en if _en() else zh, "count": eng.count(cond), "condition": cond}
                )
    except NoIndex:
        pass
    channel = None
    month = request.GET.get("month", "")
    if month:
        try:
            from tagcloud.data.warehouse import Warehouse
            from tagcloud.web.warehouse import warehouse_dir

            con = Warehouse(warehouse_dir()).connect(threads=1)
            try:
                tbl = rural.channel_monitoring(con, month)
            finally:
                con.close()
            channel = [r for r in tbl.to_pylist() if sc.allows(r["township_id"])]
        except Exception as e:  # a warehouse without the tables: say so on the page
            messages.error(request, f"{month}: {e}")
    return render(
        request,
        "markets/rural.html",
        {"rows": rows, "segments": segments, "channel": channel, "month": month, "fields": rural.FIELDS},
    )


def _field_rows(info: TownshipInfo | None) -> list[dict[str, Any]]:
    return [
        {
            "name": f,
            "label": rural.EN[f] if _en() else rural.ZH[f],
            "value": "" if info is None or getattr(info, f) is None else getattr(info, f),
        }
        for f in rural.FIELDS
        if f != "township_id"
    ]


@require(any_of=("edit_township_info", "build_audience"))
def rural_township(request: HttpRequest, township_id: str) -> HttpResponse:
    """One township's record: edit (a new version each save) and its history."""
    _need_region(request)
    sc = scope(request)
    towns = service.editable_townships(sc)
    if township_id not in towns:
        raise Http404("no such township in your region")
    info = TownshipInfo.objects.filter(township_id=township_id).first()
    errors: list[str] = []
    if request.method == "POST":
        if not request.user.has_perm("accounts.edit_township_info"):
            raise PermissionDenied("role lacks permission edit_township_info")
        raw = {f: request.POST.get(f, "") for f in rural.FIELDS}
        raw["township_id"] = township_id
        recs, errs = rural.validate_rows([raw], {township_id: towns[township_id]})
        if errs:
            errors = [e.message for e in errs]
        else:
            changed = service.save_township(township_id, recs[0], request.user, "form")
            messages.success(request, _("已保存") if changed else _("没有变化"))
            return redirect("markets-township", township_id=township_id)
    history = TownshipInfoVersion.objects.filter(township_id=township_id).select_related("by")[:50]
    return render(
        request,
        "markets/township.html",
        {
            "tid": township_id,
            "name": towns[township_id],
            "fields": _field_rows(info),
            "history": history,
            "errors": errors,
            "may_edit": request.user.has_perm("accounts.edit_township_info"),
        },
        status=422 if errors else 200,
    )


@require("edit_township_info")
@require_POST
def rural_import(request: HttpRequest) -> HttpResponse:
    """Import the info base from a CSV/XLSX sheet: all rows or none, with every row's errors."""
    f = request.FILES.get("sheet")
    if f is None:
        return render(request, "markets/_import.html", {"fatal": _("请选择文件")}, status=422)
    try:
        rows = rural.read_sheet(f.read(rural.MAX_SHEET_BYTES + 1), f.name)
    except rural.SheetError as e:
        return render(request, "markets/_import.html", {"fatal": str(e)}, status=422)
    changed, errors = service.import_townships(rows, scope(request), request.user, f.name)
    status = 422 if errors else 200
    return render(
        request,
        "markets/_import.html",
        {"errors": errors, "changed": changed, "rows": len(rows)},
        status=status,
    )


# -- special markets ------------------------------------------------------------------------------


@require("build_audience")
@require_GET
def special(request: HttpRequest) -> HttpResponse:
    """Migrant, family and school markets: counts of each view in the user's region, a masked page
    of the chosen one, the festival windows and the school season."""
    views = []
    chosen = request.GET.get("view", "")
    page = None
    circles = None
    error = None
    try:
        eng = engine_for(request)
        for key, (zh, en, cond) in markets.VIEWS.items():
            try:
                n = eng.count(cond)
            except ConditionError:  # this build has not the model's tags
                continue
            views.append({"key": key, "label": en if _en() else zh, "condition": cond, "count": n})
        if chosen in markets.VIEWS and any(v["key"] == chosen for v in views):
            members = eng.members(markets.VIEWS[chosen][2])
            page = eng.list_members(members, limit=PAGE).to_dicts()
            if chosen.startswith("family"):
                circles = _family_circles(request, eng, members)
    except NoIndex as e:
        error = str(e)
    acquisition = None
    if chosen == "migrant_others":
        acquisition = _competitor_migrants(request)
    windows = []
    try:
        from tagcloud.data.warehouse import Warehouse
        from tagcloud.web.warehouse import warehouse_dir

        con = Warehouse(warehouse_dir()).connect(threads=1)
        try:
            windows = markets.festival_windows(con, timezone.localdate() - dt.timedelta(days=30)).to_pylist()[
                :12
            ]
        finally:
            con.close()
    except Exception:  # no calendar in this warehouse
        windows = []
    return render(
        request,
        "markets/special.html",
        {
            "views": views,
            "chosen": chosen,
            "page": page,
            "error": error,
            "windows": windows,
            "circles": circles,
            "acquisition": acquisition,
            "season": markets.school_season(timezone.localdate())[1 if _en() else 0],
        },
    )


def _family_circles(request: HttpRequest, eng: Any, members: Any) -> list[dict[str, Any]] | str:
    """The family circles of the listed members (first page), numbers masked unless allowed."""
    import numpy as np

    from tagcloud.web.accounts.masking import mask_msisdn, may_unmask
    from tagcloud.web.warehouse import warehouse_dir

    ids = np.frombuffer(members[:PAGE].to_array(), dtype=np.uint32)
    numbers = [str(int(x)) for x in np.asarray(eng.index.dictionary.msisdn_by_id[ids])]
    try:
        tbl = markets.family_circles(warehouse_dir(), numbers)
    except FileNotFoundError as e:
        return str(e)
    show = (lambda n: n) if may_unmask(request.user) else mask_msisdn
    return [
        {
            "group": show(r["family_group"]),
            "size": r["family_size"],
            "head": show(r["head"]),
            "members": [show(x) for x in r["members"]],
            "prospect": r["recommend_family_plan"],
        }
        for r in tbl.to_pylist()
    ]


def _competitor_migrants(request: HttpRequest) -> list[dict[str, Any]] | str:
    """The acquisition list: off-net migrant workers calling home to townships in scope (masked)."""
    from tagcloud.web.accounts.masking import mask_msisdn
    from tagcloud.web.warehouse import warehouse_dir

    sc = scope(request)
    towns = None if sc.everything else sorted(sc.region_ids)
    try:
        tbl = markets.competitor_migrants(warehouse_dir(), towns, limit=PAGE)
    except FileNotFoundError as e:
        return str(e)
    return [{**r, "msisdn": mask_msisdn(r["msisdn"])} for r in tbl.to_pylist()]


# -- cell maintenance -----------------------------------------------------------------------------


def _tasks(request: HttpRequest) -> Any:
    sc = scope(request)
    qs = CellTask.objects.select_related("township", "classified_by")
    if not sc.everything:
        qs = qs.filter(township_id__in=sc.region_ids)
    return qs


@require(any_of=("maintain_cells", "review_cells"))
@require_GET
def cells_index(request: HttpRequest) -> HttpResponse:
    _need_region(request)
    tasks = list(_tasks(request)[:200])
    counts = dict(_tasks(request).values_list("state").annotate(n=Count("id")))
    return render(
        request,
        "markets/cells.html",
        {
            "tasks": tasks,
            "counts": counts,
            "classes": [(k, v[1] if _en() else v[0], v[2]) for k, v in cells_mod.CLASSES.items()],
            "may_classify": request.user.has_perm("accounts.maintain_cells"),
            "may_review": request.user.has_perm("accounts.review_cells"),
            "versions": CellVersion.objects.filter(cell_id__in=[t.cell_id for t in tasks])[:50],
        },
    )


@require("maintain_cells")
@require_POST
def cells_detect(request: HttpRequest) -> HttpResponse:
    """Compare the warehouse's latest cell drop with the reference cells; open tasks."""
    from tagcloud.web.warehouse import warehouse_dir

    try:
        n = service.detect_cell_changes(cells_mod.feed_cells(warehouse_dir()))
    except Exception as e:  # no cells table in the warehouse
        messages.error(request, str(e)[:300])
        return redirect("markets-cells")
    messages.success(request, _("发现 %(n)s 个小区变更") % {"n": n})
    return redirect("markets-cells")


def _task_for(request: HttpRequest, pk: int) -> CellTask:
    t = get_object_or_404(CellTask, pk=pk)
    sc = scope(request)
    if not sc.everything and (t.township_id is None or not sc.allows(t.township_id)):
        raise Http404("no such cell change in your region")
    return t


@require("maintain_cells")
@require_POST
def cells_classify(request: HttpRequest, pk: int) -> HttpResponse:
    t = _task_for(request, pk)
    p = request.POST
    try:
        service.classify_cell(
            t, request.user, p.get("klass", ""), p.get("area_type", ""), p.get("channel", "")[:20]
        )
    except ValueError as e:
        messages.error(request, str(e))
    return redirect("markets-cells")


@require("review_cells")
@require_POST
def cells_review(request: HttpRequest, pk: int) -> HttpResponse:
    t = _task_for(request, pk)
    try:
        service.review_cell(
            t, request.user, request.POST.get("decision") == "approve", request.POST.get("comment", "")
        )
    except ValueError as e:
        messages.error(request, str(e))
    return redirect("markets-cells")


@require()
@require_POST
def message_read(request: HttpRequest, pk: int) -> HttpResponse:
    Message.objects.filter(pk=pk, user=request.user).update(read=True)
    return redirect("markets")
