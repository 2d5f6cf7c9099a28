"""``tagcloud knowledge``: load the demo's quick points into the wiki, publish the verified ones as
knowledge tags, and measure good points against weak ones on the simulator's planted truth."""

from __future__ import annotations

from pathlib import Path

import typer

knowledge_app = typer.Typer(help="The marketers' knowledge wiki (营销快点吧).", no_args_is_help=True)


@knowledge_app.command("load")
def load(
    seed: Path | None = typer.Argument(None, help="seed file (default: the package's demo points)"),
    warehouse: Path = typer.Option(
        Path("var/demo/warehouse"), help="warehouse whose index the points are checked against"
    ),
) -> None:
    """Load quick points into the wiki (kept when the title exists), verify the marked ones and
    publish them as knowledge tags kp_<id> (the audience index is rebuilt to carry them)."""
    from tagcloud.cli.web import _django, _migrate

    _django(warehouse)
    _migrate()
    from tagcloud.web.knowledge.seed import load_seed

    try:
        r = load_seed(warehouse.resolve(), seed)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="SEED") from None
    for title, why in r.skipped.items():
        typer.echo(f"skipped {title}: {why}", err=True)
    typer.echo(
        f"quick points: {r.created} created, {r.kept} kept, {len(r.skipped)} skipped; "
        f"{r.verified} verified, {r.published} knowledge tags published"
    )


@knowledge_app.command("evaluate")
def evaluate(
    truth: Path = typer.Option(..., help="simulator export (its ground_truth/)"),
    seed: Path | None = typer.Argument(
        None, help="seed file with `planted: good|weak` (default: the demo's)"
    ),
    warehouse: Path = typer.Option(Path("var/demo/warehouse"), help="warehouse with the audience index"),
) -> None:
    """Each point's group against the planted acceptance of its product: lift over the province,
    and the median lift of good vs weak points."""
    from rich.console import Console
    from rich.table import Table

    from tagcloud.audience.query import AudienceEngine
    from tagcloud.knowledge.evaluate import evaluate_points, summary
    from tagcloud.knowledge.seed import read_seed

    rows = evaluate_points(
        AudienceEngine.open(warehouse),
        truth.parent if truth.name == "ground_truth" else truth,
        read_seed(seed),
    )
    t = Table(title="quick points vs planted acceptance (SMS offer)")
    for c in ("planted", "product", "group", "group P(accept)", "province", "lift", "point"):
        t.add_column(c)
    for r in rows:
        t.add_row(r.planted, r.product_id, f"{r.group:,}", f"{r.group_acceptance:.4f}", f"{r.province_acceptance:.4f}",
                  "—" if r.lift is None else f"{r.lift:.2f}", r.title)  # fmt: skip
    Console().print(t)
    s = summary(rows)
    typer.echo(
        f"median lift: good points {s['good']:.2f}, weak points {s['weak']:.2f} (ratio {s['good'] / s['weak']:.2f})"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(knowledge_app, name="knowledge")
