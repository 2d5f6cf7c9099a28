"""``tagcloud demo``: the whole tour on one machine — simulate a province, ingest it, run the models,
build the tag library, index the audiences, prepare the web platform and serve it on localhost.

Each step is the same command a data engineer would type (shown before it runs), so the demo is also
the tutorial. Steps whose output is already there and unchanged are cheap to rerun: the simulator's
export is reused when its manifest matches, and ingestion skips files it has already loaded.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import typer


def _step(title: str, args: list[str]) -> None:
    from rich.console import Console

    from tagcloud.cli import app

    console = Console(stderr=True)
    console.rule(f"[bold]{title}")
    console.print(f"[dim]$ tagcloud {' '.join(args)}")
    started = time.perf_counter()
    cmd = typer.main.get_command(app)
    try:
        cmd.main(args=args, prog_name="tagcloud", standalone_mode=False)
    except SystemExit as e:  # a command that ends with typer.Exit(0) is fine; anything else stops the demo
        if e.code not in (0, None):
            raise
    console.print(f"[dim]{title}: {time.perf_counter() - started:,.1f} s")


def _export_matches(export: Path, subscribers: int, days: int, seed: int) -> bool:
    manifest = export / "manifest.json"
    if not manifest.exists():
        return False
    m = json.loads(manifest.read_text(encoding="utf-8"))
    return (m.get("subscribers"), m.get("days"), m.get("seed"), m.get("market")) == (
        subscribers,
        days,
        seed,
        True,
    )


def demo(
    subscribers: int = typer.Option(100_000, "--subscribers", "-n", help="subscribers to simulate"),
    # two months: one month of detail leaves the churn signs too noisy for the model (docs/models.md)
    days: int = typer.Option(60, "--days", "-d", help="days to simulate"),
    seed: int = typer.Option(1, "--seed", help="simulation seed"),
    directory: Path = typer.Option(Path("var/demo"), "--dir", help="where the demo keeps its data"),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="serve the web platform at the end"),
    host: str = typer.Option("127.0.0.1", help="address the web platform listens on"),
    port: int = typer.Option(8000, help="port of the web platform"),
) -> None:
    """Simulate → ingest → models → tags → audiences → web platform, printing what each step did."""
    directory.mkdir(parents=True, exist_ok=True)
    export, warehouse = directory / "export", directory / "warehouse"
    os.environ["TAGCLOUD_WAREHOUSE"] = str(warehouse.resolve())
    os.environ.setdefault("TAGCLOUD_VAR_DIR", str((directory / "web").resolve()))
    os.environ.setdefault("TAGCLOUD_CAMPAIGN_DB", f"sqlite:///{(directory / 'campaigns.sqlite').resolve()}")
    # campaigns launched from the web get their simulated answers from this export's ground truth
    os.environ.setdefault("TAGCLOUD_SIM_DIR", str(export.resolve()))

    if not _export_matches(export, subscribers, days, seed):
        _step(
            f"1. Simulate a province: {subscribers:,} subscribers × {days} days",
            [
                "simulate",
                "-n",
                str(subscribers),
                "-d",
                str(days),
                "--seed",
                str(seed),
                "--out",
                str(export),
                "--market",
            ],
        )
    else:
        typer.echo(
            f"1. Simulation: reusing {export} ({subscribers:,} subscribers × {days} days, seed {seed})"
        )
    _step("2. Ingest the export into the warehouse", ["ingest", str(export), "--warehouse", str(warehouse)])

    small, damaged = directory / "small-export", directory / "damaged-export"
    if not (damaged / "damage_manifest.json").exists():
        _step("3a. A small export to damage", ["simulate", "-n", "500", "-d", "3", "--out", str(small)])
        _step("3b. Damage it the ways operators' files break", ["damage", str(small), str(damaged)])
    _step(
        "3c. Ingest the damaged export: every bad row quarantined with its reason",
        ["ingest", str(damaged), "--warehouse", str(directory / "damaged-warehouse")],
    )

    _step(
        "4. Customer models (written as model-output tags)", ["models", "run", "--warehouse", str(warehouse)]
    )
    _step(
        "4b. Models against the simulator's ground truth",
        ["models", "evaluate", "--truth", str(export / "ground_truth"), "--warehouse", str(warehouse)],
    )
    _step("5. Build every attribute and tag", ["build", "--warehouse", str(warehouse)])
    _step(
        "5b. Customer–service–channel matching library (republishes the wide table with match_* tags)",
        ["matching", "build", "--warehouse", str(warehouse)],
    )
    _step(
        "5c. The matching library against the planted acceptance",
        ["matching", "evaluate", "--truth", str(export), "--warehouse", str(warehouse)],
    )
    _step("6. Index the audiences", ["audience", "index", "--warehouse", str(warehouse)])
    _realtime_steps(directory, export, warehouse, days)
    _step(
        "7. Web platform: database, reference data, demo accounts",
        ["web", "load-reference", "--warehouse", str(warehouse)],
    )
    _step("   the tag catalogue and its versions", ["web", "load-tags", "--warehouse", str(warehouse)])
    _step("   demo accounts (one per role)", ["web", "create-demo-users"])
    _step("   the township info base", ["markets", "load-townships", "--warehouse", str(warehouse)])
    _step("   cell changes to classify", ["markets", "detect-cells", "--warehouse", str(warehouse)])
    _step(
        "7b. Regional KPIs and the city's alert rule, each day evaluated",
        ["alerts", "demo", "-w", str(warehouse)],
    )
    _step(
        "   the planted anomalies found by the default rules",
        ["alerts", "planted", "--truth", str(export / "ground_truth"), "-w", str(warehouse)],
    )
    _step(
        "   营销快点吧: the demo's quick points, verified ones as knowledge tags",
        ["knowledge", "load", "--warehouse", str(warehouse)],
    )
    _step(
        "   quick points against the planted truth",
        ["knowledge", "evaluate", "--truth", str(export), "--warehouse", str(warehouse)],
    )
    if serve:
        _step(
            f"8. Serve on http://{host}:{port}/",
            ["serve", "--host", host, "--port", str(port), "--warehouse", str(warehouse), "--with-worker"],
        )
    else:  # the later `tagcloud serve` must find this demo's databases, not var/web's
        env = " ".join(
            f"{k}={os.environ[k]}" for k in ("TAGCLOUD_VAR_DIR", "TAGCLOUD_CAMPAIGN_DB", "TAGCLOUD_SIM_DIR")
        )
        print(f"to serve it later: {env} tagcloud serve --warehouse {warehouse} --with-worker")


def _realtime_steps(directory: Path, export: Path, warehouse: Path, days: int) -> None:
    """6b. A real-time rule: simulate a day of events, approve a rule, backtest it, run the worker."""
    import datetime as dt

    from tagcloud.campaigns.channels.smsc import LocalSmsc
    from tagcloud.sim.simulate import DEFAULT_START

    day, rt = (DEFAULT_START + dt.timedelta(days=days)).isoformat(), directory / "realtime"
    rt.mkdir(exist_ok=True)
    db, bus, events = (
        f"sqlite:///{(rt / 'realtime.db').resolve()}",
        f"sqlite:///{(rt / 'events.db').resolve()}",
        rt / "events.jsonl",
    )
    rule = {"rule_id": "quota_pack", "name": "流量用量达80%推荐10GB流量包", "event_type": "quota_80",
            "condition": "arpu_3m >= 30", "offer_id": "DP_10G", "script": "您本月流量已用80%，10GB流量包20元，回复KT办理",
            "valid_from": "2026-01-01", "valid_until": "2027-12-31", "region_id": "", "control_share": 0.2}  # fmt: skip
    (rt / "rule.json").write_text(json.dumps(rule, ensure_ascii=False), encoding="utf-8")
    (rt / "realtime.db").unlink(missing_ok=True)
    (rt / "events.db").unlink(missing_ok=True)
    _step(f"6b. Real time: one day of events ({day})", ["realtime", "simulate", str(export), "--day", day, "--out", str(events), "--bad-share", "0.001", "--publish", bus])  # fmt: skip
    _step(
        "   a rule, approved and switched on", ["realtime", "rule-create", str(rt / "rule.json"), "--db", db]
    )
    _step("   backtest on the day's events", ["realtime", "backtest", "quota_pack", "--events", str(events), "--db", db, "--warehouse", str(warehouse)])  # fmt: skip
    for action in ("submit", "approve", "activate"):
        _step(f"   {action}", ["realtime", "rule", action, "quota_pack", "--db", db, "--approver"])
    with LocalSmsc(port=_free_port(), rate=2000) as smsc:
        _step("   the event worker (SMS over SMPP to the local SMSC)", ["realtime", "worker", "--bus", bus, "--db", db, "--warehouse", str(warehouse), "--smsc", f"127.0.0.1:{smsc.port}", "--rate", "1000", "--clock", "event", "--idle-timeout", "1", "--max-future-hours", "24"])  # fmt: skip
    _step("   the rule's report", ["realtime", "report", "quota_pack", "--db", db])
    _step("   the subscriber calls 10086: next-best offers, with the SMS before", ["touchpoint", "decide", "--channel", "10086", "--db", db, "--warehouse", str(warehouse)])  # fmt: skip


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
