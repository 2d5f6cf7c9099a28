"""``tagcloud matching …``: build the customer–service–channel matching library, evaluate it, look one up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

matching_app = typer.Typer(
    help="The customer–service–channel matching library (seed 002): build, evaluate, show.",
    no_args_is_help=True,
)
WAREHOUSE = typer.Option(
    None, "--warehouse", "-w", help="warehouse folder (default $TAGCLOUD_WAREHOUSE or var/warehouse)"
)


def _wh(warehouse: Path | None) -> Path:
    from tagcloud.data.warehouse import default_warehouse

    return warehouse or default_warehouse()


def _run(fn: Any) -> Any:
    from tagcloud.tags.build import BuildError

    try:
        return fn()
    except (BuildError, ValueError, KeyError, FileNotFoundError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        typer.secho(f"error: {msg}", err=True, fg="red")
        raise typer.Exit(2) from None


@matching_app.command("build")
def build_cmd(
    warehouse: Path | None = WAREHOUSE,
    top_k: int = typer.Option(5, "--top", help="matches kept per subscriber"),
    publish: bool = typer.Option(
        True,
        "--publish/--no-publish",
        help="republish the wide table with the match_* tags (reuses every built part)",
    ),
) -> None:
    """Fit the four layers on the province, match every subscriber to services and a channel, write
    WAREHOUSE/matching/matches.parquet and models/matching.parquet, then republish the wide table so
    the audience engine and campaigns can use match_top_service, match_<service> …"""
    from tagcloud.knowledge.matching import MatchingConfig, build
    from tagcloud.tags.build import build as build_tags

    wh = _wh(warehouse)
    s = _run(lambda: build(wh, config=MatchingConfig(top_k=top_k), quiet=False))
    typer.echo(s.line())
    for r in s.rejected:
        typer.secho(f"evidence not used: {r}", fg="yellow")
    if publish:
        r = _run(lambda: build_tags(wh, quiet=True))
        typer.echo(f"wide table {r.build_id} republished with the match tags ({r.seconds:.1f} s)")


@matching_app.command("evaluate")
def evaluate_cmd(
    truth: Path = typer.Option(..., "--truth", help="the simulator export (or its ground_truth folder)"),
    warehouse: Path | None = WAREHOUSE,
    fit_wide: Path | None = typer.Option(
        None, "--fit-wide", help="an earlier month's wide table to fit on (default: the latest, same month)"
    ),
    fit_as_of: str | None = typer.Option(
        None, "--fit-as-of", help="YYYY-MM-DD: holdings for fitting from orders before this day"
    ),
    test_share: float = typer.Option(0.5, "--test-share", help="share of subscribers held out for judging"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Hit rate of the library's top match against the planted acceptance, beside random, most
    popular, ALS and single layers; each added layer's coverage and hit rate; per service."""
    from rich.console import Console
    from rich.table import Table

    from tagcloud.knowledge.matching_eval import evaluate, write

    wh = _wh(warehouse)
    ev = _run(
        lambda: evaluate(wh, truth, fit_wide=fit_wide, fit_as_of=fit_as_of, test_share=test_share, seed=seed)
    )
    console = Console()
    t = Table(title=f"hit rate · fit {ev.fit_subscribers:,} ({ev.fit_period}) · test {ev.test_subscribers:,}")
    for c in ("method", "coverage", "hit rate", "× random"):
        t.add_column(c, justify="left" if c == "method" else "right")
    for r in ev.rows + ev.layers:
        t.add_row(r.method, f"{r.coverage:.1%}", f"{r.hit_rate:.3%}", f"{r.vs_random:.2f}")
    console.print(t)
    s = Table(title="per service (top match)")
    for c in ("service", "offered", "hit rate", "random", "lift"):
        s.add_column(c, justify="left" if c == "service" else "right")
    for r in ev.services:
        s.add_row(r.service, f"{r.offered:,}", f"{r.hit_rate:.3%}", f"{r.random_rate:.3%}", f"{r.lift:.2f}")
    console.print(s)
    ratios = ev.ratios()
    console.print(
        f"library vs random {ratios['vs_random']:.2f}× (target 2.5), vs most popular {ratios['vs_popular']:.2f}× "
        f"(target 1.2), vs ALS {ratios['vs_als']:.2f}× (target 1.0); channel: own "
        f"{ev.channel['library_own_channel']:.3%} vs SMS {ev.channel['library_sms']:.3%}; written {write(ev, wh)}"
    )


@matching_app.command("show")
def show_cmd(
    msisdn: str = typer.Argument(..., help="the subscriber's number"), warehouse: Path | None = WAREHOUSE
) -> None:
    """The ranked matches of one subscriber: service, channel, layer, score and reason."""
    from tagcloud.knowledge.matching import LAYER_NAMES, Layer, matches_for

    rows = _run(lambda: matches_for(msisdn, _wh(warehouse)))
    if not rows:
        typer.secho(f"{msisdn}: no matches (not a subscriber of this warehouse)", err=True, fg="yellow")
        raise typer.Exit(1)
    for m in rows:
        typer.echo(
            f"{m.rank}. {m.service_id:10s} via {m.channel:15s} layer {m.layer} ({LAYER_NAMES[Layer(m.layer)][1]}), "
            f"score {m.score:.3f} — {m.reason}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(matching_app, name="matching")
