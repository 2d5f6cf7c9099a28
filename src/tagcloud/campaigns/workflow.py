"""Campaign approval (审批): versions, a chain of approvers by region level, return with comment,
lock while in review, approvers' inboxes and an optional outbound webhook to an OA system.

Stored with plain SQL in the same database as the contact ledger (SQLite or PostgreSQL); the web
platform's pages call these functions and keep no workflow logic of their own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tagcloud.campaigns.backends import Backend, open_backend
from tagcloud.campaigns.design import CampaignDesign


class CampaignState(StrEnum):
    """Where a campaign is in its life."""

    DRAFT = "draft"  # being designed; editable by its designer
    IN_REVIEW = "in_review"  # submitted; locked; waiting at the current approval step
    RETURNED = "returned"  # sent back with a comment; editable; resubmitting restarts the chain
    APPROVED = "approved"  # every step approved; locked; waiting for its start
    RUNNING = "running"  # executing its waves
    FINISHED = "finished"  # done and evaluated
    CANCELLED = "cancelled"  # withdrawn before or during execution


OPEN_STATES = frozenset(
    {
        CampaignState.DRAFT,
        CampaignState.IN_REVIEW,
        CampaignState.RETURNED,
        CampaignState.APPROVED,
        CampaignState.RUNNING,
    }
)
EDITABLE_STATES = frozenset({CampaignState.DRAFT, CampaignState.RETURNED})
LOCKED_STATES = frozenset({CampaignState.IN_REVIEW, CampaignState.APPROVED, CampaignState.RUNNING})
FINAL_STATES = frozenset({CampaignState.FINISHED, CampaignState.CANCELLED})

LEVELS = ("county", "city", "province")


class WorkflowError(ValueError):
    """An action the campaign's state or the actor's role does not allow; says which and why."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a user with a role at one region (the web platform's account and region scope)."""

    user: str
    level: str  # county | city | province
    region_id: str
    can_approve: bool = False


def _prefix_within(region: str, ancestor: str) -> bool:
    return region.startswith(ancestor)


@dataclass
class ApprovalPolicy:
    """Which levels approve a campaign designed at each level, in order; configurable.

    ``within(region, ancestor)`` says whether a region lies inside another (default: region codes
    that extend their parent's code, as the simulator's do; pass the region table's test otherwise).
    """

    chains: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "county": ("county", "city", "province"),
            "city": ("city", "province"),
            "province": ("province",),
        }
    )
    within: Callable[[str, str], bool] = _prefix_within
    oa_url: str | None = None  # the external OA system's webhook, if any
    oa_secret: str = "change-me"
    post: Callable[[str, dict[str, Any]], None] | None = None  # how to send (default: HTTP POST JSON)

    def chain(self, level: str) -> tuple[str, ...]:
        if level not in self.chains:
            raise WorkflowError(f"no approval chain for campaigns designed at {level!r} level")
        return self.chains[level]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, region_id VARCHAR NOT NULL,
    region_level VARCHAR NOT NULL, designer VARCHAR NOT NULL, state VARCHAR NOT NULL,
    version INTEGER NOT NULL, step INTEGER NOT NULL, updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS campaign_versions (
    campaign_id VARCHAR NOT NULL, version INTEGER NOT NULL, design VARCHAR NOT NULL,
    author VARCHAR NOT NULL, created_at BIGINT NOT NULL, note VARCHAR,
    PRIMARY KEY (campaign_id, version)
);
CREATE TABLE IF NOT EXISTS approvals (
    approval_id {id}, campaign_id VARCHAR NOT NULL, version INTEGER NOT NULL, step INTEGER NOT NULL,
    level VARCHAR NOT NULL, actor VARCHAR NOT NULL, decision VARCHAR NOT NULL, comment VARCHAR,
    decided_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS oa_outbox (
    message_id {id}, campaign_id VARCHAR NOT NULL, payload VARCHAR NOT NULL, sent INTEGER NOT NULL,
    error VARCHAR, created_at BIGINT NOT NULL
);
"""


def _now() -> int:
    return int(dt.datetime.now().timestamp())


class CampaignStore:
    """Campaigns, their versions and approvals. ``url`` as for the contact ledger."""

    def __init__(self, url: str, policy: ApprovalPolicy | None = None) -> None:
        self.policy = policy or ApprovalPolicy()
        self.db: Backend = open_backend(url)
        for stmt in (s.strip() for s in _SCHEMA.replace("{id}", self.db.id_column).split(";")):
            if stmt:
                self.db.conn.execute(stmt)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> CampaignStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading ----------------------------------------------------------------------------
    def get(self, campaign_id: str) -> dict[str, Any]:
        rows = self.db.q(
            "SELECT campaign_id, name, region_id, region_level, designer, state, version, step FROM campaigns "
            "WHERE campaign_id=?",
            (campaign_id,),
        )
        if not rows:
            raise KeyError(f"no campaign {campaign_id!r}")
        keys = ("campaign_id", "name", "region_id", "region_level", "designer", "state", "version", "step")
        c = dict(zip(keys, rows[0], strict=True))
        chain = self.policy.chain(c["region_level"])
        c["state"] = CampaignState(c["state"])
        c["waiting_for"] = chain[c["step"]] if c["state"] == CampaignState.IN_REVIEW else None
        return c

    def design(self, campaign_id: str, version: int | None = None) -> CampaignDesign:
        """A version of the design (default: the current one)."""
        v = version if version is not None else self.get(campaign_id)["version"]
        rows = self.db.q(
            "SELECT design FROM campaign_versions WHERE campaign_id=? AND version=?", (campaign_id, v)
        )
        if not rows:
            raise KeyError(f"campaign {campaign_id!r} has no version {v}")
        return CampaignDesign.model_validate_json(rows[0][0])

    def versions(self, campaign_id: str) -> list[dict[str, Any]]:
        keys = ("version", "author", "created_at", "note")
        return [
            dict(zip(keys, (v, a, dt.datetime.fromtimestamp(t), n), strict=True))
            for v, a, t, n in self.db.q(
                "SELECT version, author, created_at, note FROM campaign_versions WHERE campaign_id=? ORDER BY version",
                (campaign_id,),
            )
        ]

    def approvals(self, campaign_id: str) -> list[dict[str, Any]]:
        keys = ("version", "step", "level", "actor", "decision", "comment")
        return [
            dict(zip(keys, r, strict=True))
            for r in self.db.q(
                "SELECT version, step, level, actor, decision, comment FROM approvals WHERE campaign_id=? "
                "ORDER BY approval_id",
                (campaign_id,),
            )
        ]

    def inbox(self, actor: Actor) -> list[dict[str, Any]]:
        """Campaigns waiting for this approver: in review, at the actor's level, inside the actor's region."""
        rows = self.db.q(
            "SELECT campaign_id FROM campaigns WHERE state=? ORDER BY updated_at", ("in_review",)
        )
        out = []
        for (cid,) in rows:
            c = self.get(cid)
            if c["waiting_for"] == actor.level and self.policy.within(c["region_id"], actor.region_id):
                out.append(c)
        return out

    # ---- designing --------------------------------------------------------------------------
    def create(self, design: CampaignDesign, by: Actor) -> dict[str, Any]:
        """A new campaign as version 1, in draft."""
        if self.db.q("SELECT 1 FROM campaigns WHERE campaign_id=?", (design.campaign_id,)):
            raise WorkflowError(f"campaign {design.campaign_id!r} exists already")
        if not self.policy.within(design.region_id, by.region_id):
            raise WorkflowError(
                f"{by.user} ({by.region_id}) may not design a campaign for region {design.region_id}"
            )
        self.policy.chain(design.region_level)
        with self.db.transaction(plain=True):
            self.db.q(
                "INSERT INTO campaigns VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    design.campaign_id,
                    design.name,
                    design.region_id,
                    design.region_level,
                    by.user,
                    "draft",
                    1,
                    0,
                    _now(),
                ),
            )
            self._version(design, 1, by, "created")
        return self.get(design.campaign_id)

    def _version(self, design: CampaignDesign, v: int, by: Actor, note: str | None) -> None:
        self.db.q(
            "INSERT INTO campaign_versions VALUES (?,?,?,?,?,?)",
            (design.campaign_id, v, design.model_dump_json(), by.user, _now(), note),
        )

    def edit(self, design: CampaignDesign, by: Actor, note: str | None = None) -> dict[str, Any]:
        """Save a new version; refused while the campaign is locked (in review, approved, running)."""
        c = self.get(design.campaign_id)
        if c["state"] not in EDITABLE_STATES:
            raise WorkflowError(
                f"campaign {c['campaign_id']} is {c['state'].value}: locked, it cannot be edited"
            )
        if by.user != c["designer"]:
            raise WorkflowError(f"{by.user} is not the designer of {c['campaign_id']} ({c['designer']})")
        with self.db.transaction(plain=True):
            v = c["version"] + 1
            self._version(design, v, by, note)
            self.db.q(
                "UPDATE campaigns SET version=?, name=?, updated_at=? WHERE campaign_id=?",
                (v, design.name, _now(), c["campaign_id"]),
            )
        return self.get(c["campaign_id"])

    # ---- approving --------------------------------------------------------------------------
    def submit(self, campaign_id: str, by: Actor) -> dict[str, Any]:
        """Send for approval: locks the campaign and starts the chain at its first step."""
        c = self.get(campaign_id)
        if c["state"] not in EDITABLE_STATES:
            raise WorkflowError(
                f"campaign {campaign_id} is {c['state'].value}: only a draft or returned one is submitted"
            )
        self._move(c, CampaignState.IN_REVIEW, 0, by.user, "submitted", None)
        return self.get(campaign_id)

    def _check_approver(self, c: dict[str, Any], actor: Actor) -> None:
        if c["state"] != CampaignState.IN_REVIEW:
            raise WorkflowError(f"campaign {c['campaign_id']} is {c['state'].value}, not in review")
        if not actor.can_approve:
            raise WorkflowError(f"{actor.user} has no approver role")
        if actor.level != c["waiting_for"] or not self.policy.within(c["region_id"], actor.region_id):
            raise WorkflowError(
                f"campaign {c['campaign_id']} waits for a {c['waiting_for']} approver over {c['region_id']}; "
                f"{actor.user} is a {actor.level} approver at {actor.region_id}"
            )

    def approve(self, campaign_id: str, actor: Actor, comment: str | None = None) -> dict[str, Any]:
        """Approve the current step; the last step makes the campaign APPROVED."""
        c = self.get(campaign_id)
        self._check_approver(c, actor)
        chain = self.policy.chain(c["region_level"])
        last = c["step"] + 1 >= len(chain)
        self._move(
            c,
            CampaignState.APPROVED if last else CampaignState.IN_REVIEW,
            c["step"] if last else c["step"] + 1,
            actor.user,
            "approved",
            comment,
        )
        return self.get(campaign_id)

    def return_(self, campaign_id: str, actor: Actor, comment: str) -> dict[str, Any]:
        """Send back to the designer with a comment (required): unlocks it for editing."""
        if not comment or not comment.strip():
            raise WorkflowError("returning a campaign needs a comment saying what to change")
        c = self.get(campaign_id)
        self._check_approver(c, actor)
        self._move(c, CampaignState.RETURNED, 0, actor.user, "returned", comment)
        return self.get(campaign_id)

    def start(self, campaign_id: str, by: str = "scheduler") -> dict[str, Any]:
        c = self.get(campaign_id)
        if c["state"] != CampaignState.APPROVED:
            raise WorkflowError(
                f"campaign {campaign_id} is {c['state'].value}: only an approved campaign starts"
            )
        self._move(c, CampaignState.RUNNING, c["step"], by, "started", None)
        return self.get(campaign_id)

    def finish(self, campaign_id: str, by: str = "scheduler") -> dict[str, Any]:
        c = self.get(campaign_id)
        if c["state"] != CampaignState.RUNNING:
            raise WorkflowError(
                f"campaign {campaign_id} is {c['state'].value}: only a running campaign finishes"
            )
        self._move(c, CampaignState.FINISHED, c["step"], by, "finished", None)
        return self.get(campaign_id)

    def cancel(self, campaign_id: str, by: Actor, comment: str) -> dict[str, Any]:
        c = self.get(campaign_id)
        if c["state"] in FINAL_STATES:
            raise WorkflowError(f"campaign {campaign_id} is already {c['state'].value}")
        self._move(c, CampaignState.CANCELLED, c["step"], by.user, "cancelled", comment)
        return self.get(campaign_id)

    def _move(
        self, c: dict[str, Any], state: CampaignState, step: int, actor: str, what: str, comment: str | None
    ) -> None:
        chain = self.policy.chain(c["region_level"])
        with self.db.transaction(plain=True):
            # guard on the state read: two approvers clicking at once cannot both move it
            moved = self.db.q(
                "UPDATE campaigns SET state=?, step=?, updated_at=? WHERE campaign_id=? AND state=? AND step=? "
                "RETURNING 1",
                (state.value, step, _now(), c["campaign_id"], c["state"].value, c["step"]),
            )
            if not moved:
                raise WorkflowError(f"campaign {c['campaign_id']} changed meanwhile; reload it")
            self.db.q(
                "INSERT INTO approvals (campaign_id, version, step, level, actor, decision, comment, decided_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (
                    c["campaign_id"],
                    c["version"],
                    c["step"],
                    chain[min(c["step"], len(chain) - 1)],
                    actor,
                    what,
                    comment,
                    _now(),
                ),
            )
        if self.policy.oa_url and state == CampaignState.IN_REVIEW:
            self._notify_oa(c["campaign_id"])

    # ---- OA webhook -------------------------------------------------------------------------
    def oa_token(self, campaign_id: str, version: int, step: int) -> str:
        msg = f"{campaign_id}:{version}:{step}".encode()
        return hmac.new(self.policy.oa_secret.encode(), msg, hashlib.sha256).hexdigest()

    def _notify_oa(self, campaign_id: str) -> None:
        c = self.get(campaign_id)
        payload = {
            "campaign_id": campaign_id,
            "name": c["name"],
            "region_id": c["region_id"],
            "version": c["version"],
            "step": c["step"],
            "level": c["waiting_for"],
            "token": self.oa_token(campaign_id, c["version"], c["step"]),
        }
        error = None
        try:
            (self.policy.post or _post_json)(self.policy.oa_url or "", payload)
        except Exception as e:  # the OA being down must not block the workflow; the outbox keeps it
            error = str(e)[:500]
        self.db.q(
            "INSERT INTO oa_outbox (campaign_id, payload, sent, error, created_at) VALUES (?,?,?,?,?)",
            (campaign_id, json.dumps(payload, ensure_ascii=False), 0 if error else 1, error, _now()),
        )

    def oa_decision(
        self, campaign_id: str, token: str, decision: str, comment: str | None = None
    ) -> dict[str, Any]:
        """The OA system's answer for the current step: ``approve`` or ``return`` with the token it was sent."""
        c = self.get(campaign_id)
        if c["state"] != CampaignState.IN_REVIEW:
            raise WorkflowError(f"campaign {campaign_id} is {c['state'].value}, not waiting for the OA")
        if not hmac.compare_digest(token, self.oa_token(campaign_id, c["version"], c["step"])):
            raise WorkflowError(f"OA decision for {campaign_id}: the token does not match the current step")
        oa = Actor("OA", c["waiting_for"], c["region_id"], can_approve=True)
        if decision == "approve":
            return self.approve(campaign_id, oa, comment)
        if decision == "return":
            return self.return_(campaign_id, oa, comment or "returned by the OA system")
        raise WorkflowError(f"OA decision {decision!r}: approve or return")


def _post_json(url: str, payload: dict[str, Any]) -> None:
    import urllib.request

    req = urllib.request.Request(
        url, json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        if r.status >= 300:
            raise RuntimeError(f"OA answered HTTP {r.status}")
