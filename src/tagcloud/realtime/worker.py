"""The event worker (业务规则处理引擎 → 营销执行指令): consume → validate → match → decide → contact → ack.

One micro-batch at a time:

1. fetch up to ``batch`` messages from the bus;
2. validate (:func:`~tagcloud.realtime.events.parse_event`, the clock, the subscriber table,
   duplicate ids); bad events go to the dead-letter stream with their reason;
3. reload the rules if the rule store's revision moved (no restart to switch a rule on or off);
4. match every rule at once over the batch (:class:`~tagcloud.realtime.engine.Matcher`);
5. decide each matched event, rules in priority order: the per-rule cap per subscriber, a sequence
   rule arms a timer instead of firing, the control group is held out and recorded like a
   campaign's (``ContactLedger.record_control``), everyone else is reserved through
   ``ContactLedger.reserve`` — the one policy and the one cap shared with batch campaigns;
6. store one decision per event (``rt_decisions``, keyed on event id: a redelivered event is
   recognised and decides nothing twice), then acknowledge the batch;
7. fire due sequence timers, and send due SMS contacts over SMPP from the ledger (an outbox: a
   contact reserved before a crash is still sent after it; one left mid-submission becomes UNKNOWN
   and is never sent twice).

Counts reconcile: every message received is either a decision row or a dead letter; a
redelivery of an already decided event counts as ``redelivered`` and nothing else.

Time: ``clock="wall"`` (production) judges lateness and due contacts by the wall clock;
``clock="event"`` (replaying the simulator's day) by the latest event time seen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from tagcloud.campaigns.channels.smpp import SmppClient, SmsRun, submit_claimed
from tagcloud.campaigns.design import render
from tagcloud.campaigns.policy import Channel, ContactLedger, ContactRequest, Decision, epoch, from_epoch
from tagcloud.realtime.bus import Bus, Letter, Message
from tagcloud.realtime.engine import Matcher, SubscriberTable, split_by_type
from tagcloud.realtime.events import DeadLetter, DeadReason, Event, Lateness, check_time, parse_event
from tagcloud.realtime.rulestore import ActiveRule, RuleStore


class Outcome(StrEnum):
    """What the worker decided for one event."""

    NO_MATCH = "no_match"  # no active rule matched
    CONTACTED = "contacted"  # a contact was reserved now (the SMS goes out from the ledger)
    DEFERRED = "deferred"  # reserved for the end of quiet hours
    BLOCKED = "blocked"  # the contact policy said no (reason: the ledger's decision)
    RULE_CAPPED = "rule_capped"  # every matching rule already fired its cap for this subscriber
    CONTROL = "control"  # held out: recorded with the offer, never contacted
    ARMED = "armed"  # a sequence rule is waiting for its follow-up window to pass
    SEQUENCE_CANCELLED = "sequence_cancelled"  # the follow-up event came in time: nothing sent
    TOUCHPOINT = "touchpoint"  # a rule for touchpoint channels only: the offer waits for a visit
    RULE_GONE = "rule_gone"  # an armed rule was switched off before its timer fired


FIRED = frozenset({Outcome.CONTACTED, Outcome.DEFERRED, Outcome.CONTROL, Outcome.ARMED, Outcome.TOUCHPOINT})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rt_decisions (
    event_id VARCHAR PRIMARY KEY, fingerprint VARCHAR NOT NULL, stream_seq BIGINT,
    event_type VARCHAR NOT NULL, msisdn VARCHAR NOT NULL, event_at BIGINT NOT NULL,
    rule_id VARCHAR, rule_version INTEGER, outcome VARCHAR NOT NULL, reason VARCHAR,
    contact_id BIGINT, message VARCHAR, received_ms BIGINT NOT NULL, decided_ms BIGINT NOT NULL,
    submitted_ms BIGINT
);
CREATE INDEX IF NOT EXISTS rt_decisions_by_rule ON rt_decisions (rule_id, msisdn, event_at);
CREATE INDEX IF NOT EXISTS rt_decisions_by_subscriber ON rt_decisions (msisdn, event_at);
CREATE INDEX IF NOT EXISTS rt_decisions_by_contact ON rt_decisions (contact_id);
CREATE TABLE IF NOT EXISTS rt_timers (
    event_id VARCHAR NOT NULL, rule_id VARCHAR NOT NULL, rule_version INTEGER NOT NULL,
    msisdn VARCHAR NOT NULL, event_at BIGINT NOT NULL, due_at BIGINT NOT NULL, state VARCHAR NOT NULL,
    message VARCHAR, PRIMARY KEY (event_id, rule_id)
);
CREATE INDEX IF NOT EXISTS rt_timers_due ON rt_timers (state, due_at);
CREATE INDEX IF NOT EXISTS rt_timers_by_subscriber ON rt_timers (rule_id, msisdn, state)
"""

_FIRED_SQL = "(" + ", ".join(f"'{o.value}'" for o in sorted(FIRED)) + ")"


def create_tables(ledger: ContactLedger) -> None:
    for stmt in (s.strip() for s in _SCHEMA.split(";")):
        if stmt:
            try:
                ledger.db.conn.execute(stmt)
            except Exception as e:  # concurrent creators on PostgreSQL race on the catalogue
                if "already exists" not in str(e) and "duplicate key" not in str(e):
                    raise


def wave_of(event_id: str) -> int:
    """The ledger's wave number of one event's contact: the ledger's unique key then makes a
    re-decided event find its own contact (ALREADY) instead of taking a second one."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


def in_control(rule_id: str, msisdn: str, share: float) -> bool:
    """Stable holdout: the same subscriber is in a rule's control group at every event."""
    h = int.from_bytes(hashlib.blake2b(f"{rule_id}|{msisdn}".encode(), digest_size=8).digest(), "big")
    return h / 2**64 < share


def _ms() -> int:
    return int(time.time() * 1000)


@dataclass
class WorkerStats:
    received: int = 0  # messages taken in for the first time
    decided: int = 0
    dead: int = 0
    redelivered: int = 0  # already decided before (a crash or an unacknowledged batch)
    matched: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    dead_reasons: dict[str, int] = field(default_factory=dict)
    sms: SmsRun = field(default_factory=SmsRun)
    timers_fired: int = 0
    batches: int = 0
    rule_reloads: int = 0

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class Worker:
    """One event worker (one per ledger database: it alone sends the rule contacts it reserved)."""

    def __init__(
        self,
        bus: Bus,
        ledger: ContactLedger,
        rules: RuleStore,
        subscribers: SubscriberTable,
        smpp: SmppClient | None = None,
        clock: str = "wall",
        lateness: Lateness | None = None,
        batch: int = 1000,
        fields: Callable[[str], dict[str, Any]] | None = None,
        sender_thread: bool = False,
    ) -> None:
        if clock not in ("wall", "event"):
            raise ValueError(f"clock {clock!r}: wall or event")
        self.bus, self.ledger, self.rules, self.subscribers = bus, ledger, rules, subscribers
        self.smpp, self.clock, self.batch = smpp, clock, batch
        self.lateness = lateness or Lateness()
        self.fields = fields or (lambda m: {"msisdn_tail": m[-4:]})
        self.stats = WorkerStats()
        self.watermark: dt.datetime | None = None
        self._revision = -1
        self.matcher = Matcher([], subscribers.names)
        self._active: dict[str, ActiveRule] = {}
        self._pending_fires: dict[tuple[str, str], int] = {}  # fires decided in this batch, not yet stored
        self._receipts: list[Any] = []
        self._cancels: list[tuple[ActiveRule, np.ndarray, np.ndarray]] = []
        self._prior: dict[tuple[str, str], list[int]] = {}  # earlier fires of this batch's subscribers
        create_tables(ledger)
        self._recover()
        if smpp is not None:
            smpp.on_receipt = self._receipt
        # the outbox sent from a thread of its own (its own ledger connection): the SMSC's answers
        # then never hold up the next micro-batch
        self._sender: threading.Thread | None = None
        self._wake, self._stop = threading.Event(), threading.Event()
        if sender_thread and smpp is not None:
            self._sender = threading.Thread(target=self._send_loop, name="rt-sender", daemon=True)
            self._sender.start()

    # ---- time ---------------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        if self.clock == "wall" or self.watermark is None:
            return dt.datetime.now().replace(microsecond=0)
        return self.watermark

    # ---- rules --------------------------------------------------------------------------------
    def reload_rules(self) -> bool:
        """Recompile the active rules if the store changed since the last look; True if it did."""
        rev = self.rules.revision()
        if rev == self._revision:
            return False
        active = self.rules.active_rules()
        self.matcher = Matcher(active, self.subscribers.names)
        self._active = {r.rule_id: r for r in active}
        self._revision = rev
        self.stats.rule_reloads += 1
        return True

    # ---- the loop -----------------------------------------------------------------------------
    def run(
        self, max_batches: int | None = None, idle_timeout: float | None = None, poll: float = 0.2
    ) -> WorkerStats:
        """Process batches until ``max_batches`` or until the bus stayed empty for ``idle_timeout`` s."""
        idle_since = time.monotonic()
        n = 0
        while max_batches is None or n < max_batches:
            got = self.step(poll)
            n += 1
            if got:
                idle_since = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout:
                break
        self.flush_timers(final=False)
        if self._sender is not None:
            self.stop_sender()
        else:
            self.send_due()
        return self.stats

    def _send_loop(self) -> None:
        with ContactLedger(self.ledger.url, self.ledger.policy) as ledger:
            while not self._stop.is_set():
                self._wake.wait(0.01)
                self._wake.clear()
                while self.send_due(ledger=ledger):
                    pass
                self.flush_receipts(ledger)
            self.send_due(ledger=ledger)
            self.flush_receipts(ledger)

    def stop_sender(self) -> None:
        """Send what is due, then stop the sender thread (``run`` does this when it ends)."""
        if self._sender is not None:
            self._stop.set()
            self._wake.set()
            self._sender.join()
            self._sender = None

    def step(self, timeout: float = 0.2) -> int:
        """One micro-batch; returns how many messages it took."""
        msgs = self.bus.fetch(self.batch, timeout=timeout)
        self.reload_rules()
        if msgs:
            self.process(msgs)
            self.stats.batches += 1
        self.flush_timers()
        if self._sender is not None:
            self._wake.set()
        else:
            self.send_due()
            self.flush_receipts()
        return len(msgs)

    def process(self, msgs: Sequence[Message]) -> None:
        received_ms = _ms()
        parsed: list[tuple[Message, Event]] = []
        letters: list[Letter] = []
        for m in msgs:
            r = parse_event(m.data)
            if isinstance(r, DeadLetter):
                letters.append(Letter(m.seq, m.data, r.reason.value, r.detail, r.event_id))
            else:
                parsed.append((m, r))
        # duplicates: an id already decided (redelivery if the payload is the same) or twice in the batch
        known = self._known_fingerprints([e.event_id for _, e in parsed])
        fresh: list[tuple[Message, Event]] = []
        seen: dict[str, str] = {}
        redelivered = 0
        for m, e in parsed:
            fp = e.fingerprint
            prior = known.get(e.event_id) or seen.get(e.event_id)
            if prior is None:
                seen[e.event_id] = fp
                fresh.append((m, e))
            elif prior == fp and e.event_id in known:
                redelivered += 1
            else:
                letters.append(
                    Letter(
                        m.seq,
                        m.data,
                        DeadReason.DUPLICATE_ID.value,
                        f"event id {e.event_id!r} reused",
                        e.event_id,
                    )
                )
        self.stats.redelivered += redelivered
        # the clock: the wall, or (replay) the batch's median event time, never moving back
        if fresh and self.clock == "event":
            ts = sorted(e.ts for _, e in fresh)
            mid = ts[len(ts) // 2]
            ref = max(mid, self.watermark) if self.watermark else mid
        else:
            ref = dt.datetime.now()
        timely: list[tuple[Message, Event]] = []
        for m, e in fresh:
            bad = check_time(e, ref, self.lateness)
            if bad is None:
                timely.append((m, e))
            else:
                letters.append(Letter(m.seq, m.data, bad.reason.value, bad.detail, e.event_id))
        rows = self.subscribers.locate(np.array([int(e.msisdn) for _, e in timely], np.int64))
        good = [(m, e) for (m, e), r in zip(timely, rows.tolist(), strict=True) if r >= 0]
        for (m, e), r in zip(timely, rows.tolist(), strict=True):
            if r < 0:
                letters.append(
                    Letter(
                        m.seq,
                        m.data,
                        DeadReason.UNKNOWN_SUBSCRIBER.value,
                        f"no subscriber {e.msisdn}",
                        e.event_id,
                    )
                )
        rows = rows[rows >= 0]
        if self.clock == "event" and good:
            latest = max(e.ts for _, e in good)
            self.watermark = max(self.watermark, latest) if self.watermark else latest
        events = [e for _, e in good]
        decisions = self._decide(events, rows, received_ms)
        seqs = {e.event_id: m.seq for m, e in good}
        self._store(decisions, seqs)
        if letters:
            self.bus.dead_letter(letters)
            for x in letters:
                self.stats.dead_reasons[x.reason] = self.stats.dead_reasons.get(x.reason, 0) + 1
        self.stats.received += len(good) + len(letters)
        self.stats.decided += len(decisions)
        self.stats.dead += len(letters)
        self.bus.ack(msgs)

    # ---- deciding -----------------------------------------------------------------------------
    def _decide(self, events: list[Event], rows: np.ndarray, received_ms: int) -> list[dict[str, Any]]:
        decisions: list[dict[str, Any]] = [
            {
                "event": e,
                "rule": None,
                "outcome": Outcome.NO_MATCH,
                "reason": None,
                "contact_id": None,
                "message": None,
                "received_ms": received_ms,
            }
            for e in events
        ]
        if not events:
            return decisions
        batches = split_by_type(events, self.matcher.fields())
        matches = self.matcher.match(batches, self.subscribers, rows)
        # applied once the batch's own timers are armed and stored (see _store)
        self._cancels = [(self.matcher.rules[i].rule, m, t) for i, m, t in matches.cancels]
        self.stats.matched += len(matches.events)
        if len(matches.events):
            periods = max(r.rule.design.cap_period_days for r in self.matcher.rules)
            oldest = min(epoch(events[p].ts) for p in matches.events.tolist()) - periods * 86400
            self._prior = self._prior_fires({events[p].msisdn for p in matches.events.tolist()}, oldest)
        pending: list[tuple[ContactRequest, dict[str, Any]]] = []
        for pos, cand in zip(matches.events.tolist(), matches.rules, strict=True):
            d = decisions[pos]
            e = d["event"]
            d["outcome"] = Outcome.RULE_CAPPED
            for ri in cand:
                rule = self.matcher.rules[ri].rule
                if self._rule_fired(rule, e.msisdn, e.ts) >= rule.design.cap_per_subscriber:
                    continue
                d["rule"] = rule
                d["message"] = render(rule.design.script, {**self.fields(e.msisdn), **e.attrs})
                if rule.design.sequence is not None:
                    self._arm(rule, e, d["message"])
                    d["outcome"] = Outcome.ARMED
                else:
                    self._fire(rule, e.event_id, e.msisdn, e.ts, d, pending)
                break
        if pending:
            results = self.ledger.reserve_many([req for req, _ in pending])
            for (req, d), res in zip(pending, results, strict=True):
                self._apply(req, res, d)
        return decisions

    def _prior_fires(self, msisdns: set[str], oldest: int) -> dict[tuple[str, str], list[int]]:
        """Earlier fires of any rule for these subscribers since ``oldest``: one query per 500 numbers."""
        out: dict[tuple[str, str], list[int]] = {}
        ms = sorted(msisdns)
        for i in range(0, len(ms), 500):
            chunk = ms[i : i + 500]
            ph = ", ".join("?" for _ in chunk)
            for rule_id, m, at in self.ledger.db.q(
                f"SELECT rule_id, msisdn, event_at FROM rt_decisions WHERE msisdn IN ({ph}) AND event_at > ? "
                f"AND outcome IN {_FIRED_SQL}",
                (*chunk, oldest),
            ):
                out.setdefault((rule_id, m), []).append(int(at))
        return out

    def _rule_fired(self, rule: ActiveRule, msisdn: str, at: dt.datetime) -> int:
        lo = epoch(at) - rule.design.cap_period_days * 86400
        prior = sum(1 for t in self._prior.get((rule.rule_id, msisdn), ()) if t > lo)
        return prior + self._pending_fires.get((rule.rule_id, msisdn), 0)

    def _fire(
        self,
        rule: ActiveRule,
        event_id: str,
        msisdn: str,
        at: dt.datetime,
        d: dict[str, Any],
        pending: list[tuple[ContactRequest, dict[str, Any]]] | None = None,
    ) -> None:
        design = rule.design
        key = (rule.rule_id, msisdn)
        self._pending_fires[key] = self._pending_fires.get(key, 0) + 1
        push = [c for c in design.channels if c == Channel.SMS]
        if not push:
            d["outcome"] = Outcome.TOUCHPOINT
            return
        wave = wave_of(event_id)
        if in_control(rule.rule_id, msisdn, design.control_share):
            self.ledger.record_control(
                design.campaign_id, [msisdn], [design.offer_id], Channel.SMS.value, at, wave
            )
            d["outcome"] = Outcome.CONTROL
            return
        req = ContactRequest(
            design.campaign_id,
            msisdn,
            Channel.SMS.value,
            at,
            offer_id=design.offer_id,
            priority=design.priority,
            wave=wave,
        )
        if pending is not None:  # reserved with the rest of the micro-batch, in one transaction
            pending.append((req, d))
            return
        self._apply(req, self.ledger.reserve(req), d)

    def _apply(self, req: ContactRequest, res: Any, d: dict[str, Any]) -> None:
        """A reservation's answer as the event's outcome."""
        if res.decision == Decision.ALREADY:  # decided before a crash: find what it was
            if res.contact_id is None:
                why = self.ledger.db.q(
                    "SELECT reason FROM exclusions WHERE campaign_id=? AND wave=? AND msisdn=? AND channel='sms'",
                    (req.campaign_id, req.wave, req.msisdn),
                )
                d["outcome"], d["reason"] = Outcome.BLOCKED, why[0][0] if why else None
            else:
                d["contact_id"] = res.contact_id
                d["outcome"] = Outcome.DEFERRED if res.send_at and res.send_at > req.at else Outcome.CONTACTED
        elif res.decision in (Decision.RESERVED, Decision.DEFERRED):
            d["contact_id"] = res.contact_id
            d["outcome"] = Outcome.CONTACTED if res.decision == Decision.RESERVED else Outcome.DEFERRED
        else:
            d["outcome"], d["reason"] = Outcome.BLOCKED, res.decision.value

    def _store(self, decisions: list[dict[str, Any]], seqs: dict[str, int]) -> None:
        now = _ms()
        rows = []
        for d in decisions:
            e: Event = d["event"]
            rule: ActiveRule | None = d["rule"]
            self.stats.count(d["outcome"].value)
            rows.append(
                (
                    e.event_id,
                    e.fingerprint,
                    seqs.get(e.event_id),
                    e.type.value,
                    e.msisdn,
                    epoch(e.ts),
                    rule.rule_id if rule else None,
                    rule.version if rule else None,
                    d["outcome"].value,
                    d["reason"],
                    d["contact_id"],
                    d["message"],
                    d["received_ms"],
                    now,
                )
            )
        with self.ledger.db.transaction(plain=True):
            self.ledger.db.many(
                "INSERT INTO rt_decisions (event_id, fingerprint, stream_seq, event_type, msisdn, event_at, rule_id, "
                "rule_version, outcome, reason, contact_id, message, received_ms, decided_ms) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                rows,
            )
        self._pending_fires.clear()
        for rule, msisdns, ts in self._cancels:
            self._cancel_timers(rule, msisdns, ts)
        self._cancels = []

    def _known_fingerprints(self, ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            ph = ", ".join("?" for _ in chunk)
            for eid, fp in self.ledger.db.q(
                f"SELECT event_id, fingerprint FROM rt_decisions WHERE event_id IN ({ph})", chunk
            ):
                out[eid] = fp
        return out

    # ---- sequences ----------------------------------------------------------------------------
    def _arm(self, rule: ActiveRule, e: Event, message: str) -> None:
        seq = rule.design.sequence
        assert seq is not None
        key = (rule.rule_id, e.msisdn)
        self._pending_fires[key] = self._pending_fires.get(key, 0) + 1
        self.ledger.db.q(
            "INSERT INTO rt_timers VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (
                e.event_id,
                rule.rule_id,
                rule.version,
                e.msisdn,
                epoch(e.ts),
                epoch(e.ts) + seq.within_minutes * 60,
                "armed",
                message,
            ),
        )

    def _cancel_timers(self, rule: ActiveRule, msisdns: np.ndarray, ts: np.ndarray) -> None:
        rows = [
            (rule.rule_id, str(m), int(t), int(t))
            for m, t in zip(
                msisdns.tolist(), ts.astype("datetime64[s]").astype(np.int64).tolist(), strict=True
            )
        ]
        with self.ledger.db.transaction(plain=True):
            for r in rows:
                for (eid,) in self.ledger.db.q(
                    "UPDATE rt_timers SET state='cancelled' WHERE rule_id=? AND msisdn=? AND state='armed' "
                    "AND event_at <= ? AND due_at >= ? RETURNING event_id",
                    r,
                ):
                    self.ledger.db.q(
                        "UPDATE rt_decisions SET outcome=? WHERE event_id=? AND outcome=?",
                        (Outcome.SEQUENCE_CANCELLED.value, eid, Outcome.ARMED.value),
                    )
                    self.stats.count(Outcome.SEQUENCE_CANCELLED.value)

    def flush_timers(self, final: bool = False) -> int:
        """Fire armed timers that are due by the clock; returns how many fired."""
        due = self.ledger.db.q(
            "SELECT event_id, rule_id, msisdn, due_at, message FROM rt_timers WHERE state='armed' AND due_at <= ? "
            "ORDER BY due_at LIMIT 5000",
            (epoch(self.now()),),
        )
        for event_id, rule_id, msisdn, due_at, message in due:
            rule = self._active.get(rule_id)
            d: dict[str, Any] = {"outcome": Outcome.RULE_GONE, "reason": None, "contact_id": None}
            if rule is not None:
                self._fire(rule, event_id, msisdn, from_epoch(due_at), d)
            with self.ledger.db.transaction(plain=True):
                self.ledger.db.q(
                    "UPDATE rt_decisions SET outcome=?, reason=?, contact_id=?, message=COALESCE(message, ?) "
                    "WHERE event_id=?",
                    (d["outcome"].value, d["reason"], d["contact_id"], message, event_id),
                )
                self.ledger.db.q(
                    "UPDATE rt_timers SET state='fired' WHERE event_id=? AND rule_id=?", (event_id, rule_id)
                )
            self._pending_fires.clear()
            self.stats.timers_fired += 1
            self.stats.count(f"timer_{d['outcome'].value}")
        return len(due)

    # ---- sending ------------------------------------------------------------------------------
    def _recover(self) -> None:
        """Contacts a killed worker left mid-submission: UNKNOWN, never sent twice."""
        stuck = [
            r[0]
            for r in self.ledger.db.q(
                "SELECT d.contact_id FROM rt_decisions d JOIN contacts c ON c.contact_id = d.contact_id "
                "WHERE c.status = 'submitting'"
            )
        ]
        self.stats.sms.recovered_unknown += self.ledger.recover_ids(stuck, dt.datetime.now())

    def send_due(self, limit: int = 2000, ledger: ContactLedger | None = None) -> int:
        """Send the due SMS of rule contacts (reserved, time reached); returns how many were submitted."""
        if self.smpp is None:
            return 0
        ledger = ledger or self.ledger
        now = self.now()
        due = ledger.db.q(
            "SELECT d.contact_id, d.message, d.event_id FROM rt_decisions d JOIN contacts c ON c.contact_id = d.contact_id "
            "WHERE c.status = 'reserved' AND c.contact_at <= ? ORDER BY d.contact_id LIMIT ?",
            (epoch(now), limit),
        )
        if not due:
            return 0
        text = {int(c): (m or "", eid) for c, m, eid in due}
        claimed = ledger.claim_ids(list(text), now)
        if not claimed:
            return 0
        results = submit_claimed(
            ledger,
            self.smpp,
            [(int(cid), m, text[int(cid)][0]) for cid, m, _, _ in claimed],
            self.stats.sms,
        )
        sent = _ms()
        with ledger.db.transaction(plain=True):
            ledger.db.many(
                "UPDATE rt_decisions SET submitted_ms=? WHERE contact_id=?",
                [(sent, r.ref) for r in results if r.status.value == "submitted"],
            )
        return sum(1 for r in results if r.status.value == "submitted")

    def _receipt(self, r: Any) -> None:
        # the SMPP reader thread: the ledger's connection belongs to the worker, so receipts wait
        self._receipts.append(r)

    def flush_receipts(self, ledger: ContactLedger | None = None) -> int:
        got, self._receipts = self._receipts, []  # swap: the SMPP reader appends to the new list
        if got:
            (ledger or self.ledger).set_status_by_external(
                [(r.message_id, r.contact_status.value) for r in got], dt.datetime.now()
            )
            self.stats.sms.receipts += len(got)
        return len(got)


def reconcile(ledger: ContactLedger, bus: Bus) -> dict[str, int]:
    """received = decided + dead-lettered, from what is stored (not from a worker's memory)."""
    decided = int(ledger.db.q("SELECT count(*) FROM rt_decisions")[0][0])
    dead = len(bus.dead_letters())
    return {"decided": decided, "dead_lettered": dead, "received": decided + dead}


def decisions_summary(ledger: ContactLedger) -> dict[str, int]:
    return {
        o: int(n)
        for o, n in ledger.db.q("SELECT outcome, count(*) FROM rt_decisions GROUP BY outcome ORDER BY 1")
    }


def event_payloads(events: Sequence[Event]) -> list[bytes]:
    return [e.to_json() for e in events]


def dumps(stats: WorkerStats) -> str:
    return json.dumps(
        {
            "received": stats.received,
            "decided": stats.decided,
            "dead": stats.dead,
            "redelivered": stats.redelivered,
            "matched": stats.matched,
            "outcomes": stats.outcomes,
            "dead_reasons": stats.dead_reasons,
            "sms_submitted": stats.sms.submitted,
            "sms_unknown_recovered": stats.sms.recovered_unknown,
            "timers_fired": stats.timers_fired,
        },
        sort_keys=True,
    )
