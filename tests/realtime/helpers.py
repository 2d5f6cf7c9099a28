"""Shared fixtures of the real-time tests: a small subscriber table, rules, events."""

from __future__ import annotations

import datetime as dt
import socket

import numpy as np
import pyarrow as pa

from tagcloud.campaigns.workflow import Actor
from tagcloud.realtime.engine import SubscriberTable
from tagcloud.realtime.events import Event, EventType
from tagcloud.realtime.rulestore import RuleDesign, RuleStore
from tagcloud.tags.condition import names_from_kinds

NAMES = names_from_kinds(
    {"arpu_3m": "number", "has_roaming_pack": "flag", "city_id": "text", "is_student": "flag"}
)
OWNER = Actor("li", "province", "44")
APPROVER = Actor("zhao", "province", "44", can_approve=True)
DAY = dt.datetime(2026, 11, 10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def msisdn(i: int) -> str:
    return f"1390000{i:04d}"


def subscribers(n: int = 200) -> SubscriberTable:
    i = np.arange(n)
    t = pa.table(
        {
            "msisdn": pa.array([msisdn(x) for x in i]),
            "arpu_3m": pa.array((i % 200).astype(float)),  # 0..199: half at >= 100
            "has_roaming_pack": pa.array(i % 10 == 0),
            "city_id": pa.array(np.where(i % 2 == 0, "4401", "4403").tolist()),
            "is_student": pa.array(i % 3 == 0),
        }
    )
    return SubscriberTable.from_arrow(t, NAMES)


def roam_rule(**kw: object) -> RuleDesign:
    base: dict[str, object] = {
        "rule_id": "roam_gd",
        "name": "Roaming into Guangdong",
        "event_type": "roam_in",
        "condition": "event.other_province AND arpu_3m >= 100 AND NOT has_roaming_pack",
        "offer_id": "ROAM_PACK_30",
        "script": "Welcome to {province} (tail {msisdn_tail}): roaming pack 30 yuan, reply Y",
        "valid_from": dt.date(2026, 1, 1),
        "valid_until": dt.date(2026, 12, 31),
        "region_id": "44",
        "region_level": "province",
        "priority": 5,
        "control_share": 0.0,
    }
    base.update(kw)
    return RuleDesign.model_validate(base)


def activate(store: RuleStore, design: RuleDesign) -> None:
    store.create(design, OWNER)
    store.submit(design.rule_id, OWNER)
    store.approve(design.rule_id, APPROVER)
    store.activate(design.rule_id, OWNER)


def roam(i: int, sub: int, at: dt.datetime, other: bool = True) -> Event:
    return Event(
        f"ev-{i}",
        EventType.ROAM_IN,
        msisdn(sub),
        at,
        {"province": "guangdong" if other else "home", "city": "4401", "other_province": other},
    )
