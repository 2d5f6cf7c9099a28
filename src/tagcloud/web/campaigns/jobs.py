"""Campaign work on the job queue: a pass of ``run_due`` (started from the campaign page, or by the
schedule below) and the every-5-minutes look for running campaigns whose next wave has come
("outbound call 3 days later" fires by itself). Runs in ``tagcloud worker`` with Django set up."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tagcloud.jobs.registry import job_kind, schedule


def _django() -> None:
    from tagcloud.web import setup_django

    setup_django()


@job_kind("campaign.run", title="Campaign pass: due waves", max_attempts=5)
def run_campaign(ctx: Any, campaign_id: str, now: str) -> str:
    """``run_due`` as of ``now``: launch once, plan due waves, SMS over SMPP, call lists. Safe to
    rerun after a kill: the ledger's claims make every step idempotent (no SMS twice)."""
    _django()
    from tagcloud.web.campaigns import service

    when = dt.datetime.fromisoformat(now)
    ctx.log(f"campaign {campaign_id} as of {when:%Y-%m-%d %H:%M}")
    ctx.watch_progress(lambda: _sent(campaign_id))
    out = service.run(campaign_id, service.campaign_engine(campaign_id), when)
    sms = sum(r.submitted for r in out.sms.values())
    calls = sum(n for _, n in out.call_lists.values())
    ctx.progress(*_sent(campaign_id))
    return f"waves {sorted(out.planned)}: {sms} SMS submitted, {calls} calls listed"


def _sent(campaign_id: str) -> tuple[int, int | None]:
    """(handed to a channel, action contacts) from the ledger: the pass's progress."""
    from tagcloud.web.campaigns import service

    with service.open_ledger() as led:
        rows = dict(
            led.db.q(
                "SELECT status, count(*) FROM contacts WHERE campaign_id=? AND status <> 'control' GROUP BY 1",
                (campaign_id,),
            )
        )
    total = sum(rows.values())
    return total - rows.get("reserved", 0) - rows.get("submitting", 0), total or None


def due_campaigns(now: dt.datetime) -> list[str]:
    """Running campaigns with a wave whose time has come and that has contacts still to hand to a
    channel (or no plan yet)."""
    from tagcloud.campaigns.policy import epoch
    from tagcloud.campaigns.workflow import CampaignState
    from tagcloud.web.campaigns import service

    out = []
    with service.open_store() as store, service.open_ledger() as led:
        ids = [
            r[0]
            for r in store.db.q(
                "SELECT campaign_id FROM campaigns WHERE state=?", (CampaignState.RUNNING.value,)
            )
        ]
        for cid in ids:
            design = store.design(cid)
            for i in range(len(design.waves)):
                if design.wave_time(i) > now:
                    break
                planned = led.db.q("SELECT count(*) FROM contacts WHERE campaign_id=? AND wave=?", (cid, i))[
                    0
                ][0]
                pending = led.db.q(
                    "SELECT count(*) FROM contacts WHERE campaign_id=? AND wave=? AND status='reserved' "
                    "AND channel IN ('sms', 'outbound') AND contact_at <= ?",
                    (cid, i, epoch(now)),
                )[0][0]
                if not planned or pending:
                    out.append(cid)
                    break
    return out


@job_kind("campaign.due", title="Campaign waves due", max_attempts=1)
def fire_due_waves(ctx: Any, now: str | None = None) -> str:
    """Submit a ``campaign.run`` for each running campaign with a due wave (one open per campaign)."""
    _django()
    from tagcloud.jobs.store import JobBusy
    from tagcloud.web.campaigns import service

    when = dt.datetime.fromisoformat(now) if now else dt.datetime.now()
    started, busy = [], []
    for cid in due_campaigns(when):
        try:
            service.start_run(cid, None, when)
            started.append(cid)
        except JobBusy:
            busy.append(cid)
    ctx.log(f"due: {started or 'none'}; already running: {busy or 'none'}")
    return f"{len(started)} campaign pass(es) started" + (f", {len(busy)} already running" if busy else "")


schedule("campaign.due", "campaign.due", cron="*/5 * * * *", args=lambda when: {"now": when.isoformat()})
