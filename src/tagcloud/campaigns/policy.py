"""One contact policy, enforced at send time for every campaign and channel (接触频次控制).

Rules (seed 000 §4.5, seed 001 touchpoint management):

- per subscriber, at most N marketing contacts per channel per period (default: 3 marketing SMS a
  calendar month); a period is a calendar month or a sliding window of days;
- quiet hours: a marketing contact due inside them is deferred to the end of them, not dropped;
- a do-not-disturb list, complaint-sensitive subscribers, subscribers who already hold the offer and
  subscribers who accepted the offer in any channel are excluded (the reason is recorded);
- service messages are exempt from all of the above and never count towards a cap;
- between campaigns, priority decides: a higher-priority campaign takes a slot from a lower-priority
  contact that has not been handed to a channel yet, and the loser is recorded with the winner.

The ledger (`ContactLedger`) is the only place a contact is reserved; a reservation is atomic in
SQLite and in PostgreSQL (see ``backends.py``), so the cap holds under any interleaving of threads
and processes.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tagcloud.campaigns.backends import Backend, PostgresBackend, open_backend


class Channel(StrEnum):
    """Channels a campaign contacts subscribers through."""

    SMS = "sms"  # marketing SMS pushed over SMPP
    OUTBOUND = "outbound"  # outbound call centre (外呼)
    HOTLINE = "10086"  # inbound hotline touchpoint
    HALL = "hall"  # service hall (营业厅)
    WEB_HALL = "web_hall"  # web hall (网厅)
    SMS_HALL = "sms_hall"  # SMS hall (短信营业厅)
    APP = "app"  # mobile app
    SELF_TERMINAL = "self_terminal"  # self-service terminal


PUSH_CHANNELS = frozenset({Channel.SMS, Channel.OUTBOUND})  # we start the contact: quiet hours apply
TOUCHPOINT_CHANNELS = frozenset(set(Channel) - PUSH_CHANNELS)  # the subscriber comes to us


class ContactKind(StrEnum):
    MARKETING = "marketing"  # counts towards caps, subject to every exclusion
    SERVICE = "service"  # bills, outages, confirmations: exempt


class ContactStatus(StrEnum):
    """Life of one contact record."""

    RESERVED = "reserved"  # slot taken, waiting for its send time (deferred by quiet hours if later)
    SUBMITTING = "submitting"  # claimed by a sender; if the sender dies here the outcome is unknown
    SUBMITTED = "submitted"  # accepted by the channel (SMSC answered submit_sm, call list exported)
    DELIVERED = "delivered"  # the channel confirmed delivery (SMS receipt, call answered)
    FAILED = "failed"  # the channel could not deliver
    UNKNOWN = "unknown"  # a sender died between claim and answer: never resent (no duplicate SMS)
    PREEMPTED = "preempted"  # lost its slot to a higher-priority campaign before it was sent
    CANCELLED = "cancelled"  # the subscriber accepted the offer elsewhere before this was sent
    CONTROL = "control"  # control-group member: recorded with the offer, never contacted


# A contact that has reached (or may have reached) the subscriber, or still will: it uses a slot.
COUNTED_STATES = frozenset(
    {
        ContactStatus.RESERVED,
        ContactStatus.SUBMITTING,
        ContactStatus.SUBMITTED,
        ContactStatus.DELIVERED,
        ContactStatus.UNKNOWN,
    }
)
PENDING_STATES = frozenset({ContactStatus.RESERVED})  # not yet handed to a channel: may be preempted
FINAL_STATES = frozenset(
    {
        ContactStatus.DELIVERED,
        ContactStatus.FAILED,
        ContactStatus.UNKNOWN,
        ContactStatus.PREEMPTED,
        ContactStatus.CANCELLED,
        ContactStatus.CONTROL,
    }
)


class Decision(StrEnum):
    """What the policy decided for one request."""

    RESERVED = "reserved"  # a slot is taken now
    DEFERRED = "deferred"  # a slot is taken at the end of quiet hours
    ALREADY = "already"  # this campaign wave already decided this subscriber (idempotent re-run)
    CAPPED = "capped"  # the channel's cap for the period is used up by equal/higher priority
    LOST_PRIORITY = "lost_priority"  # a higher-priority campaign in the same list took the last slot
    DO_NOT_DISTURB = "do_not_disturb"
    COMPLAINT_SENSITIVE = "complaint_sensitive"
    HOLDS_OFFER = "holds_offer"
    ACCEPTED_OFFER = "accepted_offer"  # accepted it already, in any channel
    NOT_IN_WAVE = "not_in_wave"  # a later wave skips whoever already responded


SLOT_DECISIONS = frozenset({Decision.RESERVED, Decision.DEFERRED})


class ResponseOutcome(StrEnum):
    CONSIDERING = "considering"
    ACCEPTED = "accepted"  # stops the offer in every channel
    REFUSED = "refused"


def epoch(t: dt.datetime) -> int:
    """Local wall-clock time as whole seconds (the ledger stores naive local time, like the warehouse)."""
    return _calendar.timegm(t.replace(tzinfo=None).timetuple())


def from_epoch(s: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=int(s))


@dataclass(frozen=True)
class SmscRecord:
    """One message the SMSC says it accepted (its journal or CDR export, or a delivery receipt)."""

    destination: str
    message_id: str
    source: str | None = None  # the sender short code
    at: float | None = None  # when the SMSC accepted it (wall-clock epoch seconds)


@dataclass
class UnknownResolution:
    """What ``ContactLedger.resolve_unknown`` did with the contacts left UNKNOWN."""

    unknown: int = 0  # UNKNOWN before
    sent: int = 0  # the SMSC took them: SUBMITTED with its message id
    resend: int = 0  # the SMSC never took them: RESERVED, sent once by the next pass
    ambiguous: int = 0  # records and contacts do not pair up: left UNKNOWN

    @property
    def missed(self) -> int:
        return self.ambiguous


@dataclass(frozen=True)
class Period:
    """A cap's period: a calendar month (``days=None``) or a sliding window of ``days``."""

    days: int | None = None

    def __post_init__(self) -> None:
        if self.days is not None and self.days < 1:
            raise ValueError(f"a sliding contact period must be at least 1 day, not {self.days}")

    def bounds(self, at: dt.datetime) -> tuple[int, int]:
        """[lo, hi) in epoch seconds of the contacts that share a cap with a contact at ``at``.

        For a sliding window a new contact joins every window that contains it, so the check spans
        (at - days, at + days): conservative, never lets any window exceed the cap.
        """
        if self.days is None:
            start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            nxt = (start + dt.timedelta(days=32)).replace(day=1)
            return epoch(start), epoch(nxt)
        w = self.days * 86400
        return epoch(at) - w + 1, epoch(at) + w


@dataclass(frozen=True)
class Cap:
    limit: int
    period: Period = Period()

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise ValueError(f"a contact cap must be 0 or more, not {self.limit}")

    def fits(self, held: Sequence[int], new: int) -> bool:
        """Whether one more contact at ``new`` keeps every period within the cap.

        ``held``: times (epoch s) of the subscriber's counted contacts inside ``period.bounds``.
        For a sliding period only windows that contain ``new`` can break, so only those are checked.
        """
        if self.period.days is None:
            return len(held) + 1 <= self.limit
        w = self.period.days * 86400
        times = sorted([*held, new])
        for i, start in enumerate(times):
            if new - w < start <= new:
                inside = sum(1 for t in times[i:] if t < start + w)
                if inside > self.limit:
                    return False
        return True


@dataclass(frozen=True)
class ContactPolicy:
    """The rules. Channels without a cap are unlimited; quiet hours apply to push channels."""

    caps: dict[str, Cap] = field(default_factory=lambda: {Channel.SMS.value: Cap(3)})
    quiet_start: dt.time = dt.time(21, 0)
    quiet_end: dt.time = dt.time(8, 0)

    def defer(self, channel: str, kind: str, at: dt.datetime) -> dt.datetime:
        """The time a contact due at ``at`` may happen: ``at``, or the end of quiet hours."""
        if kind != ContactKind.MARKETING or channel not in PUSH_CHANNELS:
            return at
        t = at.time()
        qs, qe = self.quiet_start, self.quiet_end
        inside = (qs <= t or t < qe) if qs > qe else (qs <= t < qe)
        if not inside:
            return at
        end = dt.datetime.combine(at.date(), qe)
        return end if end > at else end + dt.timedelta(days=1)


@dataclass(frozen=True)
class ContactRequest:
    campaign_id: str
    msisdn: str
    channel: str
    at: dt.datetime
    offer_id: str | None = None
    priority: int = 0
    kind: str = ContactKind.MARKETING
    wave: int = 0
    sub_campaign: str | None = None


@dataclass(frozen=True)
class Reservation:
    decision: Decision
    contact_id: int | None = None
    send_at: dt.datetime | None = None
    winner_campaign_id: str | None = None  # who took the slot, for a loser
    preempted_contact_id: int | None = None  # the lower-priority contact this one displaced


_COUNTED_SQL = "(" + ", ".join(f"'{s.value}'" for s in sorted(COUNTED_STATES)) + ")"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    contact_id {id},
    campaign_id VARCHAR NOT NULL,
    wave INTEGER NOT NULL,
    sub_campaign VARCHAR,
    msisdn VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,
    offer_id VARCHAR,
    kind VARCHAR NOT NULL,
    priority INTEGER NOT NULL,
    contact_at BIGINT NOT NULL,
    status VARCHAR NOT NULL,
    status_at BIGINT,
    external_id VARCHAR,
    detail VARCHAR,
    UNIQUE (campaign_id, wave, msisdn, channel)
);
CREATE INDEX IF NOT EXISTS contacts_by_subscriber ON contacts (msisdn, channel, contact_at);
CREATE INDEX IF NOT EXISTS contacts_by_external ON contacts (external_id);
CREATE INDEX IF NOT EXISTS contacts_by_campaign ON contacts (campaign_id, wave, status);
CREATE TABLE IF NOT EXISTS exclusions (
    campaign_id VARCHAR NOT NULL,
    wave INTEGER NOT NULL,
    msisdn VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,
    offer_id VARCHAR,
    reason VARCHAR NOT NULL,
    winner_campaign_id VARCHAR,
    decided_at BIGINT NOT NULL,
    UNIQUE (campaign_id, wave, msisdn, channel)
);
CREATE TABLE IF NOT EXISTS do_not_disturb (msisdn VARCHAR PRIMARY KEY, reason VARCHAR);
CREATE TABLE IF NOT EXISTS complaint_sensitive (msisdn VARCHAR PRIMARY KEY);
CREATE TABLE IF NOT EXISTS holdings (msisdn VARCHAR NOT NULL, offer_id VARCHAR NOT NULL, PRIMARY KEY (msisdn, offer_id));
CREATE TABLE IF NOT EXISTS acceptances (
    msisdn VARCHAR NOT NULL, offer_id VARCHAR NOT NULL, channel VARCHAR NOT NULL,
    campaign_id VARCHAR, accepted_at BIGINT NOT NULL, PRIMARY KEY (msisdn, offer_id)
);
CREATE TABLE IF NOT EXISTS responses (
    response_id {id},
    contact_id BIGINT,
    campaign_id VARCHAR,
    msisdn VARCHAR NOT NULL,
    offer_id VARCHAR,
    channel VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    responded_at BIGINT NOT NULL,
    note VARCHAR
);
CREATE INDEX IF NOT EXISTS responses_by_subscriber ON responses (msisdn);
CREATE INDEX IF NOT EXISTS responses_by_campaign ON responses (campaign_id);
"""


class ContactLedger:
    """Every contact, exclusion and response, with atomic reservation against the policy.

    ``url``: ``sqlite:///path.db`` or ``postgresql://user@host/db[?schema=name]``. One ledger object
    per thread or process (a connection is not shared).
    """

    def __init__(self, url: str, policy: ContactPolicy | None = None) -> None:
        self.url = url
        self.policy = policy or ContactPolicy()
        self.db: Backend = open_backend(url)
        self._create()

    def _create(self) -> None:
        ddl = _SCHEMA.replace("{id}", self.db.id_column)
        for stmt in (s.strip() for s in ddl.split(";")):
            if stmt:
                try:
                    self.db.conn.execute(stmt)
                except Exception as e:  # concurrent creators on PostgreSQL race on the catalogue
                    if "already exists" not in str(e) and "duplicate key" not in str(e):
                        raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ContactLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- lists maintained by the business ---------------------------------------------------
    def set_do_not_disturb(self, msisdns: Iterable[str], reason: str = "requested") -> None:
        """Add numbers to the do-not-disturb list (免打扰)."""
        with self.db.transaction():
            self._upsert_many("do_not_disturb", ("msisdn", "reason"), [(m, reason) for m in msisdns])

    def set_complaint_sensitive(self, msisdns: Iterable[str]) -> None:
        """Mark subscribers as complaint-sensitive (投诉敏感): never marketed to."""
        with self.db.transaction():
            self._upsert_many("complaint_sensitive", ("msisdn",), [(m,) for m in msisdns])

    def set_holdings(self, pairs: Iterable[tuple[str, str]]) -> None:
        """(msisdn, offer_id) pairs of products subscribers already hold."""
        with self.db.transaction():
            self._upsert_many("holdings", ("msisdn", "offer_id"), list(pairs))

    def _upsert_many(self, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        ph = ", ".join("?" for _ in cols)
        self.db.many(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({ph}) ON CONFLICT DO NOTHING", rows)

    # ---- single reservation -----------------------------------------------------------------
    def reserve(self, req: ContactRequest) -> Reservation:
        """Decide one contact under the policy and, if allowed, take its slot — atomically."""
        _check_request(req)
        with self.db.transaction():
            return self._reserve_locked(req)

    def reserve_many(self, reqs: Sequence[ContactRequest]) -> list[Reservation]:
        """Several single reservations in one transaction: the same decisions as ``reserve`` called
        for each in turn (requests for one subscriber keep their order), one commit for all. Subscribers
        are locked in msisdn order, so two callers cannot deadlock on PostgreSQL."""
        for r in reqs:
            _check_request(r)
        out: list[Reservation | None] = [None] * len(reqs)
        with self.db.transaction():
            for i in sorted(range(len(reqs)), key=lambda k: reqs[k].msisdn):
                out[i] = self._reserve_locked(reqs[i])
        return [r for r in out if r is not None]

    def _reserve_locked(self, req: ContactRequest) -> Reservation:
        """``reserve`` inside an open transaction."""
        send_at = self.policy.defer(req.channel, req.kind, req.at)
        ts = epoch(send_at)
        marketing = req.kind == ContactKind.MARKETING
        db = self.db
        db.lock_subscriber(req.msisdn)
        prior = db.q(
            "SELECT contact_id, contact_at FROM contacts WHERE campaign_id=? AND wave=? AND msisdn=? AND channel=?",
            (req.campaign_id, req.wave, req.msisdn, req.channel),
        )
        if prior or db.q(
            "SELECT 1 FROM exclusions WHERE campaign_id=? AND wave=? AND msisdn=? AND channel=?",
            (req.campaign_id, req.wave, req.msisdn, req.channel),
        ):
            return Reservation(
                Decision.ALREADY,
                contact_id=prior[0][0] if prior else None,
                send_at=from_epoch(prior[0][1]) if prior else None,
            )
        if marketing:
            reason = self._exclusion_reason(req)
            if reason is not None:
                self._exclude(req, reason, None)
                return Reservation(reason)
        cap = self.policy.caps.get(req.channel) if marketing else None
        preempted: int | None = None
        if cap is not None:
            lo, hi = cap.period.bounds(send_at)
            held = db.q(
                f"SELECT contact_id, contact_at, priority, status FROM contacts WHERE msisdn=? AND channel=? "
                f"AND kind='marketing' AND status IN {_COUNTED_SQL} AND contact_at >= ? AND contact_at < ?",
                (req.msisdn, req.channel, lo, hi),
            )
            if not cap.fits([r[1] for r in held], ts):
                # the lowest-priority pending contact whose removal makes room, if any
                victims = sorted(
                    (r for r in held if r[3] == ContactStatus.RESERVED and r[2] < req.priority),
                    key=lambda r: (r[2], -r[1], -r[0]),
                )
                victim = [v for v in victims if cap.fits([r[1] for r in held if r[0] != v[0]], ts)][:1]
                if not victim:
                    holder = db.q(
                        f"SELECT campaign_id FROM contacts WHERE msisdn=? AND channel=? AND kind='marketing' "
                        f"AND status IN {_COUNTED_SQL} AND contact_at >= ? AND contact_at < ? "
                        "ORDER BY priority DESC, contact_id LIMIT 1",
                        (req.msisdn, req.channel, lo, hi),
                    )
                    winner = holder[0][0] if holder else None
                    self._exclude(req, Decision.CAPPED, winner)
                    return Reservation(Decision.CAPPED, winner_campaign_id=winner)
                preempted = int(victim[0][0])
                db.q(
                    "UPDATE contacts SET status=?, status_at=?, detail=? WHERE contact_id=?",
                    (
                        ContactStatus.PREEMPTED.value,
                        epoch(req.at),
                        f"preempted by {req.campaign_id}",
                        preempted,
                    ),
                )
                # the loser is recorded, not silently dropped
                db.q(
                    "INSERT INTO exclusions (campaign_id, wave, msisdn, channel, offer_id, reason, "
                    "winner_campaign_id, decided_at) SELECT campaign_id, wave, msisdn, channel, offer_id, ?, ?, ? "
                    "FROM contacts WHERE contact_id=? ON CONFLICT DO NOTHING",
                    (Decision.LOST_PRIORITY.value, req.campaign_id, epoch(req.at), preempted),
                )
        cid = db.q(
            "INSERT INTO contacts (campaign_id, wave, sub_campaign, msisdn, channel, offer_id, kind, priority, "
            "contact_at, status, status_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) RETURNING contact_id",
            (
                req.campaign_id,
                req.wave,
                req.sub_campaign,
                req.msisdn,
                req.channel,
                req.offer_id,
                req.kind,
                req.priority,
                ts,
                ContactStatus.RESERVED.value,
                epoch(req.at),
            ),
        )[0][0]
        return Reservation(
            Decision.DEFERRED if send_at != req.at else Decision.RESERVED,
            contact_id=int(cid),
            send_at=send_at,
            preempted_contact_id=preempted,
        )

    def _exclusion_reason(self, req: ContactRequest) -> Decision | None:
        offers = [req.offer_id] if req.offer_id is not None else []
        return self.exclusion_reasons(req.msisdn, offers).get(req.offer_id or "")

    def exclusion_reasons(self, msisdn: str, offer_ids: Sequence[str]) -> dict[str, Decision]:
        """Offer → why the policy refuses it to this subscriber (DND, complaint-sensitive, already
        holds it, accepted it in any channel); offers not in the answer are allowed. Read-only: a
        touchpoint decision asks this on its hot path, ``reserve`` applies the same rules when it
        takes a slot. With no offers, the key ``""`` carries a subscriber-wide refusal."""
        db = self.db
        whole: Decision | None = None
        if db.q("SELECT 1 FROM do_not_disturb WHERE msisdn=?", (msisdn,)):
            whole = Decision.DO_NOT_DISTURB
        elif db.q("SELECT 1 FROM complaint_sensitive WHERE msisdn=?", (msisdn,)):
            whole = Decision.COMPLAINT_SENSITIVE
        if whole is not None:
            return {o: whole for o in [*offer_ids, ""]}
        if not offer_ids:
            return {}
        marks = ",".join("?" for _ in offer_ids)
        out: dict[str, Decision] = {}
        for (o,) in db.q(
            f"SELECT offer_id FROM acceptances WHERE msisdn=? AND offer_id IN ({marks})", (msisdn, *offer_ids)
        ):
            out[o] = Decision.ACCEPTED_OFFER
        for (o,) in db.q(
            f"SELECT offer_id FROM holdings WHERE msisdn=? AND offer_id IN ({marks})", (msisdn, *offer_ids)
        ):
            out[o] = Decision.HOLDS_OFFER  # holding it is the first reason, as reserve() reports it
        return out

    def _exclude(self, req: ContactRequest, reason: Decision, winner: str | None) -> None:
        self.db.q(
            "INSERT INTO exclusions (campaign_id, wave, msisdn, channel, offer_id, reason, winner_campaign_id, "
            "decided_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (
                req.campaign_id,
                req.wave,
                req.msisdn,
                req.channel,
                req.offer_id,
                reason.value,
                winner,
                epoch(req.at),
            ),
        )

    # ---- bulk reservation (list generation) -------------------------------------------------
    def reserve_list(
        self,
        campaign_ids: Sequence[str],
        msisdns: Sequence[str],
        offer_ids: Sequence[str | None],
        priorities: Sequence[int],
        channel: str,
        at: dt.datetime,
        wave: int = 0,
        sub_campaigns: Sequence[str | None] | None = None,
        kind: str = ContactKind.MARKETING,
    ) -> dict[str, int]:
        """Decide a whole contact list at once, set-based, in one atomic transaction.

        Columns are parallel sequences (one entry per candidate; several campaigns may compete in
        one list: priority decides, losers are recorded with the winner). Returns decision → count.
        Pending lower-priority contacts from earlier lists are not preempted here (``reserve`` does).
        """
        n = len(msisdns)
        if not (len(campaign_ids) == len(offer_ids) == len(priorities) == n):
            raise ValueError("reserve_list: campaign_ids, msisdns, offer_ids and priorities differ in length")
        if channel not in {c.value for c in Channel}:
            raise ValueError(f"unknown channel {channel!r}; channels: {', '.join(c.value for c in Channel)}")
        subs = list(sub_campaigns) if sub_campaigns is not None else [None] * n
        send_at = self.policy.defer(channel, kind, at)
        ts, now = epoch(send_at), epoch(at)
        marketing = kind == ContactKind.MARKETING
        cap = self.policy.caps.get(channel) if marketing else None
        lo, hi = cap.period.bounds(send_at) if cap else (0, 0)
        limit = cap.limit if cap else 1 << 30
        db = self.db
        import numpy as np

        # loaded in number order: the per-candidate index seeks into the ledger then walk it in order
        order = np.argsort(np.asarray(msisdns, dtype=str), kind="stable")

        def by_order(col: Sequence[Any]) -> list[Any]:
            return list(np.asarray(col, dtype=object)[order].tolist())

        rows = list(
            zip(*(by_order(c) for c in (campaign_ids, msisdns, offer_ids, priorities, subs)), strict=True)
        )
        # one campaign per subscriber (the usual list) needs no ranking: rank 1, the winner is itself
        single = len(set(campaign_ids)) <= 1 and len(set(msisdns)) == n
        rank_sql = (
            "1 AS rk, r.campaign_id AS top "
            if single
            else "row_number() OVER (PARTITION BY r.msisdn ORDER BY r.priority DESC, r.campaign_id) AS rk, "
            "first_value(r.campaign_id) OVER (PARTITION BY r.msisdn ORDER BY r.priority DESC, r.campaign_id) AS top "
        )
        counts: dict[str, int] = {}
        with db.transaction(bulk=True):
            db.q(
                f"{db.temp_table} cand (campaign_id VARCHAR, msisdn VARCHAR, offer_id VARCHAR, "
                "priority INTEGER, sub_campaign VARCHAR)"
            )
            if isinstance(db, PostgresBackend):
                db.copy_rows("cand", ("campaign_id", "msisdn", "offer_id", "priority", "sub_campaign"), rows)
            else:
                db.many("INSERT INTO cand VALUES (?,?,?,?,?)", rows)
            db.q("CREATE INDEX cand_m ON cand (msisdn)")
            db.analyze_table("cand")
            excl = (
                "CASE WHEN d.msisdn IS NOT NULL THEN 'do_not_disturb' "
                "WHEN s.msisdn IS NOT NULL THEN 'complaint_sensitive' "
                "WHEN h.msisdn IS NOT NULL THEN 'holds_offer' "
                "WHEN a.msisdn IS NOT NULL THEN 'accepted_offer' END"
                if marketing
                else "CAST(NULL AS VARCHAR)"
            )
            db.q(
                f"{db.temp_table} decided AS "
                f"SELECT c.*, {excl} AS reason, "
                "CASE WHEN p.msisdn IS NOT NULL OR x.msisdn IS NOT NULL THEN 1 ELSE 0 END AS already "
                "FROM cand c "
                "LEFT JOIN do_not_disturb d ON d.msisdn = c.msisdn "
                "LEFT JOIN complaint_sensitive s ON s.msisdn = c.msisdn "
                "LEFT JOIN holdings h ON h.msisdn = c.msisdn AND h.offer_id = c.offer_id "
                "LEFT JOIN acceptances a ON a.msisdn = c.msisdn AND a.offer_id = c.offer_id "
                "LEFT JOIN contacts p ON p.campaign_id = c.campaign_id AND p.wave = ? AND p.msisdn = c.msisdn AND p.channel = ? "
                "LEFT JOIN exclusions x ON x.campaign_id = c.campaign_id AND x.wave = ? AND x.msisdn = c.msisdn AND x.channel = ?",
                (wave, channel, wave, channel),
            )
            db.analyze_table("decided")
            # one index range seek per candidate on (msisdn, channel, contact_at): far cheaper than
            # joining and grouping the whole ledger once it holds millions of contacts
            db.q(
                f"{db.temp_table} ranked AS "
                "SELECT r.*, (SELECT count(*) FROM contacts ct WHERE ct.msisdn = r.msisdn AND ct.channel = ? "
                f"AND ct.contact_at >= ? AND ct.contact_at < ? AND ct.kind = 'marketing' AND ct.status IN {_COUNTED_SQL}) AS used, "
                f"{rank_sql}FROM decided r WHERE r.reason IS NULL AND r.already = 0",
                (channel, lo, hi),
            )
            counts[Decision.ALREADY.value] = db.q("SELECT count(*) FROM decided WHERE already = 1")[0][0]
            for reason, cnt in db.q(
                "SELECT reason, count(*) FROM decided WHERE reason IS NOT NULL AND already = 0 GROUP BY reason"
            ):
                counts[reason] = cnt
            db.q(
                "INSERT INTO exclusions (campaign_id, wave, msisdn, channel, offer_id, reason, winner_campaign_id, decided_at) "
                "SELECT campaign_id, ?, msisdn, ?, offer_id, reason, NULL, ? FROM decided WHERE reason IS NOT NULL AND already = 0",
                (wave, channel, now),
            )
            granted = db.count(
                "INSERT INTO contacts (campaign_id, wave, sub_campaign, msisdn, channel, offer_id, kind, priority, "
                "contact_at, status, status_at) "
                "SELECT campaign_id, ?, sub_campaign, msisdn, ?, offer_id, ?, priority, ?, ?, ? FROM ranked "
                "WHERE used + rk <= ?",
                (wave, channel, kind, ts, ContactStatus.RESERVED.value, now, limit),
            )
            counts[(Decision.DEFERRED if send_at != at else Decision.RESERVED).value] = granted
            # a loser that would have fitted alone lost to priority; otherwise the cap was already used
            for reason, cnt in db.q(
                "SELECT CASE WHEN used < ? THEN 'lost_priority' ELSE 'capped' END, count(*) FROM ranked "
                "WHERE used + rk > ? GROUP BY 1",
                (limit, limit),
            ):
                counts[reason] = cnt
            db.q(
                "INSERT INTO exclusions (campaign_id, wave, msisdn, channel, offer_id, reason, winner_campaign_id, decided_at) "
                "SELECT campaign_id, ?, msisdn, ?, offer_id, CASE WHEN used < ? THEN 'lost_priority' ELSE 'capped' END, "
                "CASE WHEN used < ? THEN top END, ? FROM ranked WHERE used + rk > ?",
                (wave, channel, limit, limit, now, limit),
            )
            for t in ("ranked", "decided", "cand"):
                db.q(f"DROP TABLE {t}")
        return {k: v for k, v in counts.items() if v}

    def record_control(
        self,
        campaign_id: str,
        msisdns: Sequence[str],
        offer_ids: Sequence[str | None],
        channel: str,
        at: dt.datetime,
        wave: int = 0,
        sub_campaigns: Sequence[str | None] | None = None,
    ) -> int:
        """Record control-group members with the offer they would have received (never counted, never sent)."""
        subs = list(sub_campaigns) if sub_campaigns is not None else [None] * len(msisdns)
        ts = epoch(at)
        rows = [
            (
                campaign_id,
                wave,
                s,
                m,
                channel,
                o,
                ContactKind.MARKETING.value,
                0,
                ts,
                ContactStatus.CONTROL.value,
                ts,
            )
            for m, o, s in zip(msisdns, offer_ids, subs, strict=True)
        ]
        with self.db.transaction():
            self.db.many(
                "INSERT INTO contacts (campaign_id, wave, sub_campaign, msisdn, channel, offer_id, kind, priority, "
                "contact_at, status, status_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                rows,
            )
        return len(rows)

    def record_exclusions(
        self,
        campaign_id: str,
        wave: int,
        channel: str,
        msisdns: Sequence[str],
        offer_ids: Sequence[str | None],
        reason: Decision,
        at: dt.datetime,
    ) -> None:
        """Record candidates a campaign decided not to contact (e.g. a later wave's responders)."""
        ts = epoch(at)
        with self.db.transaction():
            self.db.many(
                "INSERT INTO exclusions (campaign_id, wave, msisdn, channel, offer_id, reason, winner_campaign_id, "
                "decided_at) VALUES (?,?,?,?,?,?,NULL,?) ON CONFLICT DO NOTHING",
                [
                    (campaign_id, wave, m, channel, o, reason.value, ts)
                    for m, o in zip(msisdns, offer_ids, strict=True)
                ],
            )

    def responders(self, campaign_id: str) -> set[str]:
        """Subscribers with any response to the campaign."""
        return {
            r[0]
            for r in self.db.q("SELECT DISTINCT msisdn FROM responses WHERE campaign_id=?", (campaign_id,))
        }

    # ---- send-time hand-off -----------------------------------------------------------------
    def claim_due(
        self, campaign_id: str, wave: int, channel: str, now: dt.datetime, limit: int
    ) -> list[tuple[Any, ...]]:
        """Move up to ``limit`` due RESERVED contacts to SUBMITTING and return them.

        Rows: (contact_id, msisdn, offer_id, sub_campaign). A contact is claimed once only: a
        sender that dies after the claim leaves it SUBMITTING, and ``recover`` marks it UNKNOWN
        rather than sending it again. Offers accepted meanwhile are cancelled here, at send time.
        """
        db = self.db
        with db.transaction():
            db.q(
                "UPDATE contacts SET status=?, status_at=?, detail='accepted elsewhere' WHERE campaign_id=? AND wave=? "
                "AND channel=? AND status=? AND kind='marketing' AND EXISTS (SELECT 1 FROM acceptances a WHERE a.msisdn=contacts.msisdn "
                "AND a.offer_id=contacts.offer_id)",
                (
                    ContactStatus.CANCELLED.value,
                    epoch(now),
                    campaign_id,
                    wave,
                    channel,
                    ContactStatus.RESERVED.value,
                ),
            )
            rows = db.q(
                # the outer status test matters on PostgreSQL: a second sender blocked on the same rows
                # re-checks it on the committed version and skips what the first one claimed
                "UPDATE contacts SET status=?, status_at=? WHERE contact_id IN (SELECT contact_id FROM contacts "
                "WHERE campaign_id=? AND wave=? AND channel=? AND status=? AND contact_at <= ? ORDER BY contact_id LIMIT ?) "
                "AND status=? RETURNING contact_id, msisdn, offer_id, sub_campaign",
                (
                    ContactStatus.SUBMITTING.value,
                    epoch(now),
                    campaign_id,
                    wave,
                    channel,
                    ContactStatus.RESERVED.value,
                    epoch(now),
                    limit,
                    ContactStatus.RESERVED.value,
                ),
            )
        return sorted(rows)

    def claim_ids(self, contact_ids: Sequence[int], now: dt.datetime) -> list[tuple[Any, ...]]:
        """``claim_due`` for named contacts (the event worker's outbox): due RESERVED ones → SUBMITTING.

        Rows: (contact_id, msisdn, offer_id, sub_campaign). Offers accepted meanwhile are cancelled.
        """
        if not contact_ids:
            return []
        db = self.db
        ids = ", ".join(str(int(c)) for c in contact_ids)  # integers only: nothing of a user's text
        with db.transaction():
            db.q(
                f"UPDATE contacts SET status=?, status_at=?, detail='accepted elsewhere' WHERE contact_id IN ({ids}) "
                "AND status=? AND kind='marketing' AND EXISTS (SELECT 1 FROM acceptances a WHERE a.msisdn=contacts.msisdn "
                "AND a.offer_id=contacts.offer_id)",
                (ContactStatus.CANCELLED.value, epoch(now), ContactStatus.RESERVED.value),
            )
            rows = db.q(
                f"UPDATE contacts SET status=?, status_at=? WHERE contact_id IN ({ids}) AND status=? AND contact_at <= ? "
                "RETURNING contact_id, msisdn, offer_id, sub_campaign",
                (ContactStatus.SUBMITTING.value, epoch(now), ContactStatus.RESERVED.value, epoch(now)),
            )
        return sorted(rows)

    def recover_ids(self, contact_ids: Sequence[int], now: dt.datetime) -> int:
        """``recover`` for named contacts: those left SUBMITTING by a dead sender become UNKNOWN."""
        if not contact_ids:
            return 0
        ids = ", ".join(str(int(c)) for c in contact_ids)
        with self.db.transaction():
            rows = self.db.q(
                "UPDATE contacts SET status=?, status_at=?, detail='sender stopped before the channel answered' "
                f"WHERE contact_id IN ({ids}) AND status=? RETURNING 1",
                (ContactStatus.UNKNOWN.value, epoch(now), ContactStatus.SUBMITTING.value),
            )
        return len(rows)

    def recover(self, campaign_id: str, wave: int, channel: str, now: dt.datetime) -> int:
        """After a crash: contacts left SUBMITTING may have been sent; mark them UNKNOWN (never resent)."""
        with self.db.transaction():
            rows = self.db.q(
                "UPDATE contacts SET status=?, status_at=?, detail='sender stopped before the channel answered' "
                "WHERE campaign_id=? AND wave=? AND channel=? AND status=? RETURNING 1",
                (
                    ContactStatus.UNKNOWN.value,
                    epoch(now),
                    campaign_id,
                    wave,
                    channel,
                    ContactStatus.SUBMITTING.value,
                ),
            )
        return len(rows)

    def resolve_unknown(
        self,
        records: Iterable[SmscRecord],
        now: dt.datetime,
        *,
        complete: bool = True,
        since: float | None = None,
        sources: Iterable[str] | None = None,
        channel: str = "sms",
    ) -> UnknownResolution:
        """Settle contacts left UNKNOWN by a dead sender against what the SMSC says it accepted.

        ``records`` are the SMSC's records of accepted messages (its journal or CDR export, or late
        delivery receipts), each with destination and message id. They are matched by destination,
        by sender (records from a short code outside ``sources`` are other systems' messages) and by
        time (records before ``since``, wall-clock epoch seconds, are older sends), leaving out
        message ids the ledger already holds. Per subscriber:
        as many unclaimed records as unknown contacts → each is SUBMITTED with its message id (later
        receipts then deliver it); no record and ``complete`` (the records cover every acceptance up
        to now) → RESERVED again, so the next pass sends it once; anything else stays UNKNOWN and is
        counted ``ambiguous``. Never resends what the SMSC may have taken.
        """
        unknown = self.db.q(
            "SELECT contact_id, msisdn FROM contacts WHERE channel=? AND status=? ORDER BY contact_id",
            (channel, ContactStatus.UNKNOWN.value),
        )
        res = UnknownResolution(unknown=len(unknown))
        if not unknown:
            return res
        by_msisdn: dict[str, list[int]] = {}
        for cid, m in unknown:
            by_msisdn.setdefault(str(m), []).append(int(cid))
        known: set[str] = set()
        ms = sorted(by_msisdn)
        for i in range(0, len(ms), 500):
            part = ms[i : i + 500]
            known |= {
                str(r[0])
                for r in self.db.q(
                    f"SELECT external_id FROM contacts WHERE msisdn IN ({', '.join('?' * len(part))}) "
                    "AND external_id IS NOT NULL",
                    part,
                )
            }
        taken: dict[str, list[SmscRecord]] = {}
        senders = set(sources) if sources is not None else None
        for r in records:
            if senders is not None and r.source is not None and r.source not in senders:
                continue
            older = since is not None and r.at is not None and r.at < since
            if r.destination in by_msisdn and r.message_id not in known and not older:
                taken.setdefault(r.destination, []).append(r)
        sent: list[tuple[str, int, int]] = []
        again: list[tuple[int, int]] = []
        ts = epoch(now)
        for m, cids in by_msisdn.items():
            recs = sorted({r.message_id: r for r in taken.get(m, [])}.values(), key=lambda r: r.at or 0.0)
            if len(recs) == len(cids):
                sent += [(r.message_id, ts, c) for r, c in zip(recs, cids, strict=True)]
            elif not recs and complete:
                again += [(ts, c) for c in cids]
            else:
                res.ambiguous += len(cids)
        with self.db.transaction():
            self.db.many(
                "UPDATE contacts SET status='submitted', external_id=?, status_at=?, "
                "detail='the SMSC took it (matched after the sender stopped)' WHERE contact_id=? AND status='unknown'",
                sent,
            )
            self.db.many(
                "UPDATE contacts SET status='reserved', status_at=?, "
                "detail='the SMSC never took it: to be sent again' WHERE contact_id=? AND status='unknown'",
                again,
            )
        res.sent, res.resend = len(sent), len(again)
        return res

    def set_status(
        self,
        updates: Sequence[tuple[int, str, str | None]],
        at: dt.datetime,
        only_from: Iterable[str] | None = None,
    ) -> None:
        """Update (contact_id, status, external_id) triples; ``only_from`` guards the previous status."""
        guard = ""
        if only_from is not None:
            guard = " AND status IN (" + ", ".join(f"'{ContactStatus(s).value}'" for s in only_from) + ")"
        ts = epoch(at)
        with self.db.transaction():
            self.db.many(
                f"UPDATE contacts SET status=?, status_at=?, external_id=COALESCE(?, external_id) WHERE contact_id=?{guard}",
                [(ContactStatus(s).value, ts, ext, cid) for cid, s, ext in updates],
            )

    def set_status_by_external(self, updates: Sequence[tuple[str, str]], at: dt.datetime) -> None:
        """Delivery receipts: (external message id, status); a receipt never reopens a final state."""
        ts = epoch(at)
        with self.db.transaction():
            self.db.many(
                "UPDATE contacts SET status=?, status_at=? WHERE external_id=? AND status IN ('submitted', 'unknown')",
                [(ContactStatus(s).value, ts, ext) for ext, s in updates],
            )

    # ---- responses --------------------------------------------------------------------------
    def record_response(
        self,
        msisdn: str,
        offer_id: str | None,
        channel: str,
        outcome: str,
        at: dt.datetime,
        campaign_id: str | None = None,
        contact_id: int | None = None,
        note: str | None = None,
    ) -> None:
        """Record feedback (considering / accepted / refused). Acceptance stops the offer everywhere."""
        out = ResponseOutcome(outcome)
        ts = epoch(at)
        db = self.db
        with db.transaction():
            db.lock_subscriber(msisdn)
            db.q(
                "INSERT INTO responses (contact_id, campaign_id, msisdn, offer_id, channel, outcome, responded_at, note) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (contact_id, campaign_id, msisdn, offer_id, channel, out.value, ts, note),
            )
            if out == ResponseOutcome.ACCEPTED and offer_id is not None:
                db.q(
                    "INSERT INTO acceptances (msisdn, offer_id, channel, campaign_id, accepted_at) VALUES (?,?,?,?,?) "
                    "ON CONFLICT DO NOTHING",
                    (msisdn, offer_id, channel, campaign_id, ts),
                )
                db.q(
                    "UPDATE contacts SET status=?, status_at=?, detail='accepted elsewhere' WHERE msisdn=? AND offer_id=? "
                    "AND status=? AND kind='marketing'",
                    (ContactStatus.CANCELLED.value, ts, msisdn, offer_id, ContactStatus.RESERVED.value),
                )

    def history(self, msisdn: str) -> list[dict[str, Any]]:
        """A subscriber's contacts and responses across every channel, newest first (shared contact memory)."""
        contacts = self.db.q(
            "SELECT contact_at, 'contact', channel, campaign_id, offer_id, status FROM contacts WHERE msisdn=? "
            "AND status <> 'control'",
            (msisdn,),
        )
        responses = self.db.q(
            "SELECT responded_at, 'response', channel, campaign_id, offer_id, outcome FROM responses WHERE msisdn=?",
            (msisdn,),
        )
        rows = sorted(contacts + responses, key=lambda r: (r[0], r[1]), reverse=True)
        keys = ("at", "event", "channel", "campaign_id", "offer_id", "status")
        return [dict(zip(keys, (from_epoch(r[0]), *r[1:]), strict=True)) for r in rows]

    def cap_violations(self) -> list[tuple[Any, ...]]:
        """(msisdn, channel, window start, count) for every window over its cap; empty when the invariant holds."""
        out: list[tuple[Any, ...]] = []
        for channel, cap in self.policy.caps.items():
            rows = self.db.q(
                f"SELECT msisdn, contact_at FROM contacts WHERE channel=? AND kind='marketing' AND status IN {_COUNTED_SQL} "
                "ORDER BY msisdn, contact_at",
                (channel,),
            )
            out.extend(_windows_over_cap(rows, channel, cap))
        return out


def _windows_over_cap(rows: list[tuple[Any, ...]], channel: str, cap: Cap) -> list[tuple[Any, ...]]:
    import numpy as np

    if not rows:
        return []
    m = np.array([r[0] for r in rows])
    t = np.array([r[1] for r in rows], dtype=np.int64)
    out: list[tuple[Any, ...]] = []
    if cap.period.days is None:
        # group by (msisdn, calendar month)
        months = np.array([from_epoch(int(x)).strftime("%Y-%m") for x in t])
        keys, counts = np.unique(np.char.add(np.char.add(m.astype(str), "|"), months), return_counts=True)
        out = [
            (k.split("|")[0], channel, k.split("|")[1], int(c))
            for k, c in zip(keys, counts, strict=True)
            if c > cap.limit
        ]
        return out
    # sliding: the (limit+1)-th next contact of the same subscriber within `days` breaks the cap
    w = cap.period.days * 86400
    k = cap.limit
    if len(t) > k:
        same = m[k:] == m[:-k]
        close = (t[k:] - t[:-k]) < w
        for i in np.flatnonzero(same & close):
            out.append((str(m[i]), channel, int(t[i]), k + 1))
    return out


def _check_request(req: ContactRequest) -> None:
    if req.channel not in {c.value for c in Channel}:
        raise ValueError(
            f"contact request for {req.msisdn}: unknown channel {req.channel!r}; channels: {', '.join(c.value for c in Channel)}"
        )
    if req.kind not in {k.value for k in ContactKind}:
        raise ValueError(
            f"contact request for {req.msisdn}: unknown kind {req.kind!r} (marketing or service)"
        )
    if not req.campaign_id:
        raise ValueError(f"contact request for {req.msisdn}: empty campaign id")
