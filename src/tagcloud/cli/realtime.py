"""``tagcloud realtime …``: simulate events, run the event worker, backtest and report rules."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from tagcloud.realtime.engine import SubscriberTable
    from tagcloud.realtime.rulestore import RuleDesign, RuleStore

realtime_app = typer.Typer(
    help="Real-time marketing: event stream, rules, the event worker, backtests and reports.",
    no_args_is_help=True,
)

DB = typer.Option(
    None,
    "--db",
    help="ledger/rules database URL (default $TAGCLOUD_CAMPAIGN_DB or sqlite:///var/campaigns.db)",
)
BUS = typer.Option(
    "sqlite:///var/events.db",
    "--bus",
    help="sqlite:///path (embedded log) or nats://127.0.0.1:4222 (JetStream)",
)
WAREHOUSE = typer.Option(
    None, "--warehouse", "-w", help="warehouse with a published tag build (subscriber attributes)"
)
EXPORT = typer.Option(
    None, "--export", help="a raw export to take subscriber attributes from when no build exists"
)


def _db(url: str | None) -> str:
    url = url or os.environ.get("TAGCLOUD_CAMPAIGN_DB") or "sqlite:///var/campaigns.db"
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return url


def _bus_url(url: str) -> str:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return url


def _subscribers(
    warehouse: Path | None, export: Path | None, columns: set[str] | None = None
) -> SubscriberTable:
    from tagcloud.realtime.engine import SubscriberTable

    if export is not None:
        return SubscriberTable.from_export(export)
    wh = warehouse or Path(os.environ.get("TAGCLOUD_WAREHOUSE", "var/warehouse"))
    return SubscriberTable.from_warehouse(wh, columns)


def _rule(store: RuleStore, rule: str) -> RuleDesign:
    from tagcloud.realtime.rulestore import RuleDesign

    p = Path(rule)
    if p.suffix == ".json" and p.is_file():
        return RuleDesign.model_validate_json(p.read_text(encoding="utf-8"))
    return store.design(rule)


@realtime_app.command("simulate")
def simulate(
    export: Path = typer.Argument(..., help="a simulator export (tagcloud simulate)"),
    day: str = typer.Option(..., help="the day to simulate (YYYY-MM-DD)"),
    out: Path = typer.Option(Path("var/events.jsonl"), help="JSON lines file of the events"),
    seed: int = 0,
    scale: float = typer.Option(1.0, help="multiply every event rate"),
    bad_share: float = typer.Option(
        0.0, help="add this share of wrong events (shows the dead-letter stream)"
    ),
    publish: str | None = typer.Option(None, "--publish", help="also publish them to this bus URL"),
) -> None:
    """Simulate one day of the province's events (rates by persona, rush hours, festivals)."""
    from tagcloud.realtime.bus import open_bus
    from tagcloud.realtime.evaluate import write_events
    from tagcloud.sim.events import simulate_events
    from tagcloud.sim.truth import GroundTruth

    stream = simulate_events(GroundTruth.load(export), dt.date.fromisoformat(day), seed, scale, bad_share)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = write_events(out, stream.events)
    if publish:
        with open_bus(_bus_url(publish)) as bus:
            bus.publish([e.to_json() for e in stream.events])
    by_type: dict[str, int] = {}
    for e in stream.events:
        by_type[e.type.value] = by_type.get(e.type.value, 0) + 1
    typer.echo(
        f"{n:,} events → {out}{' and ' + publish if publish else ''}: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(by_type.items()))
    )


@realtime_app.command("publish")
def publish(events: Path, bus: str = BUS) -> None:
    """Publish a JSON-lines file of events to the bus, as they are (bad lines included: the worker judges)."""
    from tagcloud.realtime.bus import open_bus

    lines = [ln.rstrip(b"\n") for ln in events.read_bytes().splitlines() if ln.strip()]
    with open_bus(_bus_url(bus)) as b:
        b.publish(lines)
    typer.echo(f"published {len(lines):,} events to {bus}")


@realtime_app.command("rule-create")
def rule_create(
    rule_json: Path, db: str | None = DB, user: str = "cli", level: str = "province", region: str = ""
) -> None:
    """Save a rule (JSON, see docs/realtime.md) as a new draft, version 1."""
    from tagcloud.campaigns.workflow import Actor
    from tagcloud.realtime.rulestore import RuleDesign, RuleStore

    d = RuleDesign.model_validate_json(rule_json.read_text(encoding="utf-8"))
    with RuleStore(_db(db)) as store:
        r = store.create(d, Actor(user, level, region or d.region_id))
    typer.echo(f"{r['rule_id']}: {r['state'].value}, version {r['version']}")


@realtime_app.command("rule")
def rule_move(
    action: str = typer.Argument(..., help="submit | approve | return | activate | pause | retire"),
    rule_id: str = typer.Argument(...),
    db: str | None = DB,
    user: str = "cli",
    level: str = "province",
    region: str = "",
    approver: bool = typer.Option(False, help="act with an approver role"),
    comment: str | None = None,
) -> None:
    """Move a rule through its life (approval through the campaign approval chain)."""
    from tagcloud.campaigns.workflow import Actor, WorkflowError
    from tagcloud.realtime.rulestore import RuleStore

    with RuleStore(_db(db)) as store:
        actor = Actor(user, level, region or store.get(rule_id)["region_id"], can_approve=approver)
        moves = {
            "submit": lambda: store.submit(rule_id, actor),
            "approve": lambda: store.approve(rule_id, actor, comment),
            "return": lambda: store.return_(rule_id, actor, comment or ""),
            "activate": lambda: store.activate(rule_id, actor),
            "pause": lambda: store.pause(rule_id, actor, comment),
            "retire": lambda: store.retire(rule_id, actor, comment or "retired"),
        }
        if action not in moves:
            raise typer.BadParameter(f"{action!r}: one of {', '.join(moves)}")
        try:
            r = moves[action]()
        except WorkflowError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(1) from None
    typer.echo(
        f"{rule_id}: {r['state'].value}" + (f", waiting for {r['waiting_for']}" if r["waiting_for"] else "")
    )


@realtime_app.command("rules")
def rules(db: str | None = DB) -> None:
    """List the rules with their state and versions."""
    from tagcloud.realtime.rulestore import RuleStore

    with RuleStore(_db(db)) as store:
        for r in store.rules():
            typer.echo(
                f"{r['rule_id']:<20} {r['state'].value:<10} v{r['version']} (approved v{r['approved_version']}) "
                f"{r['event_type']:<24} {r['name']}"
            )


@realtime_app.command("worker")
def worker(
    bus: str = BUS,
    db: str | None = DB,
    warehouse: Path | None = WAREHOUSE,
    export: Path | None = EXPORT,
    smsc: str | None = typer.Option(
        "127.0.0.1:2775", help="SMSC host:port (empty: decide and reserve, send nothing)"
    ),
    rate: float = typer.Option(100.0, help="submit_sm per second contracted with the SMSC"),
    window: int = typer.Option(10, help="unacknowledged submit_sm allowed by the SMSC"),
    clock: str = typer.Option("wall", help="wall (production) or event (replaying a simulated day)"),
    batch: int = typer.Option(1000, help="events per micro-batch"),
    idle_timeout: float | None = typer.Option(None, help="stop once the bus stayed empty this many seconds"),
    max_future_hours: float = typer.Option(0.1, help="accepted clock skew ahead of the reference, in hours"),
) -> None:
    """Run the event worker: consume → validate → match rules → decide under the policy → SMS → ack."""
    from contextlib import nullcontext

    from tagcloud.campaigns.channels.smpp import SmppClient
    from tagcloud.campaigns.policy import ContactLedger
    from tagcloud.realtime.bus import open_bus
    from tagcloud.realtime.events import Lateness
    from tagcloud.realtime.rulestore import RuleStore
    from tagcloud.realtime.worker import Worker, dumps

    url = _db(db)
    subs = _subscribers(warehouse, export)
    host, _, port = (smsc or "").partition(":")
    client = SmppClient(host, int(port), window=window, rate=rate) if smsc else None
    with (
        open_bus(_bus_url(bus)) as b,
        ContactLedger(url) as ledger,
        RuleStore(url, names=subs.names) as store,
        client if client is not None else nullcontext(),
    ):
        lateness = Lateness(max_future=dt.timedelta(hours=max_future_hours))
        w = Worker(b, ledger, store, subs, smpp=client, clock=clock, lateness=lateness, batch=batch)
        stats = w.run(idle_timeout=idle_timeout)
    typer.echo(dumps(stats))


@realtime_app.command("backtest")
def backtest(
    rule: str = typer.Argument(..., help="a rule id in the store, or a rule JSON file"),
    events: Path = typer.Option(
        Path("var/events.jsonl"), help="JSON lines of past events (e.g. yesterday's)"
    ),
    db: str | None = DB,
    warehouse: Path | None = WAREHOUSE,
    export: Path | None = EXPORT,
) -> None:
    """How often a rule would have fired on past events, and for how many subscribers."""
    from tagcloud.realtime.evaluate import backtest as run_backtest
    from tagcloud.realtime.evaluate import read_events_checked
    from tagcloud.realtime.rulestore import RuleStore

    with RuleStore(_db(db)) as store:
        design = _rule(store, rule)
    subs = _subscribers(warehouse, export)
    design.check(subs.names)
    good, bad = read_events_checked(events)
    bt = run_backtest(design, good, subs)
    typer.echo(bt.sentence() + (f"; {len(bad):,} unreadable events skipped" if bad else ""))
    typer.echo("by hour: " + " ".join(f"{h:02d}:{n}" for h, n in enumerate(bt.by_hour) if n))


@realtime_app.command("report")
def report(
    rule_id: str,
    db: str | None = DB,
    window_days: int = 14,
    orders: Path | None = typer.Option(
        None, help="a folder of orders (Parquet) to credit orders of the offer"
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The rule's report, as for campaigns: fired, contacted, deferred, blocked (why), accepted, lift vs control."""
    import duckdb

    from tagcloud.campaigns.policy import ContactLedger
    from tagcloud.realtime.evaluate import evaluate_rule, format_report, report_json
    from tagcloud.realtime.rulestore import RuleStore

    url = _db(db)
    con = duckdb.connect()
    if orders is not None:
        con.read_parquet(f"{orders}/**/*.parquet", hive_partitioning=True).create_view("orders")
    with RuleStore(url) as store, ContactLedger(url) as ledger:
        r = evaluate_rule(ledger, store.design(rule_id), window_days, con=con)
    typer.echo(report_json(r) if as_json else format_report(r))


@realtime_app.command("dead-letters")
def dead_letters(bus: str = BUS, limit: int = 20) -> None:
    """The dead-letter stream: bad events with their reasons."""
    from tagcloud.realtime.bus import open_bus

    with open_bus(_bus_url(bus)) as b:
        dead = b.dead_letters()
    by: dict[str, int] = {}
    for d in dead:
        by[d["reason"]] = by.get(d["reason"], 0) + 1
    typer.echo(f"{len(dead):,} dead letters: " + json.dumps(by))
    for d in dead[:limit]:
        typer.echo(f"  [{d['reason']}] {d['detail']}")


def register(app: typer.Typer) -> None:
    app.add_typer(realtime_app, name="realtime")
