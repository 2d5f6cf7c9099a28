"""``tagcloud campaign …`` and ``tagcloud smsc``: run campaigns, exchange call lists, report results."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import typer

campaign_app = typer.Typer(
    help="Closed-loop campaigns: run waves, call lists, touchpoints, reports.", no_args_is_help=True
)

DB = typer.Option(
    None, "--db", help="campaign database URL (default $TAGCLOUD_CAMPAIGN_DB or sqlite:///var/campaigns.db)"
)
SNAPSHOTS = typer.Option(Path("var/campaigns/targets"), "--snapshots", help="folder of target snapshots")
WAREHOUSE = typer.Option(None, "--warehouse", "-w", help="warehouse folder (default $TAGCLOUD_WAREHOUSE)")


def _db(url: str | None) -> str:
    url = url or os.environ.get("TAGCLOUD_CAMPAIGN_DB") or "sqlite:///var/campaigns.db"
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return url


@campaign_app.command("create")
def create(design_json: Path, db: str | None = DB, user: str = "cli", region: str = "") -> None:
    """Save a campaign design (JSON) as a new draft campaign."""
    from tagcloud.campaigns.design import CampaignDesign
    from tagcloud.campaigns.workflow import Actor, CampaignStore

    d = CampaignDesign.model_validate_json(design_json.read_text(encoding="utf-8"))
    with CampaignStore(_db(db)) as store:
        c = store.create(d, Actor(user, d.region_level, region))
    typer.echo(f"{c['campaign_id']}: {c['state'].value}, version {c['version']}")


@campaign_app.command("run")
def run(
    campaign_id: str,
    db: str | None = DB,
    snapshots: Path = SNAPSHOTS,
    warehouse: Path | None = WAREHOUSE,
    smsc: str = typer.Option("127.0.0.1:2775", help="SMSC host:port"),
    rate: float = typer.Option(100.0, help="submit_sm per second contracted with the SMSC"),
    window: int = typer.Option(10, help="unacknowledged submit_sm allowed by the SMSC"),
    calls: Path = typer.Option(Path("var/campaigns/calls"), help="folder for call lists"),
    now: str | None = typer.Option(None, help="pretend it is this time (ISO), for demos"),
) -> None:
    """Run an approved campaign's due waves: snapshot, control group, policy, SMS, call lists."""
    from tagcloud.campaigns.execute import Target, run_due, target_from_audience
    from tagcloud.campaigns.policy import ContactLedger
    from tagcloud.campaigns.workflow import CampaignState, CampaignStore

    url = _db(db)
    with CampaignStore(url) as store, ContactLedger(url) as ledger:
        c = store.get(campaign_id)
        if c["state"] == CampaignState.APPROVED:
            store.start(campaign_id)
        elif c["state"] != CampaignState.RUNNING:
            raise typer.BadParameter(f"campaign {campaign_id} is {c['state'].value}: approve it first")
        d = store.design(campaign_id)
        snap = snapshots / f"{campaign_id}.target.parquet"
        if snap.exists():
            target = Target.load(snap)
        else:
            from tagcloud.audience.query import AudienceEngine

            target = target_from_audience(AudienceEngine.open(warehouse, can_unmask=True), d)
        host, port = smsc.rsplit(":", 1)
        when = dt.datetime.fromisoformat(now) if now else dt.datetime.now()
        out = run_due(
            ledger,
            d,
            target,
            snapshots,
            when,
            smsc=(host, int(port)),
            call_dir=calls,
            sms_rate=rate,
            sms_window=window,
        )
    for w, counts in out.planned.items():
        typer.echo(f"wave {w}: {counts}")
    for w, (p, n) in out.call_lists.items():
        typer.echo(f"wave {w}: {n} calls → {p}")


@campaign_app.command("call-results")
def call_results(
    path: Path,
    db: str | None = DB,
    now: str | None = typer.Option(
        None, help="when the results arrived (ISO; default now): the time of rows without called_at"
    ),
) -> None:
    """Import the call centre's results CSV (contact_id, result[, called_at, note])."""
    from tagcloud.campaigns.execute import import_call_results
    from tagcloud.campaigns.policy import ContactLedger

    at = dt.datetime.fromisoformat(now) if now else dt.datetime.now()
    with ContactLedger(_db(db)) as ledger:
        typer.echo(import_call_results(ledger, path, at))


@campaign_app.command("status")
def status(campaign_id: str, db: str | None = DB) -> None:
    """Contacts by wave, channel and status, and exclusions by reason."""
    from tagcloud.campaigns.execute import wave_status
    from tagcloud.campaigns.policy import ContactLedger

    with ContactLedger(_db(db)) as ledger:
        for row in wave_status(ledger, campaign_id):
            typer.echo(f"wave {row['wave']} {row['channel']:>8} {row['what']:<28} {row['count']:>9,}")


@campaign_app.command("report")
def report(
    campaign_id: str,
    db: str | None = DB,
    snapshots: Path = SNAPSHOTS,
    warehouse: Path | None = WAREHOUSE,
    markdown: Path | None = typer.Option(None, "--markdown", help="also write the report as Markdown here"),
    xlsx: Path | None = typer.Option(None, "--xlsx", help="also write the report as a spreadsheet here"),
    outcomes: Path | None = typer.Option(
        None, "--outcomes", help="also write each member's group and success (.parquet): uplift training data"
    ),
) -> None:
    """Evaluation: action vs control success, lift, CI, p-value, usage before/after, by branch and week."""
    from tagcloud.campaigns.evaluate import evaluate, format_report, report_markdown, write_report_xlsx
    from tagcloud.campaigns.execute import Target
    from tagcloud.campaigns.policy import ContactLedger
    from tagcloud.campaigns.workflow import CampaignStore

    url = _db(db)
    with CampaignStore(url) as store, ContactLedger(url) as ledger:
        d = store.design(campaign_id)
        target = Target.load(snapshots / f"{campaign_id}.target.parquet")
        con = None
        wh = warehouse or (
            Path(os.environ["TAGCLOUD_WAREHOUSE"]) if "TAGCLOUD_WAREHOUSE" in os.environ else None
        )
        if wh is not None and (wh / "tables").exists():
            from tagcloud.data.warehouse import Warehouse

            con = Warehouse(wh).connect()
        rep = evaluate(ledger, d, target, con)
    typer.echo(format_report(rep))
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(report_markdown(rep), encoding="utf-8")
        typer.echo(f"wrote {markdown}")
    if xlsx is not None:
        typer.echo(f"wrote {write_report_xlsx(rep, xlsx)}")
    if outcomes is not None:
        import pyarrow.parquet as pq

        outcomes.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(rep.members, outcomes)
        typer.echo(f"wrote {outcomes} ({rep.members.num_rows:,} members)")


@campaign_app.command("demo")
def demo(
    sim: Path = typer.Option(..., "--sim", help="a simulator export (tagcloud simulate)"),
    warehouse: Path = typer.Option(..., "--warehouse", "-w", help="its built and indexed warehouse"),
    work: Path = typer.Option(Path("var/campaign-demo"), help="where the demo keeps its database and files"),
    tag: str = typer.Option("campus_student", help="the targeting tag"),
) -> None:
    """The closed loop on the demo province: design, return and approval, SMPP, simulated answers, report."""
    from tagcloud.campaigns.demo import run_demo
    from tagcloud.campaigns.evaluate import format_report

    r = run_demo(sim, warehouse, work, target_tag=tag)
    t = r.targeting
    typer.echo(
        f"targeting by {tag}: " + t.comparison.verdict("targeted", "of a random group of the same size")
    )
    typer.echo("approval trail: " + " → ".join(f"{a['level']} {a['decision']}" for a in r.approvals))
    typer.echo(f"{r.sms_submitted:,} SMS over SMPP, {r.calls:,} outbound calls")
    typer.echo(format_report(r.report))


def smsc_command(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(2775, help="SMPP port"),
    rate: float = typer.Option(500.0, help="submit_sm accepted per second before ESME_RTHROTTLED"),
    journal: Path | None = typer.Option(None, help="append every accepted message here (JSON lines)"),
) -> None:
    """Run a local SMSC (smpp34's SMPP 3.4 server) with throttling and delivery receipts, for demos."""
    from tagcloud.campaigns.channels.smsc import LocalSmsc

    typer.echo(f"local SMSC on {host}:{port}, {rate:,.0f} submit_sm/s; Ctrl-C to stop")
    LocalSmsc(host=host, port=port, rate=rate, journal=journal).serve()


def register(app: typer.Typer) -> None:
    app.add_typer(campaign_app, name="campaign")
    app.command("smsc")(smsc_command)
