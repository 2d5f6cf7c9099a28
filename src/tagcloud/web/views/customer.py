"""Customer 360 (反向查询): a number → basic profile, every tag grouped by category, the last 30
days' behaviour from the warehouse and the campaigns' touchpoint offers and contact history. Access
needs ``lookup_customer``; the subscriber must live in the user's region (the engine refuses the
others); every lookup is audited, and an unmask (whole number) is a separate, audited action for
roles that may."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tagcloud.web.accounts.audit import record
from tagcloud.web.accounts.masking import mask_msisdn, may_unmask
from tagcloud.web.accounts.models import AuditAction
from tagcloud.web.engine import NoIndex, engine_for
from tagcloud.web.views.access import require
from tagcloud.web.views.audience import label

BASIC = ("brand", "age_band", "gender", "tenure_months", "arpu", "dou_mb", "mou", "payment_type", "status")


def lookup_in_scope(request: HttpRequest, msisdn: str, unmask: bool = False) -> dict[str, Any]:
    """The engine's reverse query under the user's scope; a subscriber outside it is refused by
    the engine (``OutOfScope``), audited here as ``denied`` and raised as LookupError."""
    from tagcloud.audience.query import OutOfScope

    eng = engine_for(request, unmask=unmask)
    try:
        found = eng.lookup(msisdn)  # ValueError: malformed; KeyError: not a subscriber
    except OutOfScope:
        record(request, AuditAction.DENIED, mask_msisdn(msisdn), rows=1, reason="out of region")
        raise LookupError("out of region") from None
    record(request, AuditAction.UNMASK if unmask else AuditAction.LOOKUP, mask_msisdn(msisdn), rows=1)
    return {"row": found, "columns": eng.index.columns}


def contact_history(msisdn: str, limit: int = 30) -> list[dict[str, Any]] | None:
    """The customer's contacts and responses from the campaigns' ledger, newest first; None when no
    campaign database is configured (or an SQLite one does not exist yet: opening would create it)."""
    url = _campaign_url()
    if url is None:
        return None
    from tagcloud.campaigns.policy import ContactLedger

    with ContactLedger(url) as ledger:
        return ledger.history(msisdn)[:limit]


TOUCHPOINTS = (
    "hall",
    "10086",
    "app",
    "web_hall",
    "sms_hall",
    "self_terminal",
)  # the hall first: the agent's counter


def campaign_offers(msisdn: str, channel: str) -> dict[str, Any] | None:
    """The campaigns' touchpoint view (``touchpoint_offers``: eligible offers with the channel's
    script, highest priority first) for a customer at ``channel``; None without a campaign database.
    Designs are read from the campaign store for the campaigns in the customer's contact history."""
    import datetime as dt

    from tagcloud.campaigns.execute import touchpoint_offers
    from tagcloud.campaigns.policy import ContactLedger
    from tagcloud.campaigns.workflow import CampaignStore

    url = _campaign_url()
    if url is None:
        return None
    with ContactLedger(url) as ledger, CampaignStore(url) as store:
        designs = {}
        for cid in {h["campaign_id"] for h in ledger.history(msisdn)}:
            try:
                designs[cid] = store.design(cid)
            except KeyError:  # a contact of a campaign this store does not hold: no script to show
                continue
        return touchpoint_offers(ledger, designs, msisdn, channel, dt.datetime.now())


def _campaign_url() -> str | None:
    from django.conf import settings

    url = str(getattr(settings, "CAMPAIGN_DB", "") or "")
    if not url or (url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists()):
        return None
    return url


def behaviour(msisdn: str, unmask: bool) -> dict[str, Any]:
    """The customer's last 30 days from the warehouse (``tagcloud.data.customer``), labelled in the
    page's language, with the data-by-day chart. Peer numbers stay masked unless ``unmask``."""
    import json

    from django.utils.translation import get_language

    from tagcloud.data.codes import label as code_label
    from tagcloud.data.customer import recent_behaviour
    from tagcloud.web.warehouse import warehouse_dir

    lang = "en" if (get_language() or "zh").startswith("en") else "zh"
    b = recent_behaviour(warehouse_dir(), msisdn, unmask_peers=unmask)
    for c in b.calls.get("by_operator", []) + b.calls.get("top_contacts", []):
        c["operator_label"] = code_label("operator", c["operator"] or "", lang)
    for c in b.service_contacts:
        c["channel_label"] = code_label("channel", c["channel"] or "", lang)
        c["reason_label"] = code_label("contact_reason", c["reason"] or "", lang)
    for p in b.products:
        p["label"] = (p["name_en"] if lang == "en" else p["name"]) or p["product_id"]
        p["kind_label"] = code_label("product_kind", p["kind"] or "", lang)
    chart = {
        "title": "每日流量 (MB)" if lang == "zh" else "Data per day (MB)",
        "line": True,
        "labels": [d["day"].strftime("%m-%d") for d in b.data_by_day],
        "values": [d["mb"] for d in b.data_by_day],
    }
    return {
        "b": b,
        "charts": [chart] if b.data_by_day else [],
        "charts_json": json.dumps([chart] if b.data_by_day else [], ensure_ascii=False),
    }


def touchpoint_choices() -> list[tuple[str, str]]:
    """(code, label) of the touchpoints a customer can stand at, in the page's language."""
    from django.utils.translation import get_language

    from tagcloud.data.codes import label as code_label

    lang = "en" if (get_language() or "zh").startswith("en") else "zh"
    return [(c, code_label("channel", c, lang)) for c in TOUCHPOINTS]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.2f}"
    return str(v)


def sections(row: dict[str, Any], columns: dict[str, dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """(basic profile items, categories) for display. Per category: the tags the customer holds
    and enum values as chips, then the non-zero measures (zeros are behaviour that did not happen)."""
    from django.utils.translation import get_language

    from tagcloud.web.taglib.library import category_name, value_label

    lang = get_language() or "zh-hans"
    basic = [
        (label(columns[c], c), value_label(c, _fmt(row[c]), lang))
        for c in BASIC
        if c in columns and row.get(c) is not None
    ]
    cats: dict[str, dict[str, list[Any]]] = {}
    for name, meta in columns.items():
        v = row.get(name)
        cat = str(meta.get("category") or "other")
        if cat == "region" or name in BASIC or v is None or v is False:
            continue
        box = cats.setdefault(cat, {"chips": [], "measures": []})
        if v is True:
            box["chips"].append((name, label(meta, name), None))
        elif meta.get("kind") == "enum":
            box["chips"].append((name, label(meta, name), value_label(name, str(v), lang)))
        elif v != 0:
            box["measures"].append((name, label(meta, name), _fmt(v)))
    out = [
        {"name": category_name(c, lang), **box} for c, box in cats.items() if box["chips"] or box["measures"]
    ]
    # Categories where the customer holds tags first: that is what a marketer reads first.
    out.sort(key=lambda b: (-len(b["chips"]), b["name"]))
    return basic, out


@require("lookup_customer")
@require_http_methods(["GET", "POST"])
def customer(request: HttpRequest) -> HttpResponse:
    """Type a number, see the customer (masked unless unmasked by a permitted role, audited).
    Numbers travel in POST bodies, never in URLs, so they stay out of access logs and history."""
    msisdn = request.POST.get("msisdn", "").strip()
    unmask = request.POST.get("unmask") == "1"
    channel = request.POST.get("channel", TOUCHPOINTS[0])
    if channel not in TOUCHPOINTS:
        channel = TOUCHPOINTS[0]
    ctx: dict[str, Any] = {
        "msisdn": msisdn,
        "may_unmask": may_unmask(request.user),
        "channel": channel,
        "touchpoints": touchpoint_choices(),
    }
    status = 200
    if msisdn:
        try:
            found = lookup_in_scope(request, msisdn, unmask)
        except NoIndex as e:
            ctx["error"], status = str(e), 503
        except ValueError as e:
            ctx["error"], status = str(e), 400
        except (KeyError, LookupError):
            # The same answer for "no such subscriber" and "not in your region": no probing.
            ctx["error"], status = f"{mask_msisdn(msisdn)}: " + _("不在您的区域内或不是本网用户"), 404
        else:
            row = found["row"]
            ctx["basic"], ctx["categories"] = sections(row, found["columns"])
            ctx["row"] = row
            ctx["shown_number"] = row["msisdn"]
            from tagcloud.audience.dictionary import parse_number

            # Campaign ledgers and the warehouse key customers by the whole number.
            whole = str(int(parse_number(msisdn)))
            ctx["history"] = contact_history(whole)
            ctx["offers"] = campaign_offers(whole, channel)
            ctx.update(behaviour(whole, unmask))
    return render(request, "customer.html", ctx, status=status)
