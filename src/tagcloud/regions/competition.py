"""Competition information (竞争信息管理, seed 003 §2.2): field reports of competitors' moves and
the chain that verifies, grades, distributes and answers them.

The chain is the campaign approval chain's (``campaigns.workflow``): an :class:`Actor` with a
level and a region, an :class:`ApprovalPolicy` saying which levels act in order and whether a
region lies inside another. A report made in a township goes

    reported ─(county business-office head verifies)→ office_verified
             ─(county deputy manager verifies, proposes a response)→ county_verified
             ─(city reviewer grades importance, distributes to marketing heads)→ distributed
             ─(a marketing head it was distributed to decides the response)→ responded

and any verifier may reject it (not true, a duplicate) with a comment. The store (Django models in
``web/markets``) keeps every transition; this module decides which are allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from tagcloud.campaigns.workflow import Actor, ApprovalPolicy, WorkflowError

__all__ = [
    "COMPETITORS",
    "IMPACTS",
    "KINDS",
    "Action",
    "Actor",
    "CompetitionState",
    "UploadError",
    "WorkflowError",
    "check_upload",
    "competition_policy",
    "next_state",
]


class CompetitionState(StrEnum):
    """Where a report is in its handling."""

    REPORTED = "reported"  # reported from the field; waits for the county business-office head
    OFFICE_VERIFIED = "office_verified"  # confirmed true; waits for the county deputy manager
    COUNTY_VERIFIED = "county_verified"  # confirmed and a response proposed; waits for the city reviewer
    DISTRIBUTED = "distributed"  # graded and sent to marketing heads; waits for their decision
    RESPONDED = "responded"  # the response is decided; its effect is tracked on linked KPIs
    REJECTED = "rejected"  # found untrue or a duplicate at a verification step


OPEN_STATES = frozenset(
    {
        CompetitionState.REPORTED,
        CompetitionState.OFFICE_VERIFIED,
        CompetitionState.COUNTY_VERIFIED,
        CompetitionState.DISTRIBUTED,
    }
)
# The verification steps, in order, and the state each one leads to when passed.
VERIFY_STEPS: tuple[tuple[CompetitionState, CompetitionState], ...] = (
    (CompetitionState.REPORTED, CompetitionState.OFFICE_VERIFIED),
    (CompetitionState.OFFICE_VERIFIED, CompetitionState.COUNTY_VERIFIED),
    (CompetitionState.COUNTY_VERIFIED, CompetitionState.DISTRIBUTED),
)


class Action(StrEnum):
    VERIFY = "verify"  # confirm (office head, deputy manager) / grade and distribute (city reviewer)
    REJECT = "reject"  # untrue or a duplicate: closes the report
    RESPOND = "respond"  # a marketing head decides the response


COMPETITORS = {
    "unicom": ("中国联通", "China Unicom"),
    "telecom": ("中国电信", "China Telecom"),
    "broadband": ("宽带运营商", "broadband provider"),
    "other": ("其他", "other"),
}
KINDS = {
    "tariff": ("资费", "tariff"),
    "handset": ("终端补贴", "handset subsidy"),
    "channel": ("渠道", "channel"),
    "enterprise": ("集团客户", "enterprise"),
    "campaign": ("营销活动", "campaign"),
}
IMPACTS = {"low": ("小", "low"), "medium": ("中", "medium"), "high": ("大", "high")}
IMPORTANCE = (1, 2, 3)  # the city reviewer's grade: 1 ordinary, 2 important, 3 urgent


def competition_policy(within: ApprovalPolicy | None = None) -> ApprovalPolicy:
    """The campaign chain's policy with the competition chain: office head and deputy manager at the
    county, then the city reviewer (``within`` taken from ``within`` when given)."""
    chains: dict[str, tuple[str, ...]] = {"report": ("county", "county", "city")}
    if within is None:
        return ApprovalPolicy(chains=chains)
    return ApprovalPolicy(chains=chains, within=within.within)


@dataclass(frozen=True)
class Report:
    """What the chain needs to know about a report."""

    region_id: str  # where the competitor acted (a township, county or city)
    reporter: str
    state: CompetitionState
    verifiers: tuple[str, ...] = ()  # who passed the earlier verification steps, in order
    recipients: tuple[str, ...] = ()  # marketing heads it was distributed to


def next_state(
    report: Report,
    action: Action,
    actor: Actor,
    policy: ApprovalPolicy,
    comment: str = "",
    recipients: Iterable[str] = (),
    importance: int | None = None,
) -> CompetitionState:
    """The state after ``actor`` does ``action`` on ``report``; raises WorkflowError saying why not.

    Verifying needs a reviewer (``actor.can_approve``) at the step's level whose region holds the
    report's; the second county step must be someone other than the first (four eyes); the city
    step needs an importance grade and at least one recipient. Rejecting needs a comment.
    Responding is for the recipients only and needs the response text (``comment``)."""
    if report.state not in OPEN_STATES:
        raise WorkflowError(f"the report is {report.state.value}: nothing more to do")
    if action == Action.RESPOND:
        if report.state != CompetitionState.DISTRIBUTED:
            raise WorkflowError("a response is decided after the city reviewer has distributed the report")
        if actor.user not in report.recipients:
            raise WorkflowError(f"{actor.user} is not one of the marketing heads the report was sent to")
        if not comment.strip():
            raise WorkflowError("write the response decided")
        return CompetitionState.RESPONDED
    steps = dict(VERIFY_STEPS)
    if report.state not in steps:
        raise WorkflowError(f"the report is {report.state.value}: it waits for the marketing heads' response")
    step = [s for s, _ in VERIFY_STEPS].index(report.state)
    level = policy.chain("report")[step]
    if not actor.can_approve:
        raise WorkflowError(f"{actor.user} may not verify competition reports (review_competition)")
    if actor.level != level or not policy.within(report.region_id, actor.region_id):
        raise WorkflowError(
            f"the report waits for a {level} reviewer over {report.region_id}; "
            f"{actor.user} is at {actor.level} level in {actor.region_id}"
        )
    if actor.user in report.verifiers or actor.user == report.reporter:
        raise WorkflowError(
            f"{actor.user} has already reported or verified this report: another person verifies"
        )
    if action == Action.REJECT:
        if not comment.strip():
            raise WorkflowError("rejecting a report needs a comment saying why")
        return CompetitionState.REJECTED
    if report.state == CompetitionState.OFFICE_VERIFIED and not comment.strip():
        raise WorkflowError("the county deputy manager proposes a response: write it")
    if report.state == CompetitionState.COUNTY_VERIFIED:
        if importance not in IMPORTANCE:
            raise WorkflowError("grade the report's importance (1 ordinary, 2 important, 3 urgent)")
        if not list(recipients):
            raise WorkflowError("choose at least one marketing head to distribute the report to")
    return steps[report.state]


# -- uploads -------------------------------------------------------------------------------------

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a photo of a leaflet or a scanned tariff sheet
MAX_UPLOADS = 5
# Allowed file types: extension → the magic bytes the file must start with (None: plain text).
UPLOAD_TYPES: dict[str, tuple[bytes, ...] | None] = {
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".pdf": (b"%PDF-",),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".txt": None,
}


class UploadError(ValueError):
    """An attachment refused: wrong type, too big, or its content not what its name says."""


def check_upload(name: str, size: int, head: bytes) -> str:
    """The checked extension of an attachment named ``name`` of ``size`` bytes whose first bytes
    are ``head``; raises UploadError when the type is not allowed, the content does not match the
    type (a renamed executable), or the file is over MAX_UPLOAD_BYTES."""
    import os

    ext = os.path.splitext(name.lower())[1]
    if ext not in UPLOAD_TYPES:
        allowed = ", ".join(sorted(UPLOAD_TYPES))
        raise UploadError(f"{name}: file type {ext or '(none)'} is not allowed (allowed: {allowed})")
    if size > MAX_UPLOAD_BYTES:
        raise UploadError(f"{name}: {size:,} bytes is over the {MAX_UPLOAD_BYTES // (1024 * 1024)} MB limit")
    if size == 0:
        raise UploadError(f"{name}: the file is empty")
    magics = UPLOAD_TYPES[ext]
    if magics is None:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as e:
            if e.start < len(head) - 4:  # a cut multi-byte character at the end is fine
                raise UploadError(f"{name}: a .txt attachment must be UTF-8 text") from None
        if b"\x00" in head:
            raise UploadError(f"{name}: a .txt attachment must be text, not binary")
    elif not any(head.startswith(m) for m in magics):
        raise UploadError(f"{name}: the content is not a {ext} file")
    return ext
