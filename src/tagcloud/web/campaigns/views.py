"""Campaign pages: list + design form, the campaign page (versions, approvals, approve / return,
run, call lists in and out, simulated responses), the approver inbox and the evaluation page.
Views parse the request, check role and region, call ``tagcloud.campaigns`` through ``service``."""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tagcloud.web.accounts.audit import record
from tagcloud.web.accounts.models import AuditAction
from tagcloud.web.audiences.models import SavedGroup
from tagcloud.web.campaigns import service
from tagcloud.web.engine import catalogue_columns, engine_for
from tagcloud.web.views.access import require, scope

ANY_CAMPAIGN = ("design_campaign", "approve_campaign", "run_campaign")


def _campaign(request: HttpRequest, store: Any, campaign_id: str) -> dict[str, Any]:
    """The campaign if it exists and lies in the user's scope; else 404 (no probing)."""
    try:
        c = store.get(campaign_id)
    except KeyError:
        raise Http404(f"no campaign {campaign_id}") from None
    if not service.visible(c, scope(request)):
        raise Http404(f"no campaign {campaign_id}")
    return dict(c)


def _numeric_columns() -> list[tuple[str, str]]:
    cols = catalogue_columns()
    return sorted((n, str(c.get("label_zh") or n)) for n, c in cols.items() if c.get("kind") == "number")


def _products() -> list[tuple[str, str]]:
    from tagcloud.web.reference.models import Product

    return list(Product.objects.order_by("product_id").values_list("product_id", "name"))


@require(any_of=ANY_CAMPAIGN)
def campaign_list(request: HttpRequest) -> HttpResponse:
    """Campaigns in the user's region (newest first), the approver's inbox, and the design form."""
    sc = scope(request)
    actor = service.actor_for(request.user, sc)
    with service.open_store() as store:
        ids = [r[0] for r in store.db.q("SELECT campaign_id FROM campaigns ORDER BY updated_at DESC")]
        rows = [c for c in (store.get(i) for i in ids) if service.visible(c, sc)]
        inbox = store.inbox(actor) if actor.can_approve else []
    groups = sc.filter_queryset(SavedGroup.objects.all(), "region_id").values_list("name", flat=True)
    return render(
        request,
        "campaigns/list.html",
        {
            "campaigns": rows,
            "inbox": inbox,
            "groups": list(groups[:200]),
            "numeric": _numeric_columns() if request.user.has_perm("accounts.design_campaign") else [],
            "products": _products(),
            "form": request.POST
            or request.GET
            or {},  # GET: a design prefilled from a link (a knowledge group)
            "default_start": (dt.datetime.now() + dt.timedelta(days=1)).strftime("%Y-%m-%dT10:00"),
        },
    )


@require("design_campaign")
@require_POST
def design(request: HttpRequest) -> HttpResponse:
    """Create a campaign from the design form (or a new version when editing a draft / returned
    one); ``submit`` in the form sends it for approval at once."""
    from tagcloud.campaigns.workflow import WorkflowError

    sc = scope(request)
    actor = service.actor_for(request.user, sc)
    group = request.POST.get("group", "").strip()
    if group and not sc.filter_queryset(SavedGroup.objects.filter(name=group), "region_id").exists():
        raise PermissionDenied(f"group {group!r} is not in your region")
    try:
        d = service.design_from_form(request.POST, actor, catalogue_columns())
        products = {p for p, _ in _products()}
        unknown = [s.offer_id for s in d.sub_campaigns if products and s.offer_id not in products]
        if unknown:
            raise service.DesignError(f"offers: {', '.join(unknown)} not in the product catalogue")
        with service.open_store() as store:
            exists = bool(store.db.q("SELECT 1 FROM campaigns WHERE campaign_id=?", (d.campaign_id,)))
            if exists:
                _campaign(request, store, d.campaign_id)
                store.edit(d, actor, note=request.POST.get("note") or None)
            else:
                store.create(d, actor)
            if request.POST.get("submit"):
                store.submit(d.campaign_id, actor)
    except (service.DesignError, WorkflowError) as e:
        messages.error(request, str(e))
        return _back(request)
    return redirect("campaign", campaign_id=d.campaign_id)


def _back(request: HttpRequest) -> HttpResponse:
    cid = request.POST.get("campaign_id", "")
    with service.open_store() as store:
        exists = bool(store.db.q("SELECT 1 FROM campaigns WHERE campaign_id=?", (cid,)))
    # A new design comes back filled in, with the error above it; an existing one shows its page.
    return redirect("campaign", campaign_id=cid) if exists else campaign_list(request)


def _form_of(d: Any) -> dict[str, Any]:
    """A saved design back in the form's fields (for editing a draft or returned campaign)."""
    high = d.sub_campaigns[0]
    attr, _, threshold = high.condition.partition(" >= ")
    call = next((w for w in d.waves if w.channel.value == "outbound"), None)
    group = d.target[len("in_group('") : -2] if d.target.startswith("in_group('") else ""
    return {
        "campaign_id": d.campaign_id,
        "name": d.name,
        "group": group,
        "condition": "" if group else d.target,
        "tier_attribute": attr,
        "tier_threshold": threshold,
        "offer_high": high.offer_id,
        "offer_rest": d.sub_campaigns[-1].offer_id,
        "sms_script": high.scripts.get("sms", ""),
        "call_script": high.scripts.get("outbound", ""),
        "call_after_days": call.after_days if call else "",
        "control_pct": f"{d.control_share * 100:g}",
        "priority": d.priority,
        "call_capacity": d.capacity.get("outbound", ""),
        "start": d.start.strftime("%Y-%m-%dT%H:%M"),
    }


@require(any_of=ANY_CAMPAIGN)
def campaign_page(request: HttpRequest, campaign_id: str) -> HttpResponse:
    """One campaign: its design (any version), versions, approvals, state and what the user may do."""
    from tagcloud.campaigns.execute import wave_status
    from tagcloud.campaigns.workflow import EDITABLE_STATES, CampaignState

    sc = scope(request)
    actor = service.actor_for(request.user, sc)
    with service.open_store() as store:
        c = _campaign(request, store, campaign_id)
        version = request.GET.get("version")
        d = store.design(campaign_id, int(version) if version and version.isdigit() else None)
        versions, approvals = store.versions(campaign_id), store.approvals(campaign_id)
        waiting_me = (
            any(x["campaign_id"] == campaign_id for x in store.inbox(actor)) if actor.can_approve else False
        )
    with service.open_ledger() as ledger:
        status = wave_status(ledger, campaign_id)
    mine = c["designer"] == actor.user
    return render(
        request,
        "campaigns/campaign.html",
        {
            "c": c,
            "d": d,
            "shown_version": d and (int(version) if version and version.isdigit() else c["version"]),
            "versions": versions,
            "approvals": approvals,
            "status": status,
            "can_edit": mine
            and c["state"] in EDITABLE_STATES
            and request.user.has_perm("accounts.design_campaign"),
            "can_review": waiting_me,
            "can_run": c["state"] in (CampaignState.APPROVED, CampaignState.RUNNING)
            and request.user.has_perm("accounts.run_campaign"),
            "call_lists": [p.name for p in service.call_lists(campaign_id)],
            "run": service.run_state(campaign_id),
            "simulator": service.simulator_dir() is not None,
            "form": _form_of(d),
            "groups": list(
                sc.filter_queryset(SavedGroup.objects.all(), "region_id").values_list("name", flat=True)[:200]
            ),
            "numeric": _numeric_columns(),
            "products": _products(),
            # run "as of" now, or the start while it is still ahead (a demo steps through the days)
            "now": max(d.start, dt.datetime.now()).strftime("%Y-%m-%dT%H:%M"),
            "default_start": d.start.strftime("%Y-%m-%dT%H:%M"),
        },
    )


@require("approve_campaign")
@require_POST
def review(request: HttpRequest, campaign_id: str) -> HttpResponse:
    """Approve or return (with a comment) the campaign waiting at the user's level."""
    from tagcloud.campaigns.workflow import WorkflowError

    actor = service.actor_for(request.user, scope(request))
    decision, comment = request.POST.get("decision", ""), request.POST.get("comment", "").strip()
    with service.open_store() as store:
        _campaign(request, store, campaign_id)
        try:
            if decision == "approve":
                store.approve(campaign_id, actor, comment or None)
            elif decision == "return":
                if not comment:
                    raise WorkflowError("returning a campaign needs a comment (comment)")
                store.return_(campaign_id, actor, comment)
            else:
                raise WorkflowError(f"decision {decision!r}: approve or return")
        except WorkflowError as e:
            messages.error(request, str(e))
    return redirect("campaign", campaign_id=campaign_id)


@require("design_campaign")
@require_POST
def submit(request: HttpRequest, campaign_id: str) -> HttpResponse:
    """Send a draft or returned campaign for approval (locks it)."""
    from tagcloud.campaigns.workflow import WorkflowError

    actor = service.actor_for(request.user, scope(request))
    with service.open_store() as store:
        c = _campaign(request, store, campaign_id)
        try:
            if c["designer"] != actor.user:
                raise WorkflowError(f"{actor.user} is not the designer of {campaign_id}")
            store.submit(campaign_id, actor)
        except WorkflowError as e:
            messages.error(request, str(e))
    return redirect("campaign", campaign_id=campaign_id)


def _when(request: HttpRequest) -> dt.datetime:
    raw = request.POST.get("now", "").strip()
    try:
        return dt.datetime.fromisoformat(raw) if raw else dt.datetime.now()
    except ValueError:
        raise service.DesignError(f"run time (now): {raw!r} is not a date and time") from None


@require("run_campaign")
@require_POST
def run(request: HttpRequest, campaign_id: str) -> HttpResponse:
    """Run the campaign's due waves as of a time, in the background: SMS over SMPP to the SMSC,
    call lists to files. The page polls ``run-state`` until the pass is done."""
    with service.open_store() as store:
        _campaign(request, store, campaign_id)
    try:
        service.start_run(campaign_id, engine_for(request), _when(request))
    except (ValueError, RuntimeError) as e:
        messages.error(request, str(e))
    return redirect("campaign", campaign_id=campaign_id)


@require(any_of=ANY_CAMPAIGN)
def run_state(request: HttpRequest, campaign_id: str) -> HttpResponse:
    """The latest background pass (fragment; polls itself while the pass runs)."""
    with service.open_store() as store:
        _campaign(request, store, campaign_id)
    return render(
        request,
        "campaigns/_run_state.html",
        {"c": {"campaign_id": campaign_id}, "run": service.run_state(campaign_id)},
    )


@require("run_campaign")
def call_list(request: HttpRequest, campaign_id: str, name: str) -> FileResponse:
    """Download one call list (whole numbers for the call centre; audited as an export)."""
    with service.open_store() as store:
        _campaign(request, store, campaign_id)
    paths = {p.name: p for p in service.call_lists(campaign_id)}
    if name not in paths:
        raise Http404(f"no call list {name}")
    rows = max(sum(1 for _ in paths[name].open(encoding="utf-8")) - 1, 0)
    record(request, AuditAction.EXPORT, f"call list {name}", rows, campaign=campaign_id)
    return FileResponse(paths[name].open("rb"), as_attachment=True, filename=name, content_type="text/csv")


def _only_this_campaign(ledger: Any, path: Path, campaign_id: str) -> None:
    """Refuse a results file naming contacts of another campaign (possibly another region's)."""
    import csv

    with path.open(newline="", encoding="utf-8") as f:
        ids = {r.get("contact_id", "") for r in csv.DictReader(f)}
    numeric = sorted(int(i) for i in ids if i.isdigit())  # malformed ids: the library names the line
    if not numeric:
        return
    mine = {
        int(r[0])
        for r in ledger.db.q(
            "SELECT contact_id FROM contacts WHERE campaign_id=? AND contact_id IN ("
            + ",".join(str(i) for i in numeric)
            + ")",
            (campaign_id,),
        )
    }
    other = [i for i in numeric if i not in mine]
    if other:
        raise ValueError(f"{path.name}: contact ids not in campaign {campaign_id}: {other[:5]}")


@require("run_campaign")
@require_POST
def call_results(request: HttpRequest, campaign_id: str) -> HttpResponse:
    """Upload the call centre's results CSV (contact_id, result[, called_at, note])."""
    from tagcloud.campaigns.execute import import_call_results

    with service.open_store() as store:
        _campaign(request, store, campaign_id)
    upload = request.FILES.get("results")
    if upload is None:
        messages.error(request, "call results (results): choose a CSV file")
        return redirect("campaign", campaign_id=campaign_id)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(upload.name or "results.csv").name
        path.write_bytes(upload.read())
        try:
            with service.open_ledger() as ledger:
                _only_this_campaign(ledger, path, campaign_id)
                counts = import_call_results(ledger, path, _when(request))
        except (ValueError, KeyError) as e:
            messages.error(request, str(e))
            return redirect("campaign", campaign_id=campaign_id)
    messages.success(request, f"call results: {counts}")
    return redirect("campaign", campaign_id=campaign_id)


@require("run_campaign")
@require_POST
def responses(request: HttpRequest, campaign_id: str) -> HttpResponse:
    """Let the reached subscribers answer from the simulator's ground truth (demo warehouses)."""
    with service.open_store() as store:
        _campaign(request, store, campaign_id)
    try:
        got = service.simulate(campaign_id)
        messages.success(request, f"simulated acceptances: {got}")
    except (ValueError, KeyError) as e:
        messages.error(request, str(e))
    return redirect("campaign", campaign_id=campaign_id)


def _pct(x: float) -> float:
    return _finite(100 * x)


def _finite(x: Any) -> float:
    """A chart value: NaN / infinite (an empty or success-free control) becomes 0, as JSON has neither."""
    import math

    try:
        v = float(x)
    except (TypeError, ValueError):
        return 0.0
    return round(v, 4) if math.isfinite(v) else 0.0


@require(any_of=ANY_CAMPAIGN)
def evaluation(request: HttpRequest, campaign_id: str) -> HttpResponse:
    """Action vs control: rates, lift, CI, p-value; by wave/channel, sub-campaign, branch and week."""
    with service.open_store() as store:
        _campaign(request, store, campaign_id)
    d, r = service.evaluation(campaign_id, engine_for(request))
    o = r.overall
    lo, hi = o.ci()
    charts: list[dict[str, Any]] = [
        {"title": _("成功率 % (行动组 / 对照组)"), "labels": [_("行动组"), _("对照组")],
         "values": [_pct(o.action_rate), _pct(o.control_rate)]},
    ]  # fmt: skip
    if r.contacts.height:
        labels = [
            f"wave {w} {ch} {st}" for w, ch, st in r.contacts.select(r.contacts.columns[:3]).iter_rows()
        ]
        charts.append(
            {
                "title": _("按波次接触"),
                "labels": labels,
                "values": [_finite(x) for x in r.contacts[r.contacts.columns[3]].to_list()],
            }
        )
    if r.responses.height:
        labels = [
            f"wave {w} {ch} {oc}" for w, ch, oc in r.responses.select(r.responses.columns[:3]).iter_rows()
        ]
        charts.append(
            {
                "title": _("按波次响应"),
                "labels": labels,
                "values": [_finite(x) for x in r.responses[r.responses.columns[3]].to_list()],
            }
        )
    if r.by_branch.height:
        charts.append({"title": _("分公司行动组成功率 %"), "labels": [str(x) for x in r.by_branch["county"].to_list()],
                       "values": [_pct(x) for x in r.by_branch["action_rate"].to_list()]})  # fmt: skip
        charts.append({"title": _("分公司对照组成功率 %"), "labels": [str(x) for x in r.by_branch["county"].to_list()],
                       "values": [_pct(x) for x in r.by_branch["control_rate"].to_list()]})  # fmt: skip
    if r.by_week.height:
        cols = r.by_week.columns
        charts.append({"title": _("每周成功 (行动组)"), "line": True,
                       "labels": [str(x) for x in r.by_week[cols[0]].to_list()], "values": [_finite(x) for x in r.by_week[cols[1]].to_list()]})  # fmt: skip
    return render(
        request,
        "campaigns/evaluation.html",
        {
            "d": d,
            "r": r,
            "o": o,
            "ci": (lo * 100, hi * 100),
            # percentage points; None when nothing succeeded yet (no variance to size a test with)
            "mde": None if math.isinf(mde := o.minimum_detectable_effect()) else mde * 100,
            "tables": [
                (title, df.columns, df.rows())
                for title, df in (
                    (_("按子活动"), r.by_sub_campaign),
                    (_("按波次与渠道"), r.contacts),
                    (_("按波次响应"), r.responses),
                    (_("使用变化 (前 / 后)"), r.usage),
                    (_("按分公司"), r.by_branch),
                    (_("按周"), r.by_week),
                )
            ],
            "charts_json": json.dumps(charts, ensure_ascii=False, default=str),
            "n_charts": range(len(charts)),
        },
    )
