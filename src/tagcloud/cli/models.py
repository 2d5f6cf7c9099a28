"""Commands for the customer models: run them, evaluate them, train a propensity model, AHP weights."""

from __future__ import annotations

from pathlib import Path

import typer

models_app = typer.Typer(help="Customer models (location, special markets, churn, …) and URL translation.",
                         no_args_is_help=True)  # fmt: skip

WAREHOUSE_HELP = "warehouse folder (default: $TAGCLOUD_WAREHOUSE or var/warehouse)"


def _warehouse(path: Path | None) -> Path:
    from tagcloud.data.warehouse import default_warehouse

    return path or default_warehouse()


@models_app.command("list")
def list_cmd() -> None:
    """List every model with its 口径 and output file."""
    from rich.console import Console
    from rich.table import Table

    from tagcloud.models.registry import MODELS

    t = Table("model", "名称", "口径 (definition)", "output")
    for m in MODELS:
        t.add_row(
            m.name, m.zh, m.definition, f"models/{'' if m.per_subscriber else 'detail/'}{m.name}.parquet"
        )
    Console().print(t)


@models_app.command("run")
def run_cmd(
    warehouse: Path | None = typer.Option(None, help=WAREHOUSE_HELP),
    only: str | None = typer.Option(None, help="comma-separated model names (their dependencies run too)"),
    rules: Path | None = typer.Option(None, help="URL/app rule library YAML (default: the bundled one)"),
    campaign_ledger: Path | None = typer.Option(
        None, help="SQLite campaign ledger: enables contact_response"
    ),
) -> None:
    """Run the models over the warehouse; write WAREHOUSE/models/<name>.parquet (msisdn + outputs)."""
    from rich.console import Console

    from tagcloud.data.warehouse import Warehouse
    from tagcloud.models.registry import run_models
    from tagcloud.models.response import attach_ledger

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    params = (
        {"internet_usage": {"rules": str(rules)}, "internet_interest": {"rules": str(rules)}}
        if rules
        else None
    )
    wh = _warehouse(warehouse)
    con = Warehouse(wh).connect()
    try:
        if campaign_ledger:
            attach_ledger(con, campaign_ledger)
        records = run_models(wh, names, params, con=con)
    except (KeyError, FileNotFoundError, ValueError) as e:
        raise typer.BadParameter(str(e.args[0])) from None
    console = Console()
    for r in records:
        colour = {"ok": "green", "skipped": "yellow"}.get(r.status, "red")
        console.print(f"[{colour}]{r.status:7}[/] {r.name:20} {r.rows:>9,} rows {r.seconds:6.1f} s  {r.note}")


@models_app.command("evaluate")
def evaluate_cmd(
    truth: Path = typer.Option(..., help="the simulator's ground_truth folder (OUT/ground_truth)"),
    warehouse: Path | None = typer.Option(None, help=WAREHOUSE_HELP),
    report: Path | None = typer.Option(None, help="also write the figures as a Markdown table here"),
    test_truth: Path | None = typer.Option(
        None,
        help="the test province's ground_truth (simulate --profile test): printed beside the dev figures",
    ),
    test_warehouse: Path | None = typer.Option(None, help="the test province's warehouse (models run on it)"),
) -> None:
    """Print every model's quality against the ground truth; write WAREHOUSE/models/evaluation.json.

    With --test-truth and --test-warehouse, the dev province's figures (what parameters were tuned
    on) and the test province's side by side; targets are judged on the test column."""
    from rich.console import Console
    from rich.table import Table

    from tagcloud.models.evaluate import (
        evaluate,
        pair_metrics,
        render_markdown,
        render_side_by_side,
        write_json,
    )

    if (test_truth is None) != (test_warehouse is None):
        raise typer.BadParameter("--test-truth and --test-warehouse go together")
    wh = _warehouse(warehouse)
    try:
        metrics = evaluate(wh, truth)
        test = evaluate(test_warehouse, test_truth) if test_truth and test_warehouse else None
    except FileNotFoundError as e:
        raise typer.BadParameter(str(e)) from None
    write_json(metrics, wh / "models" / "evaluation.json")
    if test is None:
        t = Table("model", "metric", "value", "target", "met", "n")
        for m in metrics:
            met = {True: "[green]yes", False: "[red]no", None: ""}[m.passed]
            t.add_row(m.model, m.metric, f"{m.value:.3f}", m.target, met, f"{m.n:,}")
        Console().print(t)
        markdown = render_markdown(metrics)
    else:
        assert test_warehouse is not None
        write_json(test, test_warehouse / "models" / "evaluation.json")
        t = Table("model", "metric", "dev", "test", "target", "met (test)", "n (test)")
        for (model, metric), d, x in pair_metrics(metrics, test):
            met = {True: "[green]yes", False: "[red]no", None: ""}[x.passed] if x else ""
            t.add_row(
                model, metric, f"{d.value:.3f}" if d else "", f"{x.value:.3f}" if x else "",
                next(m.target for m in (x, d) if m is not None), met, f"{x.n:,}" if x else "",
            )  # fmt: skip
        Console().print(t)
        markdown = render_side_by_side(metrics, test)
    if report:
        report.write_text(markdown, encoding="utf-8")
        typer.echo(f"wrote {report}")


@models_app.command("train")
def train_cmd(
    attributes: Path = typer.Argument(..., help="attribute table (.parquet or .csv) with an msisdn column"),
    label: str = typer.Option(
        ...,
        help="label column (in the attribute table or the label file): 0/1, yes/no, Y/N, true/false, 是/否 or churn/active",
    ),
    name: str = typer.Option(..., help="model name: scores go to WAREHOUSE/models/<name>.parquet"),
    labels: Path | None = typer.Option(None, help="separate label file (msisdn + label column)"),
    label_tag: bool = typer.Option(
        False, help="take LABEL from the built tag wide table (WAREHOUSE/wide/current)"
    ),
    warehouse: Path | None = typer.Option(None, help=WAREHOUSE_HELP),
    folds: int = typer.Option(5, help="cross-validation folds"),
    later: Path | None = typer.Option(
        None,
        "--out-of-time",
        help="a LATER period's attribute table (same columns, with LABEL or joined from --later-labels): "
        "the model trained on ATTRIBUTES is scored on it and its AUC and top-decile lift printed",
    ),
    later_labels: Path | None = typer.Option(None, help="label file for --out-of-time (msisdn + LABEL)"),
    calibration: str = typer.Option(
        "isotonic",
        help="isotonic, platt or none: scores written as calibrated probabilities (Brier/ECE printed)",
    ),
) -> None:
    """Train a gradient-boosting propensity model; print CV AUC and top-decile lift; write scores.

    With --out-of-time, also score a later period (e.g. trained on August's churners, judged on
    September's) and print its AUC and top-decile lift."""
    from tagcloud.models.propensity import (
        PropensityError,
        join_label,
        out_of_time,
        read_table,
        tag_labels,
        train,
        write_drivers,
        write_model_output,
    )

    try:
        table = read_table(attributes)
        if label_tag:
            table = join_label(table, tag_labels(_warehouse(warehouse), label), label)
        elif labels:
            table = join_label(table, read_table(labels), label)
        result = train(
            table, label, name=name, folds=folds, calibration=None if calibration == "none" else calibration,
            drivers=10,
        )  # fmt: skip
        oot = None
        if later is not None:
            later_t = read_table(later)
            if later_labels:
                later_t = join_label(later_t, read_table(later_labels), label)
            oot = out_of_time(result, later_t, label)
        elif later_labels is not None:
            raise PropensityError("--later-labels needs --out-of-time")
    except PropensityError as e:
        raise typer.BadParameter(str(e)) from None
    typer.echo(result.summary())
    if oot is not None:
        typer.echo(f"{name} {oot.summary()} ({later})")
    typer.echo(f"wrote {write_model_output(result.scores, _warehouse(warehouse), name)}")
    typer.echo(f"wrote {write_drivers(result, _warehouse(warehouse))}")


@models_app.command("uplift")
def uplift_cmd(
    attributes: Path = typer.Argument(..., help="attribute table (.parquet or .csv) with an msisdn column"),
    campaign: Path = typer.Option(
        ...,
        help="a past campaign's members (msisdn, treatment, outcome), e.g. campaign report --outcomes",
    ),
    offer: str = typer.Option(..., help="the offer: scores go to WAREHOUSE/models/uplift_<offer>.parquet"),
    treatment: str = typer.Option(
        "treated", help="column: contacted (action) = yes, held out (control) = no"
    ),
    outcome: str = typer.Option("took", help="column: took the offer in the response window"),
    learner: str = typer.Option("two_model", help="two_model or class_transformation"),
    warehouse: Path | None = typer.Option(None, help=WAREHOUSE_HELP),
    folds: int = typer.Option(5, help="cross-validation folds"),
    score_all: bool = typer.Option(
        True, help="score every row of ATTRIBUTES (the next audience), not only the campaign's members"
    ),
) -> None:
    """Train an uplift model from a past campaign's action and control groups; print the CV Qini and
    uplift in the top 20%; write uplift_<offer> scores (who buys BECAUSE they are contacted)."""
    from tagcloud.models.propensity import PropensityError, join_label, read_table, write_model_output
    from tagcloud.models.uplift import score_uplift, train_uplift

    name = f"uplift_{offer}"
    try:
        attrs = read_table(attributes)
        members = read_table(campaign)
        for col in (treatment, outcome):
            if col not in members.column_names:
                raise PropensityError(
                    f"the campaign file has no column {col!r} (columns: {members.column_names})"
                )
        table = join_label(attrs, members.select(["msisdn", treatment]), treatment)
        table = join_label(table, members.select(["msisdn", outcome]), outcome)
        result = train_uplift(table, treatment, outcome, name=name, learner=learner, folds=folds)
        scores = result.scores
        if score_all:
            import pyarrow as pa

            from tagcloud.models.propensity import deciles

            u = score_uplift(result, attrs)
            scores = pa.table(
                {
                    "msisdn": attrs.column("msisdn"),
                    f"{name}_score": pa.array(u, pa.float64()),
                    f"{name}_decile": pa.array(deciles(u), pa.int8()),
                }
            )
    except PropensityError as e:
        raise typer.BadParameter(str(e)) from None
    typer.echo(result.summary())
    typer.echo(f"wrote {write_model_output(scores, _warehouse(warehouse), name)}")


@models_app.command("ahp")
def ahp_cmd(
    matrix: Path = typer.Argument(..., help="CSV: a header of criterion names, then the square matrix"),
    max_cr: float = typer.Option(0.10, help="refuse matrices whose consistency ratio exceeds this"),
) -> None:
    """Weights and consistency ratio of a pairwise-comparison matrix (Saaty's AHP)."""
    import csv
    from fractions import Fraction

    from tagcloud.models.ahp import AHPError, priorities

    with matrix.open(encoding="utf-8") as f:
        rows = list(csv.reader(f))
    try:
        names = rows[0]
        values = [[float(Fraction(v.strip())) for v in r] for r in rows[1:] if r]
        p = priorities(values, names, max_cr=max_cr)
    except (AHPError, ValueError, IndexError) as e:
        raise typer.BadParameter(f"{matrix}: {e}") from None
    for n, w in p.as_dict().items():
        typer.echo(f"{n:20} {w:.4f}")
    typer.echo(f"λmax = {p.lambda_max:.4f}  CI = {p.consistency_index:.4f}  CR = {p.consistency_ratio:.4f}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
