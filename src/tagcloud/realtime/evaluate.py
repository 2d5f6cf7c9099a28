"""Backtest a rule on past events, and evaluate running rules like campaigns (效果评估).

* :func:`backtest` — "this rule would have fired 12,340 times for 9,870 subscribers": the rule's
  condition, window and validity over a list of events (vectorised, as the worker matches), before
  the contact policy; with the per-rule cap per subscriber applied as a second figure.
* :func:`evaluate_rule` — the campaign report for a rule from the ledger and the worker's decisions:
  fired, contacted, deferred, blocked by policy (why), control, accepted, action vs control with
  lift, CI and p-value (``campaigns.evaluate.Comparison``), time from event to contact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.campaigns.evaluate import Comparison
from tagcloud.campaigns.policy import ContactLedger
from tagcloud.realtime.engine import Matcher, SubscriberTable, split_by_type
from tagcloud.realtime.events import DeadLetter, Event, parse_event
from tagcloud.realtime.rulestore import ActiveRule, RuleDesign
from tagcloud.tags.condition import NameInfo

if TYPE_CHECKING:
    import duckdb


@dataclass
class Backtest:
    rule_id: str
    events: int  # events looked at
    of_type: int  # … of the rule's event type
    fired: int  # matches (condition, window, validity)
    subscribers: int  # distinct subscribers among them
    fired_capped: int  # after the per-rule cap per subscriber
    unknown_subscribers: int  # events whose subscriber is not in the table (the worker dead-letters them)
    by_hour: list[int] = field(default_factory=list)

    def sentence(self) -> str:
        return (
            f"rule {self.rule_id} would have fired {self.fired:,} times for {self.subscribers:,} subscribers "
            f"({self.fired_capped:,} after its cap per subscriber) in {self.events:,} events"
        )


def read_events(path: Path | str) -> list[Event]:
    """Events from a JSON-lines file (what ``tagcloud realtime simulate`` writes); bad lines are skipped
    and counted by the caller through :func:`read_events_checked`."""
    return read_events_checked(path)[0]


def read_events_checked(path: Path | str) -> tuple[list[Event], list[DeadLetter]]:
    good: list[Event] = []
    bad: list[DeadLetter] = []
    with Path(path).open("rb") as f:
        for line in f:
            if line.strip():
                r = parse_event(line.strip())
                (bad if isinstance(r, DeadLetter) else good).append(r)  # type: ignore[arg-type]
    return good, bad


def backtest(
    design: RuleDesign,
    events: Sequence[Event],
    subscribers: SubscriberTable,
    names: Mapping[str, NameInfo] | None = None,
) -> Backtest:
    """Run one rule (in any state) over ``events``; nothing is stored and nobody is contacted."""
    matcher = Matcher([ActiveRule(design, 0)], names or subscribers.names)
    rows = subscribers.locate(np.array([int(e.msisdn) for e in events], np.int64))
    known = rows >= 0
    evs = [e for e, k in zip(events, known.tolist(), strict=True) if k]
    rows = rows[known]
    of_type = sum(1 for e in evs if e.type == design.event_type)
    m = matcher.match(split_by_type(evs, matcher.fields()), subscribers, rows) if evs else None
    hit = m.events if m is not None else np.zeros(0, np.int64)
    ms = np.array([int(evs[i].msisdn) for i in hit.tolist()], np.int64)
    hours = np.array([evs[i].ts.hour for i in hit.tolist()], np.int64)
    # the cap per subscriber: the first `cap` fires of each subscriber in time order
    ts = np.array([evs[i].ts for i in hit.tolist()], "datetime64[s]")
    order = np.lexsort((ts, ms))
    sm = ms[order]
    first = np.r_[True, sm[1:] != sm[:-1]] if len(sm) else np.zeros(0, bool)
    group_start = (
        np.maximum.accumulate(np.where(first, np.arange(len(sm)), 0)) if len(sm) else np.zeros(0, np.int64)
    )
    rank = np.arange(len(sm)) - group_start
    return Backtest(
        design.rule_id,
        len(events),
        of_type,
        len(hit),
        len(np.unique(ms)),
        int((rank < design.cap_per_subscriber).sum()),
        int((~known).sum()),
        np.bincount(hours, minlength=24).tolist(),
    )


@dataclass
class RuleReport:
    rule_id: str
    fired: int
    outcomes: dict[str, int]
    blocked: dict[str, int]  # policy reason → events
    contacts: dict[str, int]  # ledger status → contacts
    accepted: int
    overall: Comparison
    event_to_contact_s: dict[str, float]  # p50 / p90 / p99 of contact time − event time (deferrals included)
    worker_ms: dict[str, float]  # p50 / p99 of received → SMS submitted, in the worker (wall clock)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "fired": self.fired,
            "outcomes": self.outcomes,
            "blocked": self.blocked,
            "contacts": self.contacts,
            "accepted": self.accepted,
            "comparison": self.overall.as_dict(),
            "event_to_contact_s": self.event_to_contact_s,
            "worker_ms": self.worker_ms,
            "notes": self.notes,
        }


def _pct(values: Iterable[float], qs: Sequence[int]) -> dict[str, float]:
    arr = np.asarray(list(values), float)
    if not len(arr):
        return {}
    return {f"p{q}": float(np.percentile(arr, q)) for q in qs}


def evaluate_rule(
    ledger: ContactLedger,
    design: RuleDesign,
    window_days: int = 14,
    con: duckdb.DuckDBPyConnection | None = None,
    orders: str = "orders",
) -> RuleReport:
    """The rule's report. Success of a subscriber: an accepted response to the rule, or an order of
    the rule's offer within ``window_days`` after the rule fired for them (``orders`` in ``con``, as
    for campaigns: what makes the control group's successes visible). Intention to treat: the action
    group is every fired, non-held-out subscriber, contacted or not."""
    import duckdb
    import pyarrow as pa

    cid = design.campaign_id
    q = ledger.db.q
    outcomes = dict(
        q("SELECT outcome, count(*) FROM rt_decisions WHERE rule_id=? GROUP BY 1", (design.rule_id,))
    )
    blocked = dict(
        q(
            "SELECT reason, count(*) FROM rt_decisions WHERE rule_id=? AND outcome='blocked' GROUP BY 1",
            (design.rule_id,),
        )
    )
    contacts = dict(q("SELECT status, count(*) FROM contacts WHERE campaign_id=? GROUP BY 1", (cid,)))
    fired = q(
        "SELECT msisdn, min(event_at), max(CASE WHEN outcome='control' THEN 1 ELSE 0 END) FROM rt_decisions "
        "WHERE rule_id=? AND outcome NOT IN ('rule_capped', 'armed', 'sequence_cancelled', 'rule_gone') GROUP BY msisdn",
        (design.rule_id,),
    )
    accepted = q(
        "SELECT msisdn, min(responded_at) FROM responses WHERE campaign_id=? AND outcome='accepted' GROUP BY msisdn",
        (cid,),
    )
    con = con or duckdb.connect()
    con.register(
        "rt_members",
        pa.table(
            {
                "msisdn": pa.array([r[0] for r in fired], pa.string()),
                "fired_at": pa.array([int(r[1]) for r in fired], pa.int64()),
                "grp": pa.array(["control" if r[2] else "action" for r in fired], pa.string()),
            }
        ),
    )
    con.register(
        "rt_accepted",
        pa.table(
            {
                "msisdn": pa.array([r[0] for r in accepted], pa.string()),
                "ts": pa.array([int(r[1]) for r in accepted], pa.int64()),
            }
        ),
    )
    have = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    notes = []
    window = window_days * 86400
    order_join = "SELECT NULL::VARCHAR AS msisdn WHERE false"
    if orders in have:
        order_join = (
            f"SELECT DISTINCT m.msisdn FROM rt_members m JOIN {orders} o ON o.msisdn = m.msisdn "
            f"AND o.product_id = $offer AND o.action = 'subscribe' AND epoch(o.order_time) >= m.fired_at "
            f"AND epoch(o.order_time) < m.fired_at + {window}"
        )
    else:
        notes.append("no orders table: success counts accepted responses only (control has none)")
    r = con.execute(
        "WITH ok AS (SELECT m.msisdn FROM rt_members m JOIN rt_accepted a ON a.msisdn = m.msisdn "
        f"AND a.ts >= m.fired_at AND a.ts < m.fired_at + {window} UNION {order_join}) "
        "SELECT count(*) FILTER (grp='action'), count(*) FILTER (grp='action' AND msisdn IN (SELECT msisdn FROM ok)), "
        "count(*) FILTER (grp='control'), count(*) FILTER (grp='control' AND msisdn IN (SELECT msisdn FROM ok)) "
        "FROM rt_members",
        {"offer": design.offer_id} if orders in have else {},
    ).fetchall()[0]
    overall = Comparison(int(r[0]), int(r[1]), int(r[2]), int(r[3]))
    lag = q(
        "SELECT c.contact_at - d.event_at FROM rt_decisions d JOIN contacts c ON c.contact_id = d.contact_id "
        "WHERE d.rule_id=? AND c.status IN ('submitted', 'delivered', 'unknown')",
        (design.rule_id,),
    )
    worker = q(
        "SELECT submitted_ms - received_ms FROM rt_decisions WHERE rule_id=? AND submitted_ms IS NOT NULL",
        (design.rule_id,),
    )
    return RuleReport(
        design.rule_id,
        sum(int(v) for k, v in outcomes.items() if k not in ("rule_capped",)),
        {k: int(v) for k, v in outcomes.items()},
        {str(k): int(v) for k, v in blocked.items()},
        {k: int(v) for k, v in contacts.items()},
        len(accepted),
        overall,
        _pct((x[0] for x in lag), (50, 90, 99)),
        _pct((x[0] for x in worker), (50, 99)),
        notes,
    )


def format_report(r: RuleReport) -> str:
    c = r.overall
    lo, hi = c.ci()
    lines = [
        f"rule {r.rule_id}: fired {r.fired:,} — "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(r.outcomes.items())),
        "  blocked by policy: " + (", ".join(f"{k} {v:,}" for k, v in sorted(r.blocked.items())) or "none"),
        "  contacts: " + (", ".join(f"{k} {v:,}" for k, v in sorted(r.contacts.items())) or "none"),
        f"  accepted: {r.accepted:,}",
        f"  action {c.action_successes:,}/{c.action_n:,} = {c.action_rate:.2%}   control "
        f"{c.control_successes:,}/{c.control_n:,} = {c.control_rate:.2%}   lift {c.lift:.2f}   "
        f"difference CI95 [{lo:+.2%}, {hi:+.2%}]   p = {c.p_value:.3g}",
    ]
    if r.event_to_contact_s:
        lines.append(
            "  event → contact (s): " + ", ".join(f"{k} {v:,.0f}" for k, v in r.event_to_contact_s.items())
        )
    if r.worker_ms:
        lines.append(
            "  worker received → SMS submitted (ms): "
            + ", ".join(f"{k} {v:,.1f}" for k, v in r.worker_ms.items())
        )
    lines += [f"  note: {n}" for n in r.notes]
    return "\n".join(lines)


def write_events(path: Path | str, events: Iterable[Event]) -> int:
    n = 0
    with Path(path).open("wb") as f:
        for e in events:
            f.write(e.to_json() + b"\n")
            n += 1
    return n


def report_json(r: RuleReport) -> str:
    return json.dumps(r.as_dict(), default=str, ensure_ascii=False, indent=2)
