"""Alert pages: the inbox and list (scoped), rules (with chain validation), raising by hand, one
alert (numbers, drill-down, the loop's actions for whoever's turn it is, comments, tracking chart)
and the history search. Views parse, check permission and region, call ``service``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tagcloud.regions import alerts as al
from tagcloud.regions.kpi import KPIS, get_kpi
from tagcloud.web.alerts import service
from tagcloud.web.alerts.models import KIND_CHOICES, LEVEL_CHOICES, Alert, AlertRule, InboxMessage
from tagcloud.web.reference.models import Region
from tagcloud.web.views.access import require, scope

VIEW_PERMS = ("handle_alert", "manage_alert_rule")


def _alert(request: HttpRequest, pk: int) -> Alert:
    """The alert if it lies in the user's scope; else 404 (no probing of other regions)."""
    a = Alert.objects.select_related("region", "rule", "reporter", "owner").filter(pk=pk).first()
    if a is None or not service.visible(a, scope(request)):
        raise Http404(f"no alert {pk}")
    return a


def _scoped(request: HttpRequest) -> Any:
    return scope(request).filter_queryset(Alert.objects.select_related("region"), "region_id")


def _kpi_name(kpi_id: str, lang: str) -> str:
    k = get_kpi(kpi_id)
    return k.name_en if lang == "en" else k.name


@require(any_of=VIEW_PERMS)
def alert_list(request: HttpRequest) -> HttpResponse:
    """The user's inbox (系统信息), the alerts waiting for them, and every open alert in scope."""
    qs = _scoped(request)
    open_alerts = list(qs.filter(state__in=[s.value for s in al.OPEN_STATES])[:200])
    mine = [
        a
        for a in open_alerts
        if (t := service.turn_of(a, request.user)) is not None
        and t == al.whose_turn(al.AlertState(a.state), a.step)
    ]
    tracking = list(qs.filter(state=al.AlertState.TRACKING.value)[:100])
    inbox = list(InboxMessage.objects.filter(recipient=request.user).select_related("alert")[:30])
    inbox = [m for m in inbox if service.visible(m.alert, scope(request))]
    return render(
        request,
        "alerts/list.html",
        {"mine": mine, "open_alerts": open_alerts, "tracking": tracking, "inbox": inbox, "nav": "alerts"},
    )


@require(any_of=VIEW_PERMS)
def history(request: HttpRequest) -> HttpResponse:
    """Closed alerts (tracking and history) searchable by keyword in the text, report and comments."""
    q = request.GET.get("q", "").strip()[:100]
    qs = _scoped(request).filter(state__in=[s.value for s in al.CLOSED_STATES])
    if q:
        qs = qs.filter(
            Q(text__icontains=q)
            | Q(report__icontains=q)
            | Q(events__text__icontains=q)
            | Q(region__name__icontains=q)
        ).distinct()
    return render(request, "alerts/history.html", {"alerts": list(qs[:200]), "q": q, "nav": "alerts"})


def _int(v: Any, default: int | None = None) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _float(v: Any, name: str, problems: list[str]) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        problems.append(_("%(name)s 须为数字") % {"name": name})
        return 0.0


def _chain_form(request: HttpRequest) -> tuple[int | None, list[int], int | None]:
    reviewers = [i for i in (_int(x) for x in request.POST.getlist("reviewers")) if i is not None]
    return _int(request.POST.get("reporter")), reviewers, _int(request.POST.get("owner"))


def _form_context(request: HttpRequest) -> dict[str, Any]:
    sc = scope(request)
    regions = Region.objects.order_by("region_id")
    if not sc.everything:
        regions = regions.filter(region_id__in=sc.region_ids)
    people = [(u.pk, service.display_name(u)) for u in service.candidates(request.user)]
    return {
        "kpis": KPIS,
        "kinds": KIND_CHOICES,
        "levels": LEVEL_CHOICES,
        "operators": al.OPERATORS,
        "regions": list(regions.values_list("region_id", "name", "level")[:2000]),
        "people": people,
    }


@require("manage_alert_rule")
def rules(request: HttpRequest) -> HttpResponse:
    """Alert rules in the user's scope, and the form to set a new one (chain checked at save)."""
    problems: list[str] = []
    if request.method == "POST":
        reporter, reviewers, owner = _chain_form(request)
        threshold = _float(request.POST.get("threshold"), _("门限值"), problems)
        min_volume = _float(request.POST.get("min_volume") or 0, _("最小样本量"), problems)
        if not problems:
            try:
                rule = service.save_rule(
                    service.RuleInput(
                        name=request.POST.get("name", ""), kpi=request.POST.get("kpi", ""),
                        region_id=request.POST.get("region", ""), level=request.POST.get("level", ""),
                        kind=request.POST.get("kind", ""), operator=request.POST.get("operator", ""),
                        threshold=threshold, reporter_id=reporter, reviewer_ids=reviewers, owner_id=owner,
                        channel=request.POST.get("channel", "*") or "*", min_volume=min_volume,
                        history_days=_int(request.POST.get("history_days"), 14) or 14,
                        due_days=_int(request.POST.get("due_days"), 3) or 3,
                        tracking_days=_int(request.POST.get("tracking_days"), 7) or 7,
                        report_url=request.POST.get("report_url", "")[:300],
                    ),
                    request.user,
                )  # fmt: skip
                messages.success(request, _("规则已保存: %(name)s") % {"name": rule.name})
                return redirect("alert-rules")
            except service.RuleError as e:
                problems = e.problems
    qs = scope(request).filter_queryset(
        AlertRule.objects.select_related("region", "reporter", "owner"), "region_id"
    )
    ctx = {
        "rules": list(qs[:200]),
        "problems": problems,
        "form": request.POST,
        "nav": "alerts",
        **_form_context(request),
    }
    return render(request, "alerts/rules.html", ctx, status=400 if problems else 200)


@require("manage_alert_rule")
def raise_alert(request: HttpRequest) -> HttpResponse:
    """A manager raises an alert by hand on any KPI of a place in scope, naming its chain."""
    problems: list[str] = []
    if request.method == "POST":
        reporter, reviewers, owner = _chain_form(request)
        try:
            day = dt.date.fromisoformat(request.POST.get("day", ""))
        except ValueError:
            problems.append(_("日期格式须为 YYYY-MM-DD"))
        if not problems:
            try:
                a = service.raise_by_hand(
                    request.user,
                    request.POST.get("kpi", ""),
                    request.POST.get("place", "").strip(),
                    day,
                    reporter,
                    reviewers,
                    owner,
                    request.POST.get("note", "")[:500],
                )
                return redirect("alert", pk=a.pk)
            except service.RuleError as e:
                problems = e.problems
    ctx = {"problems": problems, "form": request.POST, "nav": "alerts", **_form_context(request)}
    return render(request, "alerts/raise.html", ctx, status=400 if problems else 200)


@require(any_of=VIEW_PERMS)
def alert_page(request: HttpRequest, pk: int) -> HttpResponse:
    """One alert: numbers, explanation, chain and history of steps, actions, comments, tracking chart."""
    a = _alert(request, pk)
    InboxMessage.objects.filter(recipient=request.user, alert=a, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    turn = service.turn_of(a, request.user)
    now_turn = al.whose_turn(al.AlertState(a.state), a.step)
    my_turn = turn is not None and turn == now_turn
    actions: list[tuple[str, str]] = []
    if my_turn and now_turn is not None:
        if now_turn.role == al.Role.REPORTER:
            actions = (
                [("revise", _("修改并汇报"))]
                if a.state == al.AlertState.RETURNED.value
                else [("report", _("汇报"))]
            )
        elif now_turn.role == al.Role.REVIEWER:
            actions = [("approve", _("同意并上报")), ("return", _("退回修改"))]
        else:
            actions = [("close", _("结束流程")), ("return", _("退回修改"))]
    users = {u.pk: u for u in service.chain_users(a)}
    chain = [(_("汇报负责人"), users.get(a.reporter_id))]
    chain += [(_("审核人 %(n)s") % {"n": i + 1}, users.get(uid)) for i, uid in enumerate(a.reviewer_ids)]
    chain += [(_("最终负责人"), users.get(a.owner_id))]
    k = get_kpi(a.kpi)
    ctx = {
        "a": a,
        "kpi": k,
        "value": k.format(a.value),
        "baseline": k.format(a.baseline),
        "chain": chain,
        "current": service.current_user(a),
        "events": list(a.events.all()),
        "actions": actions,
        "can_comment": turn is not None,
        "explanation": a.explanation or {},
        "series": service.tracking_series(a),
        "nav": "alerts",
    }
    return render(request, "alerts/alert.html", ctx)


@require(any_of=VIEW_PERMS)
@require_POST
def act(request: HttpRequest, pk: int) -> HttpResponse:
    """The user whose turn it is acts (汇报 / 同意并上报 / 退回修改 / 结束流程); any participant comments."""
    a = _alert(request, pk)
    if service.turn_of(a, request.user) is None:
        raise PermissionDenied("not a participant of this alert")
    try:
        service.act(a, request.user, request.POST.get("action", ""), request.POST.get("text", "")[:4000])
    except al.AlertFlowError as e:
        messages.error(request, str(e))
        return redirect("alert", pk=a.pk)
    messages.success(request, _("已记录"))
    return redirect("alert", pk=a.pk)
