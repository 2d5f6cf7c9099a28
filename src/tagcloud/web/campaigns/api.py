"""REST for touchpoints (触点): what an agent offers the subscriber in front of them, with the
scripts and the cross-channel contact history, and the agent's feedback. The numbers travel in
POST bodies (never in URLs); the subscriber must be in the agent's region (else 404, audited).
A person's session or a channel system's API key (``web.realtime.auth``), scoped to its region."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status

from tagcloud.web.accounts.masking import mask_msisdn
from tagcloud.web.realtime.auth import SESSION_OR_KEY, touchpoint_caller
from tagcloud.web.views.access import answers

router = Router(tags=["touchpoints"], auth=SESSION_OR_KEY)  # people and channel systems' keys


class Error(Schema):
    detail: str


class OffersIn(Schema):
    msisdn: str
    channel: str = "hall"  # hall, 10086, web_hall, sms_hall, app, terminal


class Offer(Schema):
    contact_id: int
    campaign_id: str
    campaign: str
    offer_id: str
    priority: int
    script: str


class OffersOut(Schema):
    msisdn: str  # masked
    channel: str
    offers: list[Offer]
    history: list[dict[str, Any]]


class FeedbackIn(Schema):
    contact_id: int
    channel: str
    outcome: Literal["considering", "accepted", "refused"]
    note: str | None = None


class FeedbackOut(Schema):
    contact_id: int
    outcome: str


def _in_scope(request: HttpRequest, msisdn: str) -> Any:
    """None when the subscriber is in the caller's region (audited lookup); else the 4xx answer."""
    from tagcloud.web.views.customer import lookup_in_scope

    try:
        lookup_in_scope(request, msisdn)
    except ValueError as e:
        return Status(400, {"detail": str(e)})
    except (KeyError, LookupError):
        return Status(404, {"detail": f"{mask_msisdn(msisdn)}: not in your region or not a subscriber"})
    return None


@router.post(
    "/offers",
    response=answers({200: OffersOut, 400: Error, 401: Error, 403: Error, 404: Error, 503: Error}),
    summary="Touchpoint: a subscriber's eligible offers (highest priority first) with scripts, and contact history",
)
def offers(request: HttpRequest, body: OffersIn) -> Any:
    from tagcloud.campaigns.execute import touchpoint_offers
    from tagcloud.web.api_common import engine as _engine
    from tagcloud.web.campaigns import service

    touchpoint_caller(request, body.channel)
    _engine(request, False)  # 403 / 503 before any lookup
    refused = _in_scope(request, body.msisdn)
    if refused is not None:
        return refused
    with service.open_ledger() as ledger, service.open_store() as store:
        ids = {
            r[0]
            for r in ledger.db.q("SELECT DISTINCT campaign_id FROM contacts WHERE msisdn=?", (body.msisdn,))
        }
        designs = {
            i: store.design(i) for i in ids if store.db.q("SELECT 1 FROM campaigns WHERE campaign_id=?", (i,))
        }
        try:
            out = touchpoint_offers(ledger, designs, body.msisdn, body.channel, dt.datetime.now())
        except ValueError as e:
            return Status(400, {"detail": str(e)})
    out["msisdn"] = mask_msisdn(body.msisdn)
    for h in out["history"]:
        h.pop("msisdn", None)
    return out


@router.post(
    "/feedback",
    response=answers({200: FeedbackOut, 400: Error, 401: Error, 403: Error, 404: Error, 503: Error}),
    summary="Touchpoint: record the subscriber's answer to an offer (considering, accepted, refused)",
)
def feedback(request: HttpRequest, body: FeedbackIn) -> Any:
    from tagcloud.campaigns.execute import touchpoint_feedback
    from tagcloud.web.api_common import engine as _engine
    from tagcloud.web.campaigns import service

    touchpoint_caller(request, body.channel)
    _engine(request, False)
    with service.open_ledger() as ledger:
        row = ledger.db.q("SELECT msisdn FROM contacts WHERE contact_id=?", (body.contact_id,))
        if not row:
            return Status(404, {"detail": f"no contact {body.contact_id}"})
        refused = _in_scope(request, str(row[0][0]))
        if refused is not None:
            return refused
        try:
            touchpoint_feedback(
                ledger, body.contact_id, body.channel, body.outcome, dt.datetime.now(), body.note
            )
        except ValueError as e:
            return Status(400, {"detail": str(e)})
    return {"contact_id": body.contact_id, "outcome": body.outcome}
