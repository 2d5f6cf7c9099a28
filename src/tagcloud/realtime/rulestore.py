"""The marketing rule library (营销规则库): event rules business users configure, every version kept.

A rule (:class:`RuleDesign`, pydantic: bad input is refused naming the field) says: on an event of
``event_type``, when ``condition`` holds — one condition language over ``event.<field>`` names and
the subscriber's tags and attributes, e.g.
``event.other_province AND arpu_3m >= 100 AND NOT has_roaming_pack`` — inside the time window of
day and the validity dates, offer ``offer_id`` with ``script`` over ``channels``, at ``priority``,
at most ``cap_per_subscriber`` times per subscriber in ``cap_period_days``, holding out
``control_share`` of subscribers as a control group. With a ``sequence`` the rule waits
``sequence.within_minutes`` after the event and fires only if no ``sequence.cancel_event`` (matching
``sequence.cancel_condition``) arrived meanwhile: "quota 80% used and no data pack ordered within 2
hours".

Life of a rule (:class:`RuleState`)::

    draft ──submit──▶ submitted ──approve (each step of the chain)──▶ approved ──activate──▶ active
      ▲                  │ return (comment)                                                 │  ▲
      └── edit ◀── returned                                              pause ─────────────┘  │ activate
                                                                          ▼                    │
                                                                        paused ────────────────┘
    any state ──retire──▶ retired (final)          editing a paused rule makes a new draft version

Approval goes through the campaign approval chain: ``campaigns.workflow.ApprovalPolicy`` (which
levels approve a rule owned at each level, ``within`` for regions) and ``Actor`` (user, level,
region, can_approve). The version that was approved is the one that runs, even if a later draft
exists.

API (all methods raise :class:`~tagcloud.campaigns.workflow.WorkflowError` with a sentence when the
state or the actor does not allow the action, ``KeyError`` for an unknown rule):

* ``RuleStore(url, policy=None, names=None)`` — ``sqlite:///path`` or ``postgresql://…[?schema=]``
  (the contact ledger's backends). ``names``: the subscriber catalogue (``tags.current_names``);
  when given, every saved condition is checked against it plus the event type's fields.
* ``create(design, by)``, ``edit(design, by, note=None)`` → rule dict; ``submit(rule_id, by)``,
  ``approve(rule_id, actor, comment=None)``, ``return_(rule_id, actor, comment)``,
  ``activate(rule_id, by)``, ``pause(rule_id, by)``, ``retire(rule_id, by, comment)``.
* ``get(rule_id)`` → ``{rule_id, name, event_type, region_id, region_level, owner, state,
  version, approved_version, step, waiting_for, updated_at}``; ``design(rule_id, version=None)``
  → :class:`RuleDesign`; ``versions(rule_id)``, ``history(rule_id)`` (every transition, with actor
  and comment), ``rules(states=None, region_id=None)``, ``inbox(actor)``.
* ``active_rules(at=None)`` → :class:`ActiveRule` list (approved design of every active rule valid
  at ``at``), highest priority first; ``revision()`` → an integer that changes on every write: a
  worker compares it each micro-batch and reloads the rules only when it moved.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from tagcloud.campaigns.backends import Backend, open_backend
from tagcloud.campaigns.policy import Channel
from tagcloud.campaigns.workflow import LEVELS, Actor, ApprovalPolicy, WorkflowError
from tagcloud.realtime.events import EventType, event_names
from tagcloud.tags.condition import NameInfo, parse_condition

_ID = re.compile(r"^[A-Za-z0-9_\-.]{1,60}$")


class RuleState(StrEnum):
    """Where a rule is in its life."""

    DRAFT = "draft"  # being written; editable by its owner
    SUBMITTED = "submitted"  # waiting at the current step of the approval chain; locked
    RETURNED = "returned"  # sent back with a comment; editable; resubmitting restarts the chain
    APPROVED = "approved"  # every step approved; waits to be switched on
    ACTIVE = "active"  # the worker matches events against it
    PAUSED = "paused"  # switched off; can be switched on again without a new approval
    RETIRED = "retired"  # withdrawn for good


EDITABLE_STATES = frozenset({RuleState.DRAFT, RuleState.RETURNED, RuleState.PAUSED})
RUNNABLE_STATES = frozenset({RuleState.APPROVED, RuleState.PAUSED})  # may be activated
FINAL_STATES = frozenset({RuleState.RETIRED})


class RuleSequence(BaseModel):
    """A stateful rule: wait, and fire only if the follow-up event did not happen in time."""

    cancel_event: EventType  # e.g. order
    cancel_condition: str = ""  # over the cancel event's fields, e.g. event.product_type = 'data_pack'
    within_minutes: int = Field(gt=0, le=7 * 24 * 60)


class RuleDesign(BaseModel):
    rule_id: str
    name: str
    event_type: EventType
    condition: str = ""  # empty: every event of the type
    window_start: dt.time = dt.time(0, 0)  # time of day the rule may fire (local), inclusive
    window_end: dt.time = dt.time(23, 59, 59)  # … inclusive; start > end wraps past midnight
    offer_id: str
    script: str  # the SMS text / agent script, with {personal_fields}
    channels: list[Channel] = Field(default_factory=lambda: [Channel.SMS])
    priority: int = 0
    cap_per_subscriber: int = Field(default=1, ge=1)  # fires per subscriber per cap period
    cap_period_days: int = Field(default=30, ge=1)
    valid_from: dt.date
    valid_until: dt.date
    control_share: float = 0.1
    sequence: RuleSequence | None = None
    region_id: str
    region_level: str = "province"
    owner: str = ""

    @field_validator("rule_id")
    @classmethod
    def _rid(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"rule id {v!r}: 1-60 letters, digits, '_', '-', '.'")
        return v

    @field_validator("control_share")
    @classmethod
    def _share(cls, v: float) -> float:
        if not 0 <= v < 1:
            raise ValueError(f"control share {v} must be in [0, 1)")
        return v

    @field_validator("region_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v not in LEVELS:
            raise ValueError(f"region level {v!r}: {', '.join(LEVELS)}")
        return v

    @field_validator("script")
    @classmethod
    def _script(cls, v: str) -> str:
        import string

        try:
            list(string.Formatter().parse(v))
        except ValueError as e:
            raise ValueError(f"script: {e} in {v!r}") from e
        return v

    @model_validator(mode="after")
    def _consistent(self) -> RuleDesign:
        if self.valid_until < self.valid_from:
            raise ValueError(
                f"rule {self.rule_id}: valid_until {self.valid_until} is before valid_from {self.valid_from}"
            )
        if not self.channels:
            raise ValueError(f"rule {self.rule_id}: at least one channel")
        return self

    @property
    def campaign_id(self) -> str:
        """The id the rule's contacts carry in the contact ledger (one contact history with campaigns)."""
        return f"rule:{self.rule_id}"

    def in_window(self, t: dt.time) -> bool:
        s, e = self.window_start, self.window_end
        return s <= t <= e if s <= e else (t >= s or t <= e)

    def check(self, names: Mapping[str, NameInfo]) -> None:
        """Check the condition(s) against the subscriber catalogue plus the event's fields."""
        parse_condition(self.condition or "TRUE", names, event_names=event_names(self.event_type))
        if self.sequence is not None and self.sequence.cancel_condition:
            parse_condition(
                self.sequence.cancel_condition, names, event_names=event_names(self.sequence.cancel_event)
            )


@dataclass(frozen=True)
class ActiveRule:
    """An active rule as the worker runs it: the approved version's design."""

    design: RuleDesign
    version: int

    @property
    def rule_id(self) -> str:
        return self.design.rule_id


_SCHEMA = """
CREATE TABLE IF NOT EXISTS rt_rules (
    rule_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, event_type VARCHAR NOT NULL,
    region_id VARCHAR NOT NULL, region_level VARCHAR NOT NULL, owner VARCHAR NOT NULL,
    state VARCHAR NOT NULL, version INTEGER NOT NULL, approved_version INTEGER,
    step INTEGER NOT NULL, updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS rt_rule_versions (
    rule_id VARCHAR NOT NULL, version INTEGER NOT NULL, design VARCHAR NOT NULL,
    author VARCHAR NOT NULL, created_at BIGINT NOT NULL, note VARCHAR,
    PRIMARY KEY (rule_id, version)
);
CREATE TABLE IF NOT EXISTS rt_rule_history (
    history_id {id}, rule_id VARCHAR NOT NULL, version INTEGER NOT NULL, step INTEGER NOT NULL,
    level VARCHAR, actor VARCHAR NOT NULL, action VARCHAR NOT NULL, state VARCHAR NOT NULL,
    comment VARCHAR, at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS rt_rule_revision (id INTEGER PRIMARY KEY, revision BIGINT NOT NULL)
"""

_KEYS = (
    "rule_id",
    "name",
    "event_type",
    "region_id",
    "region_level",
    "owner",
    "state",
    "version",
    "approved_version",
    "step",
    "updated_at",
)


def _now() -> int:
    return int(dt.datetime.now().timestamp())


class RuleStore:
    """Rules, their versions and their approval history in the ledger's database (see module doc)."""

    def __init__(
        self, url: str, policy: ApprovalPolicy | None = None, names: Mapping[str, NameInfo] | None = None
    ) -> None:
        self.policy = policy or ApprovalPolicy()
        self.names = names
        self.db: Backend = open_backend(url)
        for stmt in (s.strip() for s in _SCHEMA.replace("{id}", self.db.id_column).split(";")):
            if stmt:
                try:
                    self.db.conn.execute(stmt)
                except Exception as e:  # concurrent creators on PostgreSQL race on the catalogue
                    if "already exists" not in str(e) and "duplicate key" not in str(e):
                        raise
        self.db.q("INSERT INTO rt_rule_revision VALUES (1, 0) ON CONFLICT DO NOTHING")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> RuleStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading ----------------------------------------------------------------------------
    def revision(self) -> int:
        """Changes on every write to any rule: one indexed read, cheap enough for every micro-batch."""
        return int(self.db.q("SELECT revision FROM rt_rule_revision WHERE id=1")[0][0])

    def get(self, rule_id: str) -> dict[str, Any]:
        rows = self.db.q(f"SELECT {', '.join(_KEYS)} FROM rt_rules WHERE rule_id=?", (rule_id,))
        if not rows:
            raise KeyError(f"no rule {rule_id!r}")
        return self._row(rows[0])

    def _row(self, row: tuple[Any, ...]) -> dict[str, Any]:
        r = dict(zip(_KEYS, row, strict=True))
        r["state"] = RuleState(r["state"])
        chain = self.policy.chain(r["region_level"])
        r["waiting_for"] = chain[r["step"]] if r["state"] == RuleState.SUBMITTED else None
        r["updated_at"] = dt.datetime.fromtimestamp(r["updated_at"])
        return r

    def rules(
        self, states: set[RuleState] | None = None, region_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Rules (newest change first), optionally in some states and inside a region."""
        rows = [
            self._row(r)
            for r in self.db.q(f"SELECT {', '.join(_KEYS)} FROM rt_rules ORDER BY updated_at DESC, rule_id")
        ]
        return [
            r
            for r in rows
            if (states is None or r["state"] in states)
            and (region_id is None or self.policy.within(r["region_id"], region_id))
        ]

    def design(self, rule_id: str, version: int | None = None) -> RuleDesign:
        """A version of the rule's design (default: the latest)."""
        v = version if version is not None else self.get(rule_id)["version"]
        rows = self.db.q("SELECT design FROM rt_rule_versions WHERE rule_id=? AND version=?", (rule_id, v))
        if not rows:
            raise KeyError(f"rule {rule_id!r} has no version {v}")
        return RuleDesign.model_validate_json(rows[0][0])

    def versions(self, rule_id: str) -> list[dict[str, Any]]:
        keys = ("version", "author", "created_at", "note")
        return [
            dict(zip(keys, (v, a, dt.datetime.fromtimestamp(t), n), strict=True))
            for v, a, t, n in self.db.q(
                "SELECT version, author, created_at, note FROM rt_rule_versions WHERE rule_id=? ORDER BY version",
                (rule_id,),
            )
        ]

    def history(self, rule_id: str) -> list[dict[str, Any]]:
        keys = ("version", "step", "level", "actor", "action", "state", "comment", "at")
        return [
            dict(zip(keys, (*r[:-1], dt.datetime.fromtimestamp(r[-1])), strict=True))
            for r in self.db.q(
                "SELECT version, step, level, actor, action, state, comment, at FROM rt_rule_history "
                "WHERE rule_id=? ORDER BY history_id",
                (rule_id,),
            )
        ]

    def inbox(self, actor: Actor) -> list[dict[str, Any]]:
        """Rules waiting for this approver: submitted, at the actor's level, inside the actor's region."""
        return [
            r
            for r in self.rules({RuleState.SUBMITTED})
            if r["waiting_for"] == actor.level and self.policy.within(r["region_id"], actor.region_id)
        ]

    def active_rules(self, at: dt.datetime | None = None) -> list[ActiveRule]:
        """The approved version of every active rule valid on ``at``'s date (default: every active
        rule), highest priority first, then rule id."""
        rows = self.db.q(
            "SELECT r.approved_version, v.design FROM rt_rules r JOIN rt_rule_versions v "
            "ON v.rule_id = r.rule_id AND v.version = r.approved_version WHERE r.state=?",
            (RuleState.ACTIVE.value,),
        )
        out = [ActiveRule(RuleDesign.model_validate_json(d), int(v)) for v, d in rows]
        if at is not None:
            day = at.date()
            out = [r for r in out if r.design.valid_from <= day <= r.design.valid_until]
        return sorted(out, key=lambda r: (-r.design.priority, r.rule_id))

    # ---- writing ----------------------------------------------------------------------------
    def _check(self, design: RuleDesign) -> None:
        if self.names is not None:
            design.check(self.names)

    def create(self, design: RuleDesign, by: Actor) -> dict[str, Any]:
        """A new rule as version 1, in draft, owned by ``by``."""
        if self.db.q("SELECT 1 FROM rt_rules WHERE rule_id=?", (design.rule_id,)):
            raise WorkflowError(f"rule {design.rule_id!r} exists already")
        if not self.policy.within(design.region_id, by.region_id):
            raise WorkflowError(
                f"{by.user} ({by.region_id}) may not write a rule for region {design.region_id}"
            )
        self.policy.chain(design.region_level)
        self._check(design)
        design = design.model_copy(update={"owner": by.user})
        with self.db.transaction(plain=True):
            self.db.q(
                "INSERT INTO rt_rules VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    design.rule_id,
                    design.name,
                    design.event_type.value,
                    design.region_id,
                    design.region_level,
                    by.user,
                    RuleState.DRAFT.value,
                    1,
                    None,
                    0,
                    _now(),
                ),
            )
            self._version(design, 1, by.user, "created")
            self._log(design.rule_id, 1, 0, None, by.user, "created", RuleState.DRAFT, None)
        return self.get(design.rule_id)

    def edit(self, design: RuleDesign, by: Actor, note: str | None = None) -> dict[str, Any]:
        """Save a new version (draft, returned or paused rules; a paused rule becomes a draft again,
        and its approved version keeps running nowhere until the new one is approved)."""
        r = self.get(design.rule_id)
        if r["state"] not in EDITABLE_STATES:
            raise WorkflowError(f"rule {r['rule_id']} is {r['state'].value}: locked, pause it to change it")
        if by.user != r["owner"]:
            raise WorkflowError(f"{by.user} is not the owner of rule {r['rule_id']} ({r['owner']})")
        if design.region_id != r["region_id"] or design.region_level != r["region_level"]:
            raise WorkflowError(f"rule {r['rule_id']}: its region cannot change (create a new rule)")
        self._check(design)
        design = design.model_copy(update={"owner": r["owner"]})
        v = r["version"] + 1
        with self.db.transaction(plain=True):
            moved = self.db.q(
                "UPDATE rt_rules SET version=?, name=?, event_type=?, state=?, step=0, updated_at=? "
                "WHERE rule_id=? AND version=? RETURNING 1",
                (
                    v,
                    design.name,
                    design.event_type.value,
                    RuleState.DRAFT.value,
                    _now(),
                    r["rule_id"],
                    r["version"],
                ),
            )
            if not moved:
                raise WorkflowError(f"rule {r['rule_id']} changed meanwhile; reload it")
            self._version(design, v, by.user, note)
            self._log(r["rule_id"], v, 0, None, by.user, "edited", RuleState.DRAFT, note)
        return self.get(r["rule_id"])

    def submit(self, rule_id: str, by: Actor) -> dict[str, Any]:
        """Send for approval: locks the rule and starts the chain at its first step."""
        r = self.get(rule_id)
        if r["state"] not in (RuleState.DRAFT, RuleState.RETURNED):
            raise WorkflowError(
                f"rule {rule_id} is {r['state'].value}: only a draft or returned rule is submitted"
            )
        if by.user != r["owner"]:
            raise WorkflowError(f"{by.user} is not the owner of rule {rule_id} ({r['owner']})")
        self._move(r, RuleState.SUBMITTED, 0, by.user, "submitted", None)
        return self.get(rule_id)

    def _check_approver(self, r: dict[str, Any], actor: Actor) -> None:
        if r["state"] != RuleState.SUBMITTED:
            raise WorkflowError(f"rule {r['rule_id']} is {r['state'].value}, not waiting for approval")
        if not actor.can_approve:
            raise WorkflowError(f"{actor.user} has no approver role")
        if actor.level != r["waiting_for"] or not self.policy.within(r["region_id"], actor.region_id):
            raise WorkflowError(
                f"rule {r['rule_id']} waits for a {r['waiting_for']} approver over {r['region_id']}; "
                f"{actor.user} is a {actor.level} approver at {actor.region_id}"
            )

    def approve(self, rule_id: str, actor: Actor, comment: str | None = None) -> dict[str, Any]:
        """Approve the current step; the last step makes the rule APPROVED (that version will run)."""
        r = self.get(rule_id)
        self._check_approver(r, actor)
        last = r["step"] + 1 >= len(self.policy.chain(r["region_level"]))
        if last:
            self._move(
                r, RuleState.APPROVED, r["step"], actor.user, "approved", comment, approved=r["version"]
            )
        else:
            self._move(r, RuleState.SUBMITTED, r["step"] + 1, actor.user, "approved", comment)
        return self.get(rule_id)

    def return_(self, rule_id: str, actor: Actor, comment: str) -> dict[str, Any]:
        """Send back to the owner with a comment (required)."""
        if not comment or not comment.strip():
            raise WorkflowError("returning a rule needs a comment saying what to change")
        r = self.get(rule_id)
        self._check_approver(r, actor)
        self._move(r, RuleState.RETURNED, 0, actor.user, "returned", comment)
        return self.get(rule_id)

    def activate(self, rule_id: str, by: Actor) -> dict[str, Any]:
        """Switch on an approved or paused rule: the worker picks it up at its next micro-batch."""
        r = self.get(rule_id)
        if r["state"] not in RUNNABLE_STATES or r["approved_version"] is None:
            raise WorkflowError(
                f"rule {rule_id} is {r['state'].value}: only an approved or paused rule is switched on"
            )
        if r["state"] == RuleState.PAUSED and r["approved_version"] != r["version"]:
            raise WorkflowError(f"rule {rule_id} has an unapproved version {r['version']}: submit it first")
        self._require_region(r, by)
        self._move(r, RuleState.ACTIVE, r["step"], by.user, "activated", None)
        return self.get(rule_id)

    def pause(self, rule_id: str, by: Actor, comment: str | None = None) -> dict[str, Any]:
        """Switch off an active rule (no approval needed to stop marketing)."""
        r = self.get(rule_id)
        if r["state"] != RuleState.ACTIVE:
            raise WorkflowError(f"rule {rule_id} is {r['state'].value}: only an active rule is paused")
        self._require_region(r, by)
        self._move(r, RuleState.PAUSED, r["step"], by.user, "paused", comment)
        return self.get(rule_id)

    def retire(self, rule_id: str, by: Actor, comment: str) -> dict[str, Any]:
        r = self.get(rule_id)
        if r["state"] in FINAL_STATES:
            raise WorkflowError(f"rule {rule_id} is already {r['state'].value}")
        self._require_region(r, by)
        self._move(r, RuleState.RETIRED, r["step"], by.user, "retired", comment)
        return self.get(rule_id)

    def _require_region(self, r: dict[str, Any], by: Actor) -> None:
        if not self.policy.within(r["region_id"], by.region_id):
            raise WorkflowError(
                f"{by.user} ({by.region_id}) cannot act on rule {r['rule_id']} of region {r['region_id']}"
            )

    # ---- internals --------------------------------------------------------------------------
    def _version(self, design: RuleDesign, v: int, author: str, note: str | None) -> None:
        self.db.q(
            "INSERT INTO rt_rule_versions VALUES (?,?,?,?,?,?)",
            (design.rule_id, v, design.model_dump_json(), author, _now(), note),
        )
        self._bump()

    def _bump(self) -> None:
        self.db.q("UPDATE rt_rule_revision SET revision = revision + 1 WHERE id=1")

    def _log(
        self,
        rule_id: str,
        version: int,
        step: int,
        level: str | None,
        actor: str,
        action: str,
        state: RuleState,
        comment: str | None,
    ) -> None:
        self.db.q(
            "INSERT INTO rt_rule_history (rule_id, version, step, level, actor, action, state, comment, at) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (rule_id, version, step, level, actor, action, state.value, comment, _now()),
        )

    def _move(
        self,
        r: dict[str, Any],
        state: RuleState,
        step: int,
        actor: str,
        action: str,
        comment: str | None,
        approved: int | None = None,
    ) -> None:
        chain = self.policy.chain(r["region_level"])
        with self.db.transaction(plain=True):
            # guard on the state read: two people clicking at once cannot both move it
            moved = self.db.q(
                "UPDATE rt_rules SET state=?, step=?, approved_version=COALESCE(?, approved_version), updated_at=? "
                "WHERE rule_id=? AND state=? AND step=? AND version=? RETURNING 1",
                (
                    state.value,
                    step,
                    approved,
                    _now(),
                    r["rule_id"],
                    r["state"].value,
                    r["step"],
                    r["version"],
                ),
            )
            if not moved:
                raise WorkflowError(f"rule {r['rule_id']} changed meanwhile; reload it")
            level = chain[min(r["step"], len(chain) - 1)] if action in ("approved", "returned") else None
            self._log(r["rule_id"], r["version"], r["step"], level, actor, action, state, comment)
            self._bump()
