"""The canonical event model (实时事件): what a subscriber did or what happened to them, now.

An event is ``{"id": …, "type": …, "msisdn": …, "ts": "YYYY-MM-DDTHH:MM:SS", "attrs": {…}}`` on the
wire (JSON, one per bus message). ``ts`` is naive local time, like the warehouse and the contact
ledger. Each type has typed fields (:data:`EVENT_FIELDS`) that a rule condition names as
``event.<field>``; two fields exist on every type: ``event.type`` and ``event.hour`` (0–23, local).

Validation never drops an event: a bad one becomes a :class:`DeadLetter` with a
:class:`DeadReason`, so that received = decided + dead-lettered holds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from tagcloud.tags.condition import NameInfo, NameKind


class EventType(StrEnum):
    """Event types from the network, billing, CRM and touchpoints (seed 001 slides 39–45, seed 000)."""

    ROAM_IN = "roam_in"  # the subscriber's phone registered in another city or province
    ENTER_CELL_SET = "enter_cell_set"  # entered a set of cells: hot area, campus, a competitor's shop
    BALANCE_LOW = "balance_low"  # prepaid balance fell below a threshold
    TOP_UP = "top_up"  # balance topped up (充值)
    QUOTA_80 = "quota_80"  # 80% of the month's data quota used
    QUOTA_100 = "quota_100"  # the data quota used up
    HANDSET_CHANGE = "handset_change"  # a new IMEI with this SIM
    COMPETITOR_HOTLINE_CALL = "competitor_hotline_call"  # called 10010 / 10000 / 10099
    BILL_ISSUED = "bill_issued"  # the month's bill is out
    ORDER = "order"  # a plan or service ordered or cancelled
    COMPLAINT = "complaint"  # a complaint was registered
    TOUCHPOINT_VISIT = "touchpoint_visit"  # 10086 call, hall, web hall, SMS hall or app visit


_T, _N, _F, _E = NameKind.TEXT, NameKind.NUMBER, NameKind.FLAG, NameKind.ENUM

CELL_SET_KINDS = ("hot_area", "campus", "compound", "competitor_shop", "transport_hub", "market_town")
COMPETITORS = ("unicom", "telecom", "broadnet")
PRODUCT_TYPES = ("data_pack", "plan", "roaming_pack", "membership", "broadband", "handset", "other")
ORDER_ACTIONS = ("subscribe", "unsubscribe")
TOUCHPOINTS = ("10086", "hall", "web_hall", "sms_hall", "app")

# Fields of each event type: name → (kind, enum values). Every type also has ``type`` and ``hour``.
EVENT_FIELDS: dict[EventType, dict[str, tuple[NameKind, tuple[str, ...] | None]]] = {
    EventType.ROAM_IN: {
        "province": (_T, None),  # the province roamed into, e.g. 'guangdong'
        "city": (_T, None),
        "from_province": (_T, None),
        "from_city": (_T, None),
        "other_province": (_F, None),  # the province differs from the home province
        "cell_id": (_T, None),
    },
    EventType.ENTER_CELL_SET: {
        "cell_set": (_T, None),
        "cell_set_kind": (_E, CELL_SET_KINDS),
        "cell_id": (_T, None),
    },
    EventType.BALANCE_LOW: {"balance": (_N, None), "threshold": (_N, None)},
    EventType.TOP_UP: {"amount": (_N, None), "balance": (_N, None)},
    EventType.QUOTA_80: {"quota_mb": (_N, None), "used_mb": (_N, None)},
    EventType.QUOTA_100: {"quota_mb": (_N, None), "used_mb": (_N, None)},
    EventType.HANDSET_CHANGE: {
        "brand": (_T, None),
        "model": (_T, None),
        "is_5g": (_F, None),
        "previous_is_5g": (_F, None),
    },
    EventType.COMPETITOR_HOTLINE_CALL: {"competitor": (_E, COMPETITORS), "duration_s": (_N, None)},
    EventType.BILL_ISSUED: {"amount": (_N, None), "month": (_T, None)},
    EventType.ORDER: {
        "product_id": (_T, None),
        "product_type": (_E, PRODUCT_TYPES),
        "action": (_E, ORDER_ACTIONS),
    },
    EventType.COMPLAINT: {"category": (_T, None), "severity": (_N, None)},
    EventType.TOUCHPOINT_VISIT: {"channel": (_E, TOUCHPOINTS), "reason": (_T, None)},
}
COMMON_FIELDS: dict[str, tuple[NameKind, tuple[str, ...] | None]] = {
    "type": (_E, tuple(t.value for t in EventType)),
    "hour": (_N, None),
}
# fields a payload must carry (the rest may be missing: NULL in a condition)
REQUIRED_FIELDS: dict[EventType, tuple[str, ...]] = {
    EventType.ROAM_IN: ("province", "city"),
    EventType.ENTER_CELL_SET: ("cell_set",),
    EventType.BALANCE_LOW: ("balance",),
    EventType.TOP_UP: ("amount",),
    EventType.QUOTA_80: ("quota_mb",),
    EventType.QUOTA_100: ("quota_mb",),
    EventType.HANDSET_CHANGE: (),
    EventType.COMPETITOR_HOTLINE_CALL: ("competitor",),
    EventType.BILL_ISSUED: ("amount",),
    EventType.ORDER: ("product_id", "action"),
    EventType.COMPLAINT: (),
    EventType.TOUCHPOINT_VISIT: ("channel",),
}


def event_names(event_type: EventType | str) -> dict[str, NameInfo]:
    """``event.<field>`` names a rule on ``event_type`` may use, for ``parse_condition(event_names=…)``."""
    et = EventType(event_type)
    out = {}
    for name, (kind, values) in {**COMMON_FIELDS, **EVENT_FIELDS[et]}.items():
        out[f"event.{name}"] = NameInfo(f"event.{name}", kind, values)
    return out


class DeadReason(StrEnum):
    """Why an event went to the dead-letter stream instead of being decided."""

    MALFORMED = "malformed"  # not JSON, not an object, a missing or mistyped field
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_SUBSCRIBER = "unknown_subscriber"  # not in the subscriber table the rules run over
    TOO_OLD = "too_old"  # older than the accepted lateness
    IN_FUTURE = "in_future"  # later than the accepted clock skew
    DUPLICATE_ID = "duplicate_id"  # an id already seen with a different payload


@dataclass(frozen=True)
class Event:
    """One validated event. ``attrs`` hold the type's fields (numbers as float, flags as bool)."""

    event_id: str
    type: EventType
    msisdn: str
    ts: dt.datetime
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "id": self.event_id,
                "type": self.type.value,
                "msisdn": self.msisdn,
                "ts": self.ts.isoformat(timespec="seconds"),
                "attrs": dict(self.attrs),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()

    @cached_property
    def fingerprint(self) -> str:
        """Hash of what the event says (not its id): tells a redelivery from a reused id."""
        h = hashlib.blake2b(digest_size=8)
        h.update(f"{self.type.value}|{self.msisdn}|{self.ts.isoformat()}|".encode())
        h.update(json.dumps(dict(self.attrs), sort_keys=True).encode())
        return h.hexdigest()


@dataclass(frozen=True)
class DeadLetter:
    """An event that could not be decided: its raw payload (kept whole), the reason and a detail."""

    payload: bytes
    reason: DeadReason
    detail: str
    event_id: str | None = None


@dataclass(frozen=True)
class Lateness:
    """How far an event's time may lie from the reference clock."""

    max_past: dt.timedelta = dt.timedelta(days=2)
    max_future: dt.timedelta = dt.timedelta(minutes=5)


def _dead(payload: bytes, reason: DeadReason, detail: str, eid: Any = None) -> DeadLetter:
    return DeadLetter(payload, reason, detail, eid if isinstance(eid, str) else None)


def parse_event(payload: bytes | str) -> Event | DeadLetter:
    """Decode and type-check one wire event (no subscriber, clock or duplicate checks: see the worker)."""
    raw = payload.encode() if isinstance(payload, str) else bytes(payload)
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        return _dead(raw, DeadReason.MALFORMED, f"not JSON: {e}")
    if not isinstance(obj, dict):
        return _dead(raw, DeadReason.MALFORMED, f"an event is a JSON object, not {type(obj).__name__}")
    eid = obj.get("id")
    if not isinstance(eid, str) or not 0 < len(eid) <= 128:
        return _dead(raw, DeadReason.MALFORMED, "'id' must be a string of 1-128 characters")
    try:
        et = EventType(str(obj.get("type")))
    except ValueError:
        known = ", ".join(t.value for t in EventType)
        return _dead(
            raw, DeadReason.UNKNOWN_TYPE, f"unknown event type {obj.get('type')!r} (known: {known})", eid
        )
    msisdn = obj.get("msisdn")
    if not isinstance(msisdn, str) or not msisdn.isdigit() or not 5 <= len(msisdn) <= 15:
        return _dead(raw, DeadReason.MALFORMED, f"'msisdn' must be 5-15 digits, not {msisdn!r}", eid)
    ts_raw = obj.get("ts")
    try:
        ts = dt.datetime.fromisoformat(ts_raw) if isinstance(ts_raw, str) else None
    except ValueError:
        ts = None
    if ts is None:
        return _dead(raw, DeadReason.MALFORMED, f"'ts' must be an ISO time, not {ts_raw!r}", eid)
    if ts.tzinfo is not None:  # the product keeps naive local time; an offset is converted to it
        ts = ts.astimezone().replace(tzinfo=None)
    attrs_raw = obj.get("attrs", {})
    if not isinstance(attrs_raw, dict):
        return _dead(raw, DeadReason.MALFORMED, "'attrs' must be an object", eid)
    fields = EVENT_FIELDS[et]
    attrs: dict[str, Any] = {}
    for name, value in attrs_raw.items():
        spec = fields.get(name)
        if spec is None:
            return _dead(
                raw,
                DeadReason.MALFORMED,
                f"{et.value} has no field {name!r} (fields: {', '.join(fields)})",
                eid,
            )
        if value is None:
            continue
        kind, values = spec
        if kind == NameKind.NUMBER:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return _dead(
                    raw, DeadReason.MALFORMED, f"{et.value}.{name} must be a number, not {value!r}", eid
                )
            value = float(value)
        elif kind == NameKind.FLAG:
            if not isinstance(value, bool):
                return _dead(
                    raw, DeadReason.MALFORMED, f"{et.value}.{name} must be true/false, not {value!r}", eid
                )
        else:
            if not isinstance(value, str) or len(value) > 200:
                return _dead(raw, DeadReason.MALFORMED, f"{et.value}.{name} must be text, not {value!r}", eid)
            if values is not None and value not in values:
                return _dead(
                    raw,
                    DeadReason.MALFORMED,
                    f"{et.value}.{name}={value!r} is not one of {', '.join(values)}",
                    eid,
                )
        attrs[name] = value
    for name in REQUIRED_FIELDS[et]:
        if name not in attrs:
            return _dead(raw, DeadReason.MALFORMED, f"{et.value} needs the field {name!r}", eid)
    return Event(eid, et, msisdn, ts, attrs)


def check_time(ev: Event, now: dt.datetime, lateness: Lateness) -> DeadLetter | None:
    """A dead letter when ``ev`` lies too far before or after ``now``; None when it is in time."""
    if ev.ts > now + lateness.max_future:
        return DeadLetter(
            ev.to_json(),
            DeadReason.IN_FUTURE,
            f"ts {ev.ts} is after {now} + {lateness.max_future}",
            ev.event_id,
        )
    if ev.ts < now - lateness.max_past:
        return DeadLetter(
            ev.to_json(), DeadReason.TOO_OLD, f"ts {ev.ts} is before {now} - {lateness.max_past}", ev.event_id
        )
    return None
