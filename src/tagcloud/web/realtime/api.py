"""REST for channel systems and agents: ``POST /api/touchpoints/decide`` (the ranked next-best
offers with scripts and the cross-channel contact memory) and ``POST /api/touchpoints/decide/feedback``
(offered / considering / accepted / refused). A person's session or a channel system's API key
(``X-API-Key`` / Bearer); the subscriber must be in the caller's region (a key's region), else 404
like an unknown number; every call is audited."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status

from tagcloud.web.accounts.masking import mask_msisdn
from tagcloud.web.realtime.auth import SESSION_OR_KEY, touchpoint_caller
from tagcloud.web.views.access import answers

router = Router(tags=["touchpoints"], auth=SESSION_OR_KEY)


class Error(Schema):
    detail: str


class DecideIn(Schema):
    msisdn: str
    channel: str = "10086"  # 10086, hall, web_hall, sms_hall, app, self_terminal
    context: dict[str, Any] = {}  # e.g. {"reason": "bill query"}: event.reason of touchpoint rules
    limit: int = 5


class OfferOut(Schema):
    source: str
    source_id: str
    offer_id: str
    name: str
    script: str
    priority: int
    propensity: float
    value: float
    score: float
    contact_id: int | None
    memory: list[str]


class DecideOut(Schema):
    msisdn: str  # masked
    channel: str
    offers: list[OfferOut]
    excluded: list[dict[str, str]]
    memory: list[dict[str, Any]]
    fallback: bool
    reason: str
    elapsed_ms: float


class FeedbackIn(Schema):
    msisdn: str
    offer_id: str
    channel: str
    outcome: Literal["offered", "considering", "accepted", "refused"]
    source_id: str | None = None
    contact_id: int | None = None
    note: str | None = None


class FeedbackOut(Schema):
    offer_id: str
    outcome: str
    contact_id: int | None = None
    decision: str | None = None  # for "offered": what the contact policy decided


def in_scope(request: HttpRequest, msisdn: str) -> Any:
    """None when the subscriber is in the caller's region (audited lookup); else the 4xx answer."""
    from tagcloud.web.campaigns.api import _in_scope

    return _in_scope(request, msisdn)


def _whole(msisdn: str) -> str:
    from tagcloud.audience.dictionary import parse_number

    return str(int(parse_number(msisdn)))


@router.post(
    "/decide",
    response=answers({200: DecideOut, 400: Error, 401: Error, 403: Error, 404: Error, 503: Error}),
    summary="Next-best offers for the subscriber at a touchpoint, ranked, with scripts and contact memory",
)
def decide(request: HttpRequest, body: DecideIn) -> Any:
    from tagcloud.realtime.decide import DecideError
    from tagcloud.web.api import _engine
    from tagcloud.web.realtime.service import decider

    touchpoint_caller(request, body.channel)
    _engine(request, False)
    refused = in_scope(request, body.msisdn)
    if refused is not None:
        return refused
    try:
        out = decider().decide(
            _whole(body.msisdn), body.channel, body.context, limit=max(1, min(body.limit, 20))
        )
    except DecideError as e:
        return Status(400, {"detail": str(e)})
    d = out.as_dict()
    d["msisdn"] = mask_msisdn(body.msisdn)
    return d


@router.post(
    "/decide/feedback",
    response=answers({200: FeedbackOut, 400: Error, 401: Error, 403: Error, 404: Error, 503: Error}),
    summary="What the subscriber said to an offer at a touchpoint; acceptance stops it in every channel",
)
def feedback(request: HttpRequest, body: FeedbackIn) -> Any:
    from tagcloud.realtime.decide import DecideError
    from tagcloud.web.api import _engine
    from tagcloud.web.realtime.service import decider

    touchpoint_caller(request, body.channel)
    _engine(request, False)
    refused = in_scope(request, body.msisdn)
    if refused is not None:
        return refused
    try:
        got = decider().feedback(
            _whole(body.msisdn), body.offer_id, body.channel, body.outcome, body.source_id, body.contact_id,
            note=body.note,
        )  # fmt: skip
    except (DecideError, ValueError) as e:
        return Status(400, {"detail": str(e)})
    except KeyError as e:
        return Status(404, {"detail": str(e).strip("'\"")})
    return got
