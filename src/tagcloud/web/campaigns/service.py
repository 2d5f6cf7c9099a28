"""Glue between the pages and the campaign library: where the store and ledger live, who the
request's user is as an approval ``Actor``, the design form → ``CampaignDesign``, and execution
against an SMSC (a local one started by the library when none is configured)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from tagcloud.audience.query import AudienceEngine
    from tagcloud.campaigns.design import CampaignDesign
    from tagcloud.campaigns.execute import RunOutcome, Target
    from tagcloud.campaigns.policy import ContactLedger
    from tagcloud.campaigns.workflow import Actor, CampaignStore
    from tagcloud.web.accounts.scope import RegionScope


class DesignError(ValueError):
    """A design form that cannot become a campaign; the message names the field."""


def db_url() -> str:
    """The campaign database (store + ledger): ``settings.CAMPAIGN_DB`` or SQLite in the var dir."""
    url = str(getattr(settings, "CAMPAIGN_DB", "") or "")
    return url or f"sqlite:///{Path(settings.VAR_DIR) / 'campaigns.db'}"


def work_dir() -> Path:
    """Target snapshots, call lists and uploaded call results: ``<var dir>/campaigns``."""
    return Path(getattr(settings, "CAMPAIGN_DIR", "") or Path(settings.VAR_DIR) / "campaigns")


def open_store() -> CampaignStore:
    """The approval store; the chain per designer level comes from ``CAMPAIGN_APPROVAL_CHAINS``
    (default: the library's county → city → province)."""
    from tagcloud.campaigns.workflow import ApprovalPolicy, CampaignStore

    chains = getattr(settings, "CAMPAIGN_APPROVAL_CHAINS", None)
    policy = ApprovalPolicy(chains={k: tuple(v) for k, v in chains.items()}) if chains else ApprovalPolicy()
    return CampaignStore(db_url(), policy)


def open_ledger() -> ContactLedger:
    from tagcloud.campaigns.policy import ContactLedger

    return ContactLedger(db_url())


def actor_for(user: Any, sc: RegionScope) -> Actor:
    """The request's user as the workflow sees them: name, region level, region, approver or not."""
    from tagcloud.campaigns.workflow import Actor

    level = sc.level if sc.level in ("county", "city", "province") else "township"
    return Actor(
        user.get_username(),
        "province" if sc.everything and sc.root is None else str(level),
        sc.root or "",
        can_approve=user.has_perm("accounts.approve_campaign"),
    )


def visible(campaign: dict[str, Any], sc: RegionScope) -> bool:
    """A campaign is visible to users whose scope holds its region (or who see everything)."""
    return sc.everything or campaign["region_id"] in sc.region_ids


def _num(form: Any, name: str, label: str, kind: type = float, default: Any = None) -> Any:
    raw = str(form.get(name, "") or "").strip()
    if not raw:
        if default is None:
            raise DesignError(f"{label} ({name}) is required")
        return default
    try:
        return kind(raw)
    except ValueError:
        raise DesignError(f"{label} ({name}): {raw!r} is not a number") from None


def design_from_form(form: Any, actor: Actor, columns: dict[str, Any]) -> CampaignDesign:
    """The design form → a validated ``CampaignDesign``: the target (a saved group or a condition),
    two sub-campaigns by a numeric attribute's threshold (each with its offer), the SMS script, an
    optional outbound-call wave N days later for non-responders, control share (%), priority,
    call capacity per day and start. Raises ``DesignError`` naming the field."""
    from pydantic import ValidationError

    from tagcloud.campaigns.design import CampaignDesign, SubCampaign, Wave
    from tagcloud.campaigns.policy import Channel

    group = str(form.get("group", "") or "").strip()
    condition = str(form.get("condition", "") or "").strip()
    if group:
        target = f"in_group('{group}')"
    elif condition:
        target = condition
    else:
        raise DesignError("target: choose a saved group or write a condition")
    attr = str(form.get("tier_attribute", "") or "").strip()
    if attr not in columns or columns[attr].get("kind") != "number":
        raise DesignError(f"tier attribute (tier_attribute): {attr!r} is not a numeric attribute")
    threshold = _num(form, "tier_threshold", "tier threshold")
    sms = str(form.get("sms_script", "") or "").strip()
    if not sms:
        raise DesignError("SMS script (sms_script) is required")
    scripts = {"sms": sms}
    waves = [Wave(channel=Channel.SMS)]
    call_after = _num(form, "call_after_days", "call wave day", int, default=-1)
    if call_after >= 0:
        call = str(form.get("call_script", "") or "").strip()
        if not call:
            raise DesignError("call script (call_script) is required for the call wave")
        scripts["outbound"] = call
        waves.append(Wave(channel=Channel.OUTBOUND, after_days=call_after))
    offers = (str(form.get("offer_high", "") or "").strip(), str(form.get("offer_rest", "") or "").strip())
    if not all(offers):
        raise DesignError("offers (offer_high, offer_rest): both sub-campaigns need a product")
    start_raw = str(form.get("start", "") or "").strip()
    try:
        start = dt.datetime.fromisoformat(start_raw)
    except ValueError:
        raise DesignError(f"start (start): {start_raw!r} is not a date and time") from None
    capacity = _num(form, "call_capacity", "call capacity", int, default=0)
    try:
        return CampaignDesign(
            campaign_id=str(form.get("campaign_id", "") or "").strip(),
            name=str(form.get("name", "") or "").strip() or "?",
            region_id=actor.region_id,
            region_level=actor.level,
            target=target,
            sub_campaigns=[
                SubCampaign(
                    name="tier_high",
                    offer_id=offers[0],
                    condition=f"{attr} >= {threshold:g}",
                    scripts=scripts,
                ),
                SubCampaign(name="tier_rest", offer_id=offers[1], scripts=scripts),
            ],
            waves=waves,
            start=start,
            priority=_num(form, "priority", "priority", int, default=0),
            control_share=_num(form, "control_pct", "control share", float, default=10.0) / 100,
            capacity={"outbound": capacity} if capacity else {},
        )
    except ValidationError as e:
        raise DesignError(
            "; ".join(f"{'.'.join(map(str, x['loc'])) or 'design'}: {x['msg']}" for x in e.errors())
        ) from None


# ---- execution ----------------------------------------------------------------------------

_run_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_smsc: Any = None


@contextmanager
def one_run(campaign_id: str) -> Iterator[None]:
    """One ``run_due`` per campaign at a time (the library's one-sender-per-wave contract)."""
    with _locks_guard:
        lock = _run_locks.setdefault(campaign_id, threading.Lock())
    if not lock.acquire(blocking=False):
        raise RuntimeError(f"campaign {campaign_id} is already running a pass; try again shortly")
    try:
        yield
    finally:
        lock.release()


def smsc_address() -> tuple[str, int]:
    """``settings.CAMPAIGN_SMSC`` ("host:port"), else a local SMSC started once per process."""
    global _smsc
    conf = str(getattr(settings, "CAMPAIGN_SMSC", "") or "")
    if conf:
        host, port = conf.rsplit(":", 1)
        return host, int(port)
    with _locks_guard:
        if _smsc is None:
            from tagcloud.campaigns.channels.smsc import LocalSmsc
            from tagcloud.campaigns.demo import _free_port

            work_dir().mkdir(parents=True, exist_ok=True)
            _smsc = LocalSmsc(port=_free_port(), rate=2000, receipt_delay=0.01)
            _smsc.__enter__()
        return "127.0.0.1", int(_smsc.port)


def target_of(design: CampaignDesign, engine: AudienceEngine | None) -> Target:
    """The campaign's target: its snapshot once launched, else computed now by the audience engine."""
    from tagcloud.campaigns.execute import Target, target_from_audience

    snap = work_dir() / "targets" / f"{design.campaign_id}.target.parquet"
    if snap.exists():
        return Target.load(snap)
    if engine is None:
        raise ValueError(
            f"campaign {design.campaign_id} is not launched and the warehouse has no audience index "
            "to compute its target: run `tagcloud audience index`"
        )
    return target_from_audience(engine, design)


def run(campaign_id: str, engine: AudienceEngine | None, now: dt.datetime) -> RunOutcome:
    """Start an approved campaign and run its due waves as of ``now`` (SMS over SMPP, call lists)."""
    from tagcloud.campaigns.execute import run_due
    from tagcloud.campaigns.workflow import CampaignState

    with one_run(campaign_id), open_store() as store, open_ledger() as ledger:
        c = store.get(campaign_id)
        if c["state"] == CampaignState.APPROVED:
            store.start(campaign_id, by="web")
        elif c["state"] != CampaignState.RUNNING:
            raise ValueError(f"campaign {campaign_id} is {c['state'].value}: only an approved campaign runs")
        design = store.design(campaign_id)
        target = target_of(design, engine)
        return run_due(
            ledger,
            design,
            target,
            work_dir() / "targets",
            now,
            smsc=smsc_address() if any(w.channel.value == "sms" for w in design.waves) else None,
            call_dir=work_dir() / "calls",
            sms_rate=float(getattr(settings, "CAMPAIGN_SMS_RATE", 100.0)),
        )


def lock_key(campaign_id: str) -> str:
    """The job lock of a campaign's passes: one open pass per campaign, across every worker."""
    return f"campaign:{campaign_id}"


@dataclass
class RunState:
    """The latest pass of one campaign, as the campaign page shows it: its job on the queue."""

    running: bool = False
    now: dt.datetime | None = None
    summary: str = ""
    error: str = ""
    job_id: str = ""
    state: str = ""  # the job's state (queued, running, succeeded, failed, cancelled)
    percent: float | None = None


def run_state(campaign_id: str) -> RunState:
    """The campaign's latest pass, read from the job record (any process, any worker)."""
    from tagcloud.jobs.store import JobState, JobStore

    with JobStore() as store:
        job = store.latest(lock_key(campaign_id))
    if job is None:
        return RunState()
    now = dt.datetime.fromisoformat(job.args["now"]) if job.args.get("now") else None
    failed = job.state in (JobState.FAILED, JobState.CANCELLED)
    return RunState(
        running=job.open,
        now=now,
        summary=job.summary or ("running" if job.open else ""),
        error=(job.error or job.state.value) if failed else "",
        job_id=job.job_id,
        state=job.state.value,
        percent=job.percent,
    )


def engine_or_none() -> AudienceEngine | None:
    """The audience engine if the warehouse has an index (a launched campaign needs none)."""
    from tagcloud.web.engine import NoIndex, base_engine

    try:
        return base_engine()
    except NoIndex:
        return None


def campaign_engine(campaign_id: str) -> AudienceEngine | None:
    """The audience engine scoped to the campaign's own region (not to whoever pressed "run"),
    for computing a target not launched yet; None when the warehouse has no index."""
    import dataclasses

    from tagcloud.web.accounts.scope import scope_for_region

    eng = engine_or_none()
    if eng is None:
        return None
    with open_store() as store:
        c = store.get(campaign_id)
    sc = scope_for_region(c["region_id"], c["region_level"], {})
    return dataclasses.replace(eng, scope=sc.as_condition())


def start_run(campaign_id: str, engine: AudienceEngine | None, now: dt.datetime) -> Any:
    """Queue a pass of the campaign's due waves as a job (``campaign.run``) for ``tagcloud worker``;
    an SMS wave at the contracted rate takes minutes for a large county, and survives a restart of
    the web server or of the worker. Raises ``JobBusy`` (a RuntimeError) while a pass is open.
    ``engine`` is the caller's; the worker opens its own."""
    from tagcloud.jobs.worker import submit

    with open_store() as store:
        c = store.get(campaign_id)
    return submit(
        "campaign.run",
        {"campaign_id": campaign_id, "now": now.isoformat()},
        title=f"Campaign {campaign_id} as of {now:%Y-%m-%d %H:%M}",
        region_id=c["region_id"],
        lock_key=lock_key(campaign_id),
    )


def call_lists(campaign_id: str) -> list[Path]:
    """The call-list files written for a campaign, oldest first."""
    d = work_dir() / "calls"
    return sorted(d.glob(f"{campaign_id}-wave*.csv")) if d.exists() else []


def simulator_dir() -> Path | None:
    """The simulator export the warehouse came from (``TAGCLOUD_SIM_DIR`` / ``settings.SIM_DIR``)."""
    import os

    raw = str(getattr(settings, "SIM_DIR", "") or os.environ.get("TAGCLOUD_SIM_DIR", ""))
    return Path(raw) if raw and (Path(raw) / "ground_truth").exists() else None


def simulate(campaign_id: str) -> dict[str, int]:
    """Let the reached subscribers answer from the simulator's ground truth, every wave that ran;
    returns channel → acceptances."""
    from tagcloud.campaigns.responses import simulate_responses
    from tagcloud.sim.truth import GroundTruth

    sim = simulator_dir()
    if sim is None:
        raise ValueError(
            "no simulator export configured (TAGCLOUD_SIM_DIR): responses come from call results"
        )
    truth = GroundTruth.load(sim)
    out: dict[str, int] = {}
    with open_store() as store, open_ledger() as ledger:
        design = store.design(campaign_id)
        for wave in range(len(design.waves)):
            for ch, n in simulate_responses(ledger, design, truth, wave).items():
                out[ch] = out.get(ch, 0) + n
    return out


def evaluation(campaign_id: str, engine: AudienceEngine) -> Any:
    """``evaluate`` over the ledger, the target snapshot and the warehouse's tables (when present)."""
    import duckdb

    from tagcloud.campaigns.evaluate import evaluate
    from tagcloud.data.warehouse import Warehouse

    wh = Path(engine.warehouse)
    con = Warehouse(wh).connect() if (wh / "tables").exists() else duckdb.connect()
    with open_store() as store, open_ledger() as ledger:
        design = store.design(campaign_id)
        return design, evaluate(ledger, design, target_of(design, engine), con)
