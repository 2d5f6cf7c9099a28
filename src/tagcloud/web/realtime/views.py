"""Real-time marketing pages: the rule library (list, write with the condition checked live against
the catalogue, test on yesterday's events, submit → approve through the campaign approval chain →
switch on / off, every version kept), channel systems' API keys, and the 10086 / hall agent's page
(the decided offers with their scripts, the contact memory and the earlier SMS, feedback).
Views are thin: they parse, check role and region, and call ``tagcloud.realtime``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tagcloud.web.campaigns import service as campaigns
from tagcloud.web.views.access import require, scope

RULE_PERMS = ("design_event_rule", "approve_campaign")


def open_rules() -> Any:
    """The rule store in the campaign database, approved along the campaigns' chain."""
    from tagcloud.realtime.rulestore import RuleStore

    with campaigns.open_store() as store:
        policy = store.policy
    return RuleStore(campaigns.db_url(), policy)


def catalogue() -> dict[str, Any]:
    """Names a rule's condition may use about the subscriber (the audience index's catalogue)."""
    from tagcloud.web.engine import base_engine

    return base_engine().names(with_groups=False)


def _rule(request: HttpRequest, store: Any, rule_id: str) -> dict[str, Any]:
    try:
        r = store.get(rule_id)
    except KeyError:
        raise Http404(f"no rule {rule_id}") from None
    if not campaigns.visible(r, scope(request)):
        raise Http404(f"no rule {rule_id}")
    return dict(r)


def check_condition(text: str, event_type: str, names: dict[str, Any]) -> dict[str, Any] | None:
    """None when ``text`` is a valid condition for ``event_type``; else where and why (with the
    closest name), in the audience builder's error style."""
    from tagcloud.realtime.events import event_names
    from tagcloud.tags.condition import ConditionError, parse_condition

    try:
        parse_condition(text or "TRUE", names, event_names=event_names(event_type))
    except ConditionError as e:
        return {"row": 1, "text": text, "message": e.message, "suggestion": e.suggestion,
                "before": text[: e.start], "bad": text[e.start : e.end], "after": text[e.end :]}  # fmt: skip
    return None


@require(any_of=RULE_PERMS)
def rule_list(request: HttpRequest) -> HttpResponse:
    """Rules in the user's region (newest change first), the approver's inbox, the new-rule link."""
    sc = scope(request)
    actor = campaigns.actor_for(request.user, sc)
    with open_rules() as store:
        rows = [r for r in store.rules() if campaigns.visible(r, sc)]
        inbox = store.inbox(actor) if actor.can_approve else []
    return render(request, "realtime/rules.html", {"rules": rows, "inbox": inbox})


def _design_from_form(form: Any, actor: Any, owner: str = "") -> Any:
    from pydantic import ValidationError

    from tagcloud.realtime.rulestore import RuleDesign

    def g(k: str, default: str = "") -> str:
        return str(form.get(k, "") or default).strip()

    raw: dict[str, Any] = {
        "rule_id": g("rule_id"), "name": g("name"), "event_type": g("event_type"), "condition": g("condition"),
        "offer_id": g("offer_id"), "script": g("script"), "channels": form.getlist("channels"),
        "priority": g("priority", "0"), "cap_per_subscriber": g("cap_per_subscriber", "1"),
        "cap_period_days": g("cap_period_days", "30"), "valid_from": g("valid_from"), "valid_until": g("valid_until"),
        "window_start": g("window_start", "00:00"), "window_end": g("window_end", "23:59:59"),
        "region_id": actor.region_id, "region_level": actor.level if actor.level in ("county", "city", "province") else "county",
        "owner": owner,
    }  # fmt: skip
    try:
        raw["control_share"] = float(g("control_pct", "10")) / 100
        return RuleDesign.model_validate(raw), None
    except ValueError as e:
        if isinstance(e, ValidationError):
            return None, "; ".join(
                f"{'.'.join(map(str, x['loc'])) or 'rule'}: {x['msg']}" for x in e.errors()
            )
        return None, f"control_pct: {e}"


def _form_context(form: Any, design: Any = None) -> dict[str, Any]:
    from tagcloud.campaigns.policy import Channel
    from tagcloud.realtime.events import EventType

    today = dt.date.today()
    if design is not None:
        d = design.model_dump(mode="json")
        d["control_pct"] = round(design.control_share * 100, 2)
        form = {**d, "channels": [str(c) for c in design.channels]}
    return {
        "form": form or {"valid_from": today.isoformat(), "valid_until": (today + dt.timedelta(days=90)).isoformat(),
                         "channels": ["sms"], "control_pct": 10, "priority": 0, "cap_per_subscriber": 1,
                         "cap_period_days": 30, "event_type": "roam_in"},
        "event_types": [t.value for t in EventType],
        "channels": [c.value for c in Channel if c.value != "outbound"],
    }  # fmt: skip


@require("design_event_rule")
def rule_new(request: HttpRequest) -> HttpResponse:
    """The rule form; POST creates version 1 in draft (refused with the field that is wrong)."""
    from tagcloud.campaigns.workflow import WorkflowError

    ctx = _form_context(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        actor = campaigns.actor_for(request.user, scope(request))
        design, error = _design_from_form(request.POST, actor)
        if design is not None:
            problem = check_condition(design.condition, design.event_type.value, catalogue())
            if problem:
                error = f"condition: {problem['message']}"
        if error is None:
            try:
                with open_rules() as store:
                    store.create(design, actor)
            except WorkflowError as e:
                error = str(e)
            else:
                return redirect("rt-rule", rule_id=design.rule_id)
        ctx["error"] = error
        return render(request, "realtime/rule_form.html", ctx, status=400)
    return render(request, "realtime/rule_form.html", ctx)


@require("design_event_rule")
def rule_edit(request: HttpRequest, rule_id: str) -> HttpResponse:
    """A new version of a draft, returned or paused rule (its owner only)."""
    from tagcloud.campaigns.workflow import WorkflowError

    with open_rules() as store:
        r = _rule(request, store, rule_id)
        if request.method != "POST":
            return render(
                request, "realtime/rule_form.html", {**_form_context(None, store.design(rule_id)), "rule": r}
            )
        actor = campaigns.actor_for(request.user, scope(request))
        design, error = _design_from_form(request.POST, actor, r["owner"])
        if design is not None:
            problem = check_condition(design.condition, design.event_type.value, catalogue())
            error = f"condition: {problem['message']}" if problem else None
        if error is None:
            try:
                store.edit(
                    design.model_copy(update={"rule_id": rule_id}),
                    actor,
                    note=str(request.POST.get("note", "")) or None,
                )
            except WorkflowError as e:
                error = str(e)
            else:
                return redirect("rt-rule", rule_id=rule_id)
    return render(
        request,
        "realtime/rule_form.html",
        {**_form_context(request.POST), "rule": r, "error": error},
        status=400,
    )


@require(any_of=RULE_PERMS)
@require_POST
def rule_check(request: HttpRequest) -> HttpResponse:
    """htmx: the condition checked against the catalogue and the event type's fields, as typed."""
    from tagcloud.web.engine import NoIndex

    text = str(request.POST.get("condition", ""))
    try:
        problem = check_condition(text, str(request.POST.get("event_type", "roam_in")), catalogue())
    except NoIndex as e:
        return render(request, "audience/_error.html", {"message": str(e)}, status=503)
    except ValueError as e:  # unknown event type
        return render(
            request, "realtime/_check.html", {"errors": [{"row": 1, "message": str(e)}]}, status=422
        )
    # 200 either way: the fragment is the answer htmx swaps in (a problem is not a failed request)
    return render(request, "realtime/_check.html", {"errors": [problem] if problem else [], "text": text})


@require(any_of=RULE_PERMS)
def rule_page(request: HttpRequest, rule_id: str) -> HttpResponse:
    """A rule: state, the shown version's design, every version, the history, and what may be done."""
    from tagcloud.realtime.rulestore import EDITABLE_STATES, RUNNABLE_STATES, RuleState

    sc = scope(request)
    actor = campaigns.actor_for(request.user, sc)
    with open_rules() as store:
        r = _rule(request, store, rule_id)
        version = request.GET.get("version")
        try:
            shown = int(version) if version else r["version"]
            design = store.design(rule_id, shown)
        except (ValueError, KeyError):
            raise Http404(f"rule {rule_id} has no version {version}") from None
        versions, history = store.versions(rule_id), store.history(rule_id)
    owner = request.user.get_username() == r["owner"] and request.user.has_perm("accounts.design_event_rule")
    ctx = {
        "r": r, "d": design, "shown_version": shown, "versions": versions, "history": history,
        "can_edit": owner and r["state"] in EDITABLE_STATES,
        "can_submit": owner and r["state"] in (RuleState.DRAFT, RuleState.RETURNED),
        "can_review": actor.can_approve and r["state"] == RuleState.SUBMITTED and r["waiting_for"] == actor.level,
        "can_activate": owner and r["state"] in RUNNABLE_STATES,
        "can_pause": owner and r["state"] == RuleState.ACTIVE,
        "can_test": request.user.has_perm("accounts.design_event_rule"),
    }  # fmt: skip
    return render(request, "realtime/rule.html", ctx)


ACTIONS = ("submit", "approve", "return", "activate", "pause")


@require(any_of=RULE_PERMS)
@require_POST
def rule_action(request: HttpRequest, rule_id: str, action: str) -> HttpResponse:
    """submit / approve / return (comment) / activate / pause — the store decides who may."""
    from tagcloud.campaigns.workflow import WorkflowError

    if action not in ACTIONS:
        raise Http404(action)
    actor = campaigns.actor_for(request.user, scope(request))
    comment = str(request.POST.get("comment", "")).strip()
    with open_rules() as store:
        _rule(request, store, rule_id)
        try:
            if action == "submit":
                store.submit(rule_id, actor)
            elif action == "approve":
                store.approve(rule_id, actor, comment or None)
            elif action == "return":
                store.return_(rule_id, actor, comment)
            elif action == "activate":
                store.activate(rule_id, actor)
            else:
                store.pause(rule_id, actor)
        except WorkflowError as e:
            messages.error(request, str(e))
    return redirect("rt-rule", rule_id=rule_id)


def events_file() -> Path:
    """Past events for backtests: ``settings.REALTIME_EVENTS`` (JSON lines), default var/events.jsonl."""
    return Path(str(getattr(settings, "REALTIME_EVENTS", "") or Path(settings.VAR_DIR) / "events.jsonl"))


@require("design_event_rule")
@require_POST
def rule_backtest(request: HttpRequest, rule_id: str) -> HttpResponse:
    """htmx: "would have fired N times for M subscribers" over yesterday's events (the file's last
    day when it holds none from yesterday)."""
    from tagcloud.realtime.engine import SubscriberTable
    from tagcloud.realtime.evaluate import backtest, read_events_checked
    from tagcloud.tags.condition import parse_condition
    from tagcloud.web.warehouse import warehouse_dir

    with open_rules() as store:
        _rule(request, store, rule_id)
        design = store.design(rule_id)
    path = events_file()
    if not path.exists():
        return render(request, "realtime/_backtest.html", {"missing": str(path.name)})
    events, bad = read_events_checked(path)
    days = sorted({e.ts.date() for e in events})
    want = dt.date.today() - dt.timedelta(days=1)
    day = want if want in days else (days[-1] if days else want)
    todays = [e for e in events if e.ts.date() == day]
    from tagcloud.realtime.events import event_names

    names = catalogue()
    cond = parse_condition(design.condition or "TRUE", names, event_names=event_names(design.event_type))
    cols = {n for n in cond.names if not n.startswith("event.")}
    subs = SubscriberTable.from_warehouse(warehouse_dir(), sorted(cols))
    result = backtest(design, todays, subs, names)
    return render(
        request,
        "realtime/_backtest.html",
        {"b": result, "day": day, "yesterday": day == want, "bad": len(bad)},
    )


# ---- channel systems' API keys ------------------------------------------------------------------


@require("manage_api_keys")
def keys(request: HttpRequest) -> HttpResponse:
    """Issue, rotate and revoke channel systems' keys; a new secret is shown once, on this answer."""
    from tagcloud.campaigns.policy import TOUCHPOINT_CHANNELS
    from tagcloud.web.realtime.models import ApiKey
    from tagcloud.web.reference.models import Region

    sc = scope(request)
    shown: str | None = None
    error = None
    if request.method == "POST":
        what = request.POST.get("action")
        if what == "create":
            name = str(request.POST.get("name", "")).strip()
            chans = [
                c for c in request.POST.getlist("channels") if c in {t.value for t in TOUCHPOINT_CHANNELS}
            ]
            region = Region.objects.filter(region_id=request.POST.get("region", "")).first()
            if not name or not chans or region is None or not sc.allows(region.region_id):
                error = _("请填写渠道系统名称, 选择至少一个触点渠道和您范围内的区域")
            else:
                _key, shown = ApiKey.issue(name, chans, region, request.user)
        else:
            key = (
                sc.filter_queryset(ApiKey.objects.all(), "region_id")
                .filter(pk=request.POST.get("key"))
                .first()
            )
            if key is None:
                raise Http404("no such key")
            if what == "rotate" and key.active:
                shown = key.rotate(request.user)
            elif what == "revoke":
                key.revoke(request.user)
    rows = sc.filter_queryset(ApiKey.objects.select_related("region"), "region_id")
    regions = sc.filter_queryset(Region.objects.exclude(level="township"), "region_id").order_by("region_id")
    return render(
        request, "realtime/keys.html",
        {"keys": rows, "shown": shown, "error": error, "channels": sorted(c.value for c in TOUCHPOINT_CHANNELS),
         "regions": regions[:500]},
        status=400 if error else 200,
    )  # fmt: skip


# ---- the agent's page ---------------------------------------------------------------------------

AGENT_CHANNELS = ("10086", "hall", "web_hall", "sms_hall", "app")


@require("serve_touchpoint")
def agent(request: HttpRequest) -> HttpResponse:
    """The agent's screen (seed 001 scenes 1–2): type the caller's number, see the decided offers
    with the script to read, what other channels said (contact memory) and the earlier contacts
    (the SMS a rule sent); record the answer. Numbers travel in POST bodies only."""
    from tagcloud.audience.dictionary import parse_number
    from tagcloud.web.accounts.masking import mask_msisdn
    from tagcloud.web.engine import NoIndex
    from tagcloud.web.realtime.service import decider
    from tagcloud.web.views.customer import lookup_in_scope

    msisdn = str(request.POST.get("msisdn", "")).strip()
    channel = str(request.POST.get("channel", AGENT_CHANNELS[0]))
    if channel not in AGENT_CHANNELS:
        channel = AGENT_CHANNELS[0]
    ctx: dict[str, Any] = {"msisdn": msisdn, "channel": channel, "channels": AGENT_CHANNELS}
    status = 200
    if msisdn and request.method == "POST":
        try:
            lookup_in_scope(request, msisdn)
            whole = str(int(parse_number(msisdn)))
        except NoIndex as e:
            ctx["error"], status = str(e), 503
        except ValueError as e:
            ctx["error"], status = str(e), 400
        except (KeyError, LookupError):
            ctx["error"], status = f"{mask_msisdn(msisdn)}: " + _("不在您的区域内或不是本网用户"), 404
        else:
            d = decider()
            outcome = str(request.POST.get("outcome", ""))
            if outcome:
                try:
                    cid = request.POST.get("contact_id")
                    d.feedback(whole, str(request.POST.get("offer_id", "")), channel, outcome,
                               str(request.POST.get("source_id", "")) or None, int(cid) if cid else None)  # fmt: skip
                    ctx["recorded"] = outcome
                except (ValueError, KeyError) as e:
                    ctx["error"], status = str(e).strip("'\""), 400
            ctx["shown"] = mask_msisdn(whole)
            ctx["decision"] = d.decide(whole, channel)
            ctx["history"] = d.ledger.history(whole)[:20]
    return render(request, "realtime/agent.html", ctx, status=status)
