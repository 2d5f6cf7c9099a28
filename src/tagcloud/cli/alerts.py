"""``tagcloud alerts``: daily regional KPIs, alert evaluation, the demo's rules and the planted
anomalies' precision/recall."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

alerts_app = typer.Typer(help="Regional KPIs and anomaly alerts (异动指标分析监控).", no_args_is_help=True)


def _warehouse(warehouse: Path | None) -> Path:
    from tagcloud.data.warehouse import default_warehouse

    return warehouse or default_warehouse()


def _day(day: str) -> dt.date:
    try:
        return dt.date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter(f"--day {day!r} is not a date YYYY-MM-DD") from None


@alerts_app.command("kpis")
def kpis(
    warehouse: Path | None = typer.Option(None, "--warehouse", "-w", help="warehouse folder"),
    day: str | None = typer.Option(None, "--day", help="one day YYYY-MM-DD (default: every day with calls)"),
) -> None:
    """Compute the daily KPIs (every region level and channel) and store them beside the warehouse."""
    from tagcloud.data.warehouse import Warehouse
    from tagcloud.progress import job
    from tagcloud.regions.kpi import KpiError, compute_day, warehouse_days

    wh = Warehouse(_warehouse(warehouse))
    days = [_day(day)] if day else warehouse_days(wh)
    if not days:
        raise typer.BadParameter(f"the warehouse {wh.root} has no calls: ingest first")
    rows = events = 0
    with job(f"KPIs for {len(days)} day(s)", total=len(days)) as j:
        for d in days:
            try:
                r = compute_day(wh, d)
            except KpiError as e:
                raise typer.BadParameter(str(e)) from None
            rows, events = rows + r.rows, events + r.events
            j.advance(1, note=f"{d} {r.seconds:.1f}s")
    typer.echo(f"KPIs: {len(days)} day(s), {events:,} events → {rows:,} KPI rows")


def _django(warehouse: Path | None) -> None:
    from tagcloud.cli.web import _django as setup
    from tagcloud.cli.web import _migrate

    setup(warehouse)
    _migrate()


@alerts_app.command("evaluate")
def evaluate(
    day: str = typer.Option(..., "--day", help="the day whose data landed, YYYY-MM-DD"),
    warehouse: Path | None = typer.Option(None, "--warehouse", "-w", help="warehouse folder"),
) -> None:
    """Evaluate every active alert rule on DAY; raise and notify (inbox + SMS) each new breach."""
    _django(_warehouse(warehouse))
    from tagcloud.web.alerts.service import end_tracking, evaluate_day

    d = _day(day)
    raised = evaluate_day(d)
    moved = end_tracking(d)
    for a in raised:
        typer.echo(f"raised #{a.pk}: {a.text}")
    typer.echo(f"{d}: {len(raised)} alert(s) raised, {moved} moved to history")


@alerts_app.command("planted")
def planted(
    truth: Path = typer.Option(..., "--truth", help="the simulation's ground_truth folder"),
    warehouse: Path | None = typer.Option(None, "--warehouse", "-w", help="warehouse folder"),
) -> None:
    """Precision and recall of the default rules against the simulator's planted anomalies."""
    from tagcloud.data.codes import CODE_TABLES
    from tagcloud.data.warehouse import Warehouse
    from tagcloud.regions.kpi import default_store
    from tagcloud.regions.planted import default_rules, score
    from tagcloud.sim.market import load_anomalies

    wh = Warehouse(_warehouse(warehouse))
    anomalies = load_anomalies(truth)
    if not anomalies:
        raise typer.BadParameter(f"{truth} has no anomalies.json: simulate with --market")
    con = wh.connect()
    places = {
        lv: [r[0] for r in con.execute("SELECT region_id FROM regions WHERE level = ?", [lv]).fetchall()]
        for lv in ("township", "county")
    }
    places["cell"] = [r[0] for r in con.execute("SELECT cell_id FROM cells").fetchall()]
    store = default_store(wh)
    rules = default_rules(places, [c.code for c in CODE_TABLES["channel"]])
    s, breaches = score(store, anomalies, rules, store.days())
    for b in breaches:
        typer.echo(f"  {b.day} {b.kpi} {b.region_id} {b.channel}: {b.value} (metric {b.metric:.1f})")
    for a in s.missed:
        typer.echo(f"  missed: {a.kind} {a.region_id} {a.cell_id or ''} {a.first_day}..{a.last_day}")
    typer.echo(
        f"planted anomalies: {s.found}/{s.planted} found (recall {s.recall:.2f}); "
        f"{s.right}/{s.alerts} alerts right (precision {s.precision:.2f})"
    )


@alerts_app.command("demo")
def demo(
    warehouse: Path | None = typer.Option(None, "--warehouse", "-w", help="warehouse folder"),
    last_days: int = typer.Option(16, "--last-days", help="compute KPIs for the last N days (0: all)"),
) -> None:
    """The demo's alerts: KPIs for the last days, the demo accounts' phones and the city's rule on
    the township manager's district, then each day evaluated as if its data had just landed."""
    from tagcloud.data.warehouse import Warehouse
    from tagcloud.regions.kpi import compute_day, default_store, warehouse_days

    wh = Warehouse(_warehouse(warehouse))
    store = default_store(wh)
    wanted = warehouse_days(wh)[-last_days:] if last_days > 0 else warehouse_days(wh)
    missing = [d for d in wanted if d not in set(store.days())]
    for d in missing:
        r = compute_day(wh, d, store)
        typer.echo(f"KPIs {d}: {r.events:,} events → {r.rows:,} rows in {r.seconds:.1f} s")
    _django(wh.root)
    from tagcloud.web.alerts.demo import demo_rules
    from tagcloud.web.alerts.service import evaluate_day

    rules = demo_rules()
    n = 0
    for d in store.days():
        for a in evaluate_day(d, rules):
            n += 1
            typer.echo(f"raised #{a.pk}: {a.text}")
    typer.echo(f"demo alerts: {len(rules)} rule(s), {n} alert(s) raised")


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
