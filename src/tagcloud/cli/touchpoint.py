"""``tagcloud touchpoint …``: next-best-offer at a touchpoint and the subscriber's answer, over a
ledger / rules database, a contact memory and the published wide table (the web platform's
``POST /api/touchpoints/decide`` without the web)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

touchpoint_app = typer.Typer(help="Touchpoint decisions: next-best offers, feedback.", no_args_is_help=True)

DB = typer.Option(None, "--db", help="ledger/rules database URL (default $TAGCLOUD_CAMPAIGN_DB)")
MEMORY = typer.Option(
    None, "--memory", help="contact memory: sqlite:///path (default next to the db) or redis://…"
)
WAREHOUSE = typer.Option(None, "--warehouse", "-w", help="warehouse with a published tag build")


def _decider(db: str | None, memory: str | None, warehouse: Path | None) -> Any:
    from tagcloud.campaigns.policy import ContactLedger
    from tagcloud.campaigns.workflow import CampaignStore
    from tagcloud.realtime.decide import Decider
    from tagcloud.realtime.engine import SubscriberTable
    from tagcloud.realtime.memory import open_memory
    from tagcloud.realtime.rulestore import RuleStore
    from tagcloud.tags import current_names
    from tagcloud.web.realtime.service import DEFAULT_FALLBACK, DEFAULT_MODEL_OFFERS

    url = db or os.environ.get("TAGCLOUD_CAMPAIGN_DB") or "sqlite:///var/campaigns.db"
    if memory is None:
        memory = (
            f"sqlite:///{Path(url.removeprefix('sqlite:///')).with_name('touchpoint-memory.db')}"
            if url.startswith("sqlite:///")
            else "sqlite:///var/touchpoint-memory.db"
        )
    wh = warehouse or Path(os.environ.get("TAGCLOUD_WAREHOUSE", "var/warehouse"))
    names = current_names(wh)
    store = CampaignStore(url)

    def design(cid: str) -> Any:
        try:
            return store.design(cid)
        except KeyError:
            return None

    return Decider(
        ContactLedger(url), open_memory(memory), designs=design, rules=RuleStore(url),
        model_offers=[m for m in DEFAULT_MODEL_OFFERS if m.column in names], fallback=DEFAULT_FALLBACK,
        names=names, load_subscribers=lambda cols: SubscriberTable.from_warehouse(wh, sorted(c for c in cols if c in names)),
    )  # fmt: skip


@touchpoint_app.command("decide")
def decide(
    msisdn: str = typer.Argument(None, help="the subscriber (default: the latest one a rule contacted)"),
    channel: str = typer.Option("10086", help="10086, hall, web_hall, sms_hall, app, self_terminal"),
    db: str | None = DB,
    memory: str | None = MEMORY,
    warehouse: Path | None = WAREHOUSE,
) -> None:
    """The ranked offers for a subscriber at a touchpoint, with scripts, memory and contact history."""
    from rich.console import Console
    from rich.table import Table

    d = _decider(db, memory, warehouse)
    if not msisdn:
        row = d.ledger.db.q(
            "SELECT msisdn FROM rt_decisions WHERE outcome IN ('contacted', 'deferred', 'touchpoint') ORDER BY event_at DESC LIMIT 1"
        )
        if not row:
            raise typer.BadParameter("no subscriber given and no rule has contacted anyone yet")
        msisdn = str(row[0][0])
    out = d.decide(msisdn, channel)
    t = Table(
        title=f"{msisdn[:3]}****{msisdn[-4:]} at {channel}: {out.elapsed_ms:.2f} ms"
        + (f" (fallback: {out.reason})" if out.fallback else "")
    )
    for c in ("source", "offer", "score", "script", "memory"):
        t.add_column(c)
    for o in out.offers:
        t.add_row(o.source_id, o.offer_id, f"{o.score:.2f}", o.script, "; ".join(o.memory))
    con = Console()
    con.print(t)
    for e in out.excluded:
        con.print(f"  not offered: {e['offer_id']} ({e['source_id']}): {e['reason']}")
    for h in d.ledger.history(msisdn)[:5]:
        con.print(
            f"  history: {h['at']:%Y-%m-%d %H:%M} {h['event']} {h['channel']} {h['campaign_id']} {h['offer_id']} {h['status']}"
        )
    typer.echo(
        f"decided {len(out.offers)} offers, {len(out.excluded)} not offered, in {out.elapsed_ms:.2f} ms"
    )


@touchpoint_app.command("feedback")
def feedback(
    msisdn: str = typer.Argument(...),
    offer_id: str = typer.Argument(...),
    outcome: str = typer.Argument(..., help="offered, considering, accepted or refused"),
    channel: str = typer.Option("10086"),
    source_id: str | None = typer.Option(None, help="the campaign or rule:<id> that made the offer"),
    db: str | None = DB,
    memory: str | None = MEMORY,
    warehouse: Path | None = WAREHOUSE,
) -> None:
    """Record the subscriber's answer: the ledger first (acceptance stops the offer everywhere), then the memory."""
    d = _decider(db, memory, warehouse)
    got = d.feedback(msisdn, offer_id, channel, outcome, source_id)
    typer.echo(f"recorded {got['outcome']} for {offer_id} at {channel}")


def register(app: typer.Typer) -> None:
    app.add_typer(touchpoint_app, name="touchpoint")
