"""Next-best-offer at a touchpoint (seed 001 scenes 1–4): a subscriber stands at a channel → the
ranked offers that channel may make now, with the script to read, and what the other channels
already said to them.

Candidates come from three places:

- campaigns: the subscriber's pending touchpoint contacts (``campaigns.execute.touchpoint_offers``);
- real-time rules: rules that fired for the subscriber and offer at this channel (``rt_decisions``
  of the event worker, e.g. "roaming into Guangdong" → SMS + 10086), and active rules on
  ``touchpoint_visit`` events matched now against this visit (the rule store's matcher);
- models: offers tied to a model's output column of the wide table (a flag or a score), e.g. the
  family V-net prospect model → the family plan.

Each candidate is checked by the one contact policy (``ContactLedger.exclusion_reasons``: DND,
complaint-sensitive, holds the offer, accepted it in any channel) and by the contact memory (an
offer accepted or refused recently anywhere is not offered again; one the subscriber is
considering is kept and says so), then ranked by ``(1 + priority) × propensity × value``:
priority of the campaign or rule, propensity from the model columns (``propensity`` maps an offer
to its score column; 0–1 scores as they are, 0–100 scores divided by 100, flags 1 or 0), value the
offer's monthly fee (``values``). A decision that runs past its time budget (default 50 ms)
returns the configured fallback offer instead, saying so.

``feedback`` writes the ledger first (the one contact history: ``record_response``; acceptance
stops the offer in every channel through the ledger's accepted-elsewhere exclusion), then the
memory, so every channel sees it on its next decision.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.campaigns.design import render
from tagcloud.campaigns.policy import (
    TOUCHPOINT_CHANNELS,
    Channel,
    ContactLedger,
    ContactRequest,
    ContactStatus,
    ResponseOutcome,
    epoch,
    from_epoch,
)
from tagcloud.realtime.memory import MemoryOutcome, MemoryStore, Recollection

if TYPE_CHECKING:
    from tagcloud.campaigns.design import CampaignDesign
    from tagcloud.realtime.engine import Matcher, SubscriberTable
    from tagcloud.realtime.rulestore import ActiveRule, RuleStore
    from tagcloud.tags.condition import NameInfo

DEFAULT_BUDGET_MS = 50.0
REFUSED_QUIET_DAYS = 7  # an offer refused anywhere is not offered again for a week
CONSIDERING_BOOST = 1.5  # a subscriber who said "I'll think about it" is the warmest lead (scene 2)
RULE_RELOAD_S = 1.0  # how often the active rules are re-read: switching a rule acts within a second


class DecideError(ValueError):
    """A request ``decide`` cannot answer (unknown channel, not a touchpoint); says why."""


@dataclass(frozen=True)
class ModelOffer:
    """An offer a model proposes: when the subscriber's ``column`` (a flag, or a score ≥ ``min_score``)
    says so. The column is the offer's propensity too, unless ``propensity`` names another."""

    offer_id: str
    name: str
    column: str
    script: str
    min_score: float = 0.5
    priority: int = 0
    channels: tuple[str, ...] = tuple(sorted(c.value for c in TOUCHPOINT_CHANNELS))


@dataclass(frozen=True)
class Fallback:
    """What a channel offers when the decision ran out of time (a safe, general offer)."""

    offer_id: str
    name: str
    script: str


@dataclass
class RankedOffer:
    source: str  # campaign | rule | model | fallback
    source_id: str  # campaign id, rule:<id>, model:<column>, fallback
    offer_id: str
    name: str
    script: str
    priority: int = 0
    propensity: float = 0.0
    value: float = 1.0
    score: float = 0.0
    contact_id: int | None = None  # a campaign's reserved touchpoint contact, for feedback
    memory: list[str] = field(default_factory=list)  # what other channels said, newest first

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class OfferDecision:
    msisdn: str
    channel: str
    offers: list[RankedOffer]
    excluded: list[dict[str, str]]  # offer, source, reason: why a candidate was not offered
    memory: list[dict[str, Any]]  # the cross-channel contact memory, newest first
    fallback: bool = False
    reason: str = ""  # why the fallback was used
    elapsed_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "msisdn": self.msisdn,
            "channel": self.channel,
            "offers": [o.as_dict() for o in self.offers],
            "excluded": self.excluded,
            "memory": self.memory,
            "fallback": self.fallback,
            "reason": self.reason,
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


class _OverBudget(Exception):
    pass


def _score_value(v: Any) -> float:
    """A model column as a 0–1 propensity: flags 1/0, 0–100 scores /100, 0–1 scores as they are."""
    if v is None:
        return 0.0
    if isinstance(v, bool | np.bool_):
        return 1.0 if v else 0.0
    try:
        x = float(v)
    except (TypeError, ValueError):
        return 0.0
    if x != x:  # NaN: no score
        return 0.0
    return max(0.0, min(1.0, x / 100.0 if x > 1.0 else x))


class Decider:
    """Next-best-offer decisions over one ledger, memory, campaign store, rule store and subscriber table.

    One object per process (thread-safe: the ledger connection is used under a lock; SQLite and
    Redis memories are thread-safe). ``designs``: campaign id → design lookup (default: none, so
    only rule and model offers). ``subscribers``: the wide table's columns the rules, models and
    scripts read (see ``subscriber_columns``).
    """

    def __init__(
        self,
        ledger: ContactLedger,
        memory: MemoryStore,
        *,
        designs: Callable[[str], CampaignDesign | None] | None = None,
        rules: RuleStore | None = None,
        subscribers: SubscriberTable | None = None,
        model_offers: Sequence[ModelOffer] = (),
        propensity: Mapping[str, str] | None = None,
        values: Mapping[str, float] | None = None,
        default_propensity: float = 0.1,
        fallback: Fallback | None = None,
        budget_ms: float = DEFAULT_BUDGET_MS,
        clock: Callable[[], dt.datetime] = dt.datetime.now,
        names: Mapping[str, NameInfo] | None = None,
        load_subscribers: Callable[[set[str]], SubscriberTable] | None = None,
    ) -> None:
        from tagcloud.realtime.worker import create_tables

        if budget_ms <= 0:
            raise ValueError(f"decision time budget must be positive, not {budget_ms} ms")
        self.ledger, self.memory = ledger, memory
        self.designs = designs or (lambda _cid: None)
        self.rules, self.subscribers = rules, subscribers
        self.model_offers = list(model_offers)
        self.propensity = dict(propensity or {})
        self.values = dict(values or {})
        self.default_propensity = default_propensity
        self.fallback_offer = fallback
        self.budget_ms = budget_ms
        self.clock = clock
        self.names = names  # the whole catalogue, when the subscriber table holds only some columns
        self.load_subscribers = load_subscribers  # reads the columns a newly switched-on rule needs
        self._lock = threading.Lock()
        create_tables(ledger)
        # the touchpoint looks rule fires up by subscriber; the worker's own index is by rule
        ledger.db.conn.execute(
            "CREATE INDEX IF NOT EXISTS rt_decisions_by_subscriber ON rt_decisions (msisdn, event_at)"
        )
        self._rules_at = -1e9
        self._revision = -1
        self._active: dict[str, ActiveRule] = {}
        self._matcher: Matcher | None = None

    # ---- rules --------------------------------------------------------------------------------
    def _refresh_rules(self) -> None:
        if time.monotonic() - self._rules_at < RULE_RELOAD_S:
            return
        if self.rules is None:
            if self.load_subscribers is not None and self.subscribers is None:
                self.subscribers = self.load_subscribers(self.subscriber_columns())
            self._rules_at = time.monotonic()
            return
        from tagcloud.realtime.engine import Matcher
        from tagcloud.realtime.events import EventType

        self._rules_at = time.monotonic()
        rev = self.rules.revision()
        if rev == self._revision:
            return
        active = self.rules.active_rules()
        self._active = {r.rule_id: r for r in active}
        visit = [r for r in active if r.design.event_type == EventType.TOUCHPOINT_VISIT]
        names = self.names or (self.subscribers.names if self.subscribers is not None else {})
        matcher = Matcher(visit, names) if visit else None
        need = (matcher.subscriber_columns() if matcher else set()) | self.subscriber_columns()
        have = set(self.subscribers.columns) if self.subscribers is not None else set()
        if self.load_subscribers is not None and not need <= have:
            self.subscribers = self.load_subscribers(need | have)
        self._matcher = matcher if self.subscribers is not None else None
        self._revision = rev

    def subscriber_columns(self) -> set[str]:
        """The wide-table columns decisions read: model offers' and propensities' columns."""
        return {m.column for m in self.model_offers} | set(self.propensity.values())

    # ---- deciding -----------------------------------------------------------------------------
    def decide(
        self,
        msisdn: str,
        channel: str,
        context: Mapping[str, Any] | None = None,
        now: dt.datetime | None = None,
        limit: int = 5,
    ) -> OfferDecision:
        """The ranked eligible offers for ``msisdn`` at ``channel`` (see the module doc)."""
        t0 = time.perf_counter()
        if channel not in {c.value for c in Channel}:
            raise DecideError(
                f"unknown channel {channel!r}; touchpoints: {', '.join(sorted(TOUCHPOINT_CHANNELS))}"
            )
        if Channel(channel) not in TOUCHPOINT_CHANNELS:
            raise DecideError(f"{channel!r} is not a touchpoint: {', '.join(sorted(TOUCHPOINT_CHANNELS))}")
        now = now or self.clock()

        def check(stage: str) -> None:
            if (time.perf_counter() - t0) * 1000 > self.budget_ms:
                raise _OverBudget(stage)

        try:
            return self._decide(msisdn, channel, dict(context or {}), now, limit, check, t0)
        except _OverBudget as e:
            return self._fallback(msisdn, channel, f"over the {self.budget_ms:g} ms budget after {e}", t0)
        except Exception as e:  # a store that is down (Redis, the ledger) must not leave the agent blank
            if isinstance(e, DecideError):
                raise
            return self._fallback(msisdn, channel, f"{type(e).__name__}: {e}", t0)

    def _fallback(self, msisdn: str, channel: str, reason: str, t0: float) -> OfferDecision:
        offers = []
        if self.fallback_offer is not None:
            f = self.fallback_offer
            offers.append(
                RankedOffer("fallback", "fallback", f.offer_id, f.name, render(f.script, _fields(msisdn, {})))
            )
        return OfferDecision(msisdn, channel, offers, [], [], True, reason, (time.perf_counter() - t0) * 1000)

    def _decide(
        self,
        msisdn: str,
        channel: str,
        context: dict[str, Any],
        now: dt.datetime,
        limit: int,
        check: Callable[[str], None],
        t0: float,
    ) -> OfferDecision:
        cands: list[RankedOffer] = []
        with self._lock:
            self._refresh_rules()
            check("reading the rules")
            row = self._row(msisdn)
            fields = _fields(msisdn, row)
            cands += self._campaign_offers(msisdn, channel, now, fields)
            check("campaign offers")
            cands += self._fired_rule_offers(msisdn, channel, now)
            check("rule offers")
            cands += self._visit_rule_offers(msisdn, channel, context, now, fields)
            cands += self._model_offers(channel, row, fields)
            check("model offers")
            refused = self.ledger.exclusion_reasons(msisdn, sorted({c.offer_id for c in cands}))
        check("the contact policy")
        recalled = self.memory.recall(msisdn)
        check("the contact memory")
        latest: dict[str, Recollection] = {}
        touches: dict[str, list[str]] = {}
        for r in recalled:
            latest.setdefault(r.offer_id, r)
            touches.setdefault(r.offer_id, []).append(r.phrase(now))
        excluded: list[dict[str, str]] = []
        chosen: dict[str, RankedOffer] = {}
        for c in cands:
            why: str | None = refused.get(c.offer_id)
            last = latest.get(c.offer_id)
            if why is None and last is not None:
                if last.outcome == MemoryOutcome.ACCEPTED:
                    why = "accepted_offer"
                elif last.outcome == MemoryOutcome.REFUSED and now - last.at < dt.timedelta(
                    days=REFUSED_QUIET_DAYS
                ):
                    why = "refused_recently"
            if why is not None:
                excluded.append({"offer_id": c.offer_id, "source_id": c.source_id, "reason": str(why)})
                continue
            col = self.propensity.get(c.offer_id)
            if col is not None and col in row:
                c.propensity = _score_value(row[col])
            elif c.source != "model":
                c.propensity = self.default_propensity
            if last is not None and last.outcome == MemoryOutcome.CONSIDERING:
                c.propensity = min(1.0, c.propensity * CONSIDERING_BOOST)
            c.value = float(self.values.get(c.offer_id, 1.0))
            c.score = (1 + max(c.priority, 0)) * c.propensity * c.value
            c.memory = touches.get(c.offer_id, [])
            best = chosen.get(c.offer_id)  # one offer once: the best-scored source makes it
            if best is None or c.score > best.score:
                chosen[c.offer_id] = c
        ranked = sorted(chosen.values(), key=lambda o: (-o.score, -o.priority, o.source_id, o.offer_id))
        memory = [
            {
                "offer_id": r.offer_id,
                "channel": r.channel,
                "outcome": str(r.outcome),
                "at": r.at.isoformat(sep=" ", timespec="minutes"),
                "source_id": r.source_id,
                "phrase": r.phrase(now),
                "phrase_zh": r.phrase(now, "zh"),
            }
            for r in recalled
        ]
        return OfferDecision(
            msisdn, channel, ranked[:limit], excluded, memory, elapsed_ms=(time.perf_counter() - t0) * 1000
        )

    def _row(self, msisdn: str) -> dict[str, Any]:
        t = self.subscribers
        if t is None or not msisdn.isdigit():
            return {}
        pos = int(t.locate(np.array([int(msisdn)], np.int64))[0])
        if pos < 0:
            return {}
        out: dict[str, Any] = {}
        for name, (v, nulls) in t.columns.items():
            out[name] = None if nulls is not None and nulls[pos] else v[pos].item()
        return out

    def _campaign_offers(
        self, msisdn: str, channel: str, now: dt.datetime, fields: dict[str, Any]
    ) -> list[RankedOffer]:
        rows = self.ledger.db.q(
            "SELECT c.contact_id, c.campaign_id, c.sub_campaign, c.offer_id, c.priority, c.channel FROM contacts c "
            "WHERE c.msisdn=? AND c.status='reserved' AND c.contact_at <= ? AND c.channel IN ("
            + ",".join(f"'{c.value}'" for c in sorted(TOUCHPOINT_CHANNELS))
            + ") ORDER BY c.priority DESC, c.contact_id",
            (msisdn, epoch(now)),
        )
        out = []
        for cid, camp, sub, offer, prio, ch in rows:
            d = self.designs(camp)
            if d is None or offer is None:
                continue
            try:
                s = d.sub(sub)
            except KeyError:
                continue
            script = s.scripts.get(channel) or s.scripts.get(ch) or ""
            out.append(
                RankedOffer(
                    "campaign", camp, offer, d.name, render(script, fields), prio, contact_id=int(cid)
                )
            )
        return out

    def _fired_rule_offers(self, msisdn: str, channel: str, now: dt.datetime) -> list[RankedOffer]:
        """Rules that fired for the subscriber within their cap period and offer at this channel too."""
        if not self._active:
            return []
        longest = max(r.design.cap_period_days for r in self._active.values())
        rows = self.ledger.db.q(
            "SELECT rule_id, message, event_at FROM rt_decisions WHERE msisdn=? AND event_at > ? AND event_at <= ? "
            "AND outcome IN ('touchpoint', 'contacted', 'deferred') ORDER BY event_at DESC",
            (msisdn, epoch(now) - longest * 86400, epoch(now)),
        )
        out, seen = [], set()
        for rid, message, at in rows:
            r = self._active.get(rid)
            if r is None or rid in seen:
                continue
            d = r.design
            if channel not in {c.value for c in d.channels}:
                continue
            if (
                from_epoch(at) < now - dt.timedelta(days=d.cap_period_days)
                or not d.valid_from <= now.date() <= d.valid_until
            ):
                continue
            seen.add(rid)
            out.append(RankedOffer("rule", d.campaign_id, d.offer_id, d.name, message or "", d.priority))
        return out

    def _visit_rule_offers(
        self, msisdn: str, channel: str, context: dict[str, Any], now: dt.datetime, fields: dict[str, Any]
    ) -> list[RankedOffer]:
        """Active rules on touchpoint visits, matched now against this visit (the rules' own matcher)."""
        if self._matcher is None or self.subscribers is None or not msisdn.isdigit():
            return []
        from tagcloud.realtime.engine import split_by_type
        from tagcloud.realtime.events import Event, EventType

        pos = self.subscribers.locate(np.array([int(msisdn)], np.int64))
        if pos[0] < 0:
            return []
        attrs = {"channel": channel, "reason": str(context.get("reason", ""))}
        ev = Event(
            f"visit-{msisdn}-{epoch(now)}",
            EventType.TOUCHPOINT_VISIT,
            msisdn,
            now.replace(microsecond=0),
            attrs,
        )
        m = self._matcher.match(split_by_type([ev], self._matcher.fields()), self.subscribers, pos)
        out = []
        for rules in m.rules:
            for ri in rules:
                d = self._matcher.rules[ri].rule.design
                if channel in {c.value for c in d.channels}:
                    out.append(
                        RankedOffer(
                            "rule",
                            d.campaign_id,
                            d.offer_id,
                            d.name,
                            render(d.script, {**fields, **attrs}),
                            d.priority,
                        )
                    )
        return out

    def _model_offers(self, channel: str, row: dict[str, Any], fields: dict[str, Any]) -> list[RankedOffer]:
        out = []
        for m in self.model_offers:
            if channel not in m.channels or m.column not in row:
                continue
            p = _score_value(row[m.column])
            if p <= 0 or p < m.min_score:
                continue
            out.append(
                RankedOffer(
                    "model",
                    f"model:{m.column}",
                    m.offer_id,
                    m.name,
                    render(m.script, fields),
                    m.priority,
                    propensity=p,
                )
            )
        return out

    # ---- feedback -----------------------------------------------------------------------------
    def feedback(
        self,
        msisdn: str,
        offer_id: str,
        channel: str,
        outcome: str,
        source_id: str | None = None,
        contact_id: int | None = None,
        at: dt.datetime | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Record what the subscriber said (see ``feedback``)."""
        with self._lock:
            return feedback(
                self.ledger,
                self.memory,
                msisdn,
                offer_id,
                channel,
                outcome,
                source_id,
                contact_id,
                at or self.clock(),
                note,
            )


def _fields(msisdn: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """Personal fields for scripts: the number's tail and the subscriber's attributes."""
    return {**row, "msisdn_tail": msisdn[-4:]}


def feedback(
    ledger: ContactLedger,
    memory: MemoryStore,
    msisdn: str,
    offer_id: str,
    channel: str,
    outcome: str,
    source_id: str | None,
    contact_id: int | None,
    at: dt.datetime,
    note: str | None = None,
) -> dict[str, Any]:
    """An offer shown (``offered``) or answered (``considering`` / ``accepted`` / ``refused``) at a
    touchpoint. The ledger first: an offer shown is a contact under the contact policy (its
    reservation says whether the policy allowed it); an answer is a response, and an acceptance
    stops the offer in every channel. Then the memory, read by every channel's next decision.
    Returns what was recorded."""
    out = MemoryOutcome(outcome)
    if Channel(channel) not in TOUCHPOINT_CHANNELS:
        raise DecideError(f"{channel!r} is not a touchpoint: {', '.join(sorted(TOUCHPOINT_CHANNELS))}")
    if contact_id is not None:
        row = ledger.db.q(
            "SELECT msisdn, offer_id, campaign_id FROM contacts WHERE contact_id=?", (contact_id,)
        )
        if not row or row[0][0] != msisdn:
            raise KeyError(f"touchpoint feedback: no contact {contact_id} for this subscriber")
        offer_id, source_id = row[0][1] or offer_id, row[0][2]
        ledger.set_status(
            [(contact_id, ContactStatus.DELIVERED.value, None)], at, only_from=[ContactStatus.RESERVED]
        )
    recorded: dict[str, Any] = {"outcome": out.value, "offer_id": offer_id, "contact_id": contact_id}
    if out == MemoryOutcome.OFFERED:
        if contact_id is None:
            res = ledger.reserve(
                ContactRequest(source_id or f"touchpoint:{channel}", msisdn, channel, at, offer_id=offer_id)
            )
            recorded["decision"] = res.decision.value
            recorded["contact_id"] = res.contact_id
            if res.contact_id is not None:
                ledger.set_status(
                    [(res.contact_id, ContactStatus.DELIVERED.value, None)],
                    at,
                    only_from=[ContactStatus.RESERVED],
                )
            elif res.decision.value not in ("already",):
                return recorded  # the policy refused the contact: nothing was shown, nothing to remember
    else:
        ledger.record_response(
            msisdn,
            offer_id,
            channel,
            ResponseOutcome(out.value),
            at,
            campaign_id=source_id,
            contact_id=contact_id,
            note=note,
        )
    memory.record(msisdn, [Recollection(offer_id, channel, out, at, source_id)])
    return recorded
