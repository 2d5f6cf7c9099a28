"""``tagcloud build`` and ``tagcloud tags …``: build the wide table; browse, check and export the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

tags_app = typer.Typer(
    help="The tag catalogue: list, show, validate, export, status, history, runs.", no_args_is_help=True
)

WAREHOUSE = typer.Option(
    None, "--warehouse", "-w", help="warehouse folder (default $TAGCLOUD_WAREHOUSE or var/warehouse)"
)
DEFINITIONS = typer.Option(None, "--definitions", help="definitions folder (default: the package's)")


def _wh(warehouse: Path | None) -> Path:
    from tagcloud.data.warehouse import default_warehouse

    return warehouse or default_warehouse()


def _run(fn: Any) -> Any:
    """Run a library call; bad input becomes one clear message and exit code 2, not a traceback."""
    from tagcloud.tags.build import BuildError
    from tagcloud.tags.catalogue import CatalogueError

    try:
        return fn()
    except (CatalogueError, BuildError, ValueError, KeyError, FileNotFoundError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        typer.secho(f"error: {msg}", err=True, fg="red")
        raise typer.Exit(2) from None


def _catalogue(definitions: Path | None) -> Any:
    from tagcloud.tags.catalogue import load_catalogue

    return _run(lambda: load_catalogue(definitions))


def _effective(warehouse: Path | None, definitions: Path | None) -> Any:
    from tagcloud.tags.governance import load_effective_catalogue

    return _run(lambda: load_effective_catalogue(_wh(warehouse), definitions))


def build_cmd(
    warehouse: Path | None = WAREHOUSE,
    engine: str = typer.Option("duckdb", "--engine", "-e", help="duckdb or spark"),
    period: str | None = typer.Option(None, "--period", help="calendar month YYYY-MM"),
    day: str | None = typer.Option(None, "--day", help="YYYY-MM-DD: the 30 days ending that day"),
    definitions: Path | None = DEFINITIONS,
    force: bool = typer.Option(False, "--force", help="recompute every source, even unchanged ones"),
    skip_missing_models: bool = typer.Option(
        False, "--skip-missing-models", help="build without the tags whose model output is missing"
    ),
    with_matching: bool = typer.Option(
        False, "--with-matching", help="then refresh the matching library and republish with its match_* tags"
    ),
) -> None:
    """Compute every attribute and tag into the subscriber wide table (WAREHOUSE/wide/current) and
    print tag coverage by category. Default period: the month of the latest data. Uses the
    definitions with the warehouse's approved versions (WAREHOUSE/tags/overrides) over them."""
    from rich.console import Console
    from rich.table import Table

    from tagcloud.tags.build import build

    cat = _effective(warehouse, definitions)
    r = _run(
        lambda: build(
            _wh(warehouse),
            engine=engine,
            period=period,
            day=day,
            catalogue=cat,
            force=force,
            skip_missing_models=skip_missing_models,
        )
    )
    t = Table(title=f"tag coverage by category · {r.window.label} · {r.rows:,} subscribers")
    for col in ("aspect", "category", "tags", "mean coverage"):
        t.add_column(col, justify="right" if col in ("tags", "mean coverage") else "left")
    for aspect, cid, n, cov in r.coverage_by_category(cat):
        t.add_row(aspect, f"{cid} {cat.categories[cid].name_zh}", str(n), f"{cov:.1%}")
    console = Console()
    console.print(t)
    flagged = [c for c in r.columns if c.flagged]
    console.print(
        f"build {r.build_id}: {len(r.columns)} columns, {r.rows:,} rows, {r.seconds:.1f} s; "
        f"sources built {len(r.sources_built)}, reused {len(r.sources_reused)}; "
        f"{r.rows_scanned:,} rows scanned; {len(flagged)} large coverage drifts"
        + (f" ({', '.join(c.name for c in flagged[:8])})" if flagged else "")
    )
    if r.skipped_tags:
        console.print(f"skipped (missing model output): {', '.join(r.skipped_tags)}")
    if with_matching:
        from tagcloud.cli.matching import build_cmd as matching_build

        matching_build(warehouse=_wh(warehouse), top_k=5, publish=True)


@tags_app.command("list")
def list_cmd(
    category: str | None = typer.Option(None, "--category", "-c", help="only this category"),
    aspect: str | None = typer.Option(
        None, "--aspect", "-a", help="basic, social, interest or communication"
    ),
    attributes: bool = typer.Option(False, "--attributes", help="list attributes instead of tags"),
    definitions: Path | None = DEFINITIONS,
) -> None:
    """List tags (or attributes) with their category and Chinese name."""
    cat = _catalogue(definitions)
    items = cat.attributes.values() if attributes else cat.tags.values()
    n = 0
    for x in items:
        c = cat.categories[x.category]
        if (category and x.category != category) or (aspect and c.aspect != aspect):
            continue
        kind = x.kind.value
        typer.echo(f"{x.id:<40} {kind:<7} {c.aspect}/{x.category:<16} {x.name_zh}")
        n += 1
    typer.echo(f"{n} {'attributes' if attributes else 'tags'}")


@tags_app.command("show")
def show_cmd(
    name: str = typer.Argument(..., help="tag or attribute id"),
    warehouse: Path | None = WAREHOUSE,
    definitions: Path | None = DEFINITIONS,
) -> None:
    """Print a tag's 口径 (definition), rule, lineage and coverage in recent builds."""
    from tagcloud.tags.docs import show_text

    cat = _catalogue(definitions)
    typer.echo(_run(lambda: show_text(cat, name, _wh(warehouse))))


@tags_app.command("validate")
def validate_cmd(definitions: Path | None = DEFINITIONS) -> None:
    """Check every definition (SQL, names, types, cycles); exit 2 with the first problem."""
    cat = _catalogue(definitions)
    typer.echo(
        f"ok: {len(cat.sources)} sources, {len(cat.attributes)} attributes, {len(cat.tags)} tags, "
        f"{len(cat.categories)} categories, {len(cat.scenarios)} scenarios, {len(cat.groups)} groups"
    )


@tags_app.command("export")
def export_cmd(
    out: Path = typer.Argument(..., help="folder to write the definitions to (one YAML file per section)"),
    definitions: Path | None = DEFINITIONS,
    warehouse: Path | None = typer.Option(
        None, "--warehouse", "-w", help="include this warehouse's approved versions (tags/overrides)"
    ),
) -> None:
    """Export the catalogue (families expanded) as YAML files that load back unchanged; with
    --warehouse, the effective catalogue (approved versions folded in, to commit into the package)."""
    from tagcloud.tags.catalogue import export_catalogue

    cat = _effective(warehouse, definitions) if warehouse else _catalogue(definitions)
    files = _run(lambda: export_catalogue(cat, out))
    typer.echo(f"wrote {len(files)} files to {out}")


@tags_app.command("status")
def status_cmd(
    name: str = typer.Argument(..., help="tag id"),
    status: str = typer.Argument(..., help="new status: draft, review, online or offline"),
    comment: str = typer.Option(..., "--comment", "-m", help="why (kept in the version history)"),
    by: str = typer.Option("", "--by", help="who decides (default: $USER)"),
    warehouse: Path | None = WAREHOUSE,
    definitions: Path | None = DEFINITIONS,
) -> None:
    """Move a tag along its life cycle (draft → review → online → offline) as a new version, kept in
    WAREHOUSE/tags/overrides for the next build; an illegal move exits 2 naming the allowed ones."""
    import getpass

    from tagcloud.tags.governance import TagChange, change_tag

    change = TagChange(status=status, comment=comment, by=by or getpass.getuser())
    t = _run(lambda: change_tag(_wh(warehouse), name, change, definitions=definitions))
    typer.echo(f"{t.id}: v{t.version} {t.status.value} ({t.history[-1].change})")


@tags_app.command("history")
def history_cmd(
    name: str = typer.Argument(..., help="tag id"),
    warehouse: Path | None = WAREHOUSE,
    definitions: Path | None = DEFINITIONS,
) -> None:
    """A tag's versions (package definitions and the warehouse's approved changes), oldest first."""
    from tagcloud.tags.governance import history

    cat = _effective(warehouse, definitions)
    t = _run(lambda: cat.tags[name] if name in cat.tags else history(cat, name))
    for v in t.history:
        typer.echo(f"v{v.version:<3} {v.date:<10} {v.by:<16} {v.change}")
    typer.echo(f"{t.id}: {t.status.value}, version {t.version}")


@tags_app.command("runs")
def runs_cmd(warehouse: Path | None = WAREHOUSE, limit: int = typer.Option(10, "--limit", "-n")) -> None:
    """Recent builds: period, engine, rows, seconds, sources built and reused."""
    from tagcloud.tags.runs import RunLog

    log = RunLog(_wh(warehouse) / "tags" / "runs.sqlite")
    for b in log.builds(limit):
        typer.echo(
            f"{b['build_id']}  {b['period']:<10} {b['engine']:<6} {b['rows']:>10,} rows {b['seconds']:>7.1f} s  "
            f"built {len(b['sources_built'].split(',')) if b['sources_built'] else 0} "
            f"reused {len(b['sources_reused'].split(',')) if b['sources_reused'] else 0}"
        )


@tags_app.command("docs")
def docs_cmd(out: Path = typer.Option(Path("docs/tag-catalogue.md"), "--out", "-o")) -> None:
    """Regenerate the tag catalogue page (docs/tag-catalogue.md) from the definitions."""
    from tagcloud.tags.docs import write_catalogue_doc

    path = _run(lambda: write_catalogue_doc(out))
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("build")(build_cmd)
    app.add_typer(tags_app, name="tags")
