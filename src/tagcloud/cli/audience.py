"""``tagcloud audience …``: index the wide table, then count, list, profile, split and save audiences."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from tagcloud.audience.query import AudienceEngine

audience_app = typer.Typer(
    help="Audiences over the subscriber wide table: ad-hoc counts, lists, profiles, splits, groups.",
    no_args_is_help=True,
)

WAREHOUSE = typer.Option(
    None, "--warehouse", "-w", help="warehouse folder (default $TAGCLOUD_WAREHOUSE or var/warehouse)"
)
SCOPE = typer.Option(
    None, "--scope", help="a condition ANDed into every query, e.g. \"county_id = 'C01K02'\""
)
UNMASK = typer.Option(False, "--unmask", help="show whole numbers (only for callers allowed to see them)")


def _engine(warehouse: Path | None, scope: str | None = None, unmask: bool = False) -> AudienceEngine:
    from tagcloud.audience.query import AudienceEngine

    return AudienceEngine.open(warehouse, can_unmask=unmask, scope=scope)


def _run(fn: Any) -> Any:
    """Run a library call; bad input becomes one clear line and exit code 2, not a traceback."""
    try:
        return fn()
    except (ValueError, KeyError, FileNotFoundError, FileExistsError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        typer.secho(f"error: {msg}", err=True, fg="red")
        raise typer.Exit(2) from None


def _show(df: Any, fmt: str) -> None:
    import polars as pl

    if fmt == "csv":
        typer.echo(df.write_csv(), nl=False)
    elif fmt == "json":
        typer.echo(df.write_json())
    else:
        with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=160):
            typer.echo(df)


FORMAT = typer.Option("table", "--format", "-f", help="table, csv or json")


@audience_app.command("index")
def index_cmd(
    warehouse: Path | None = WAREHOUSE,
    shard_size: int = typer.Option(1 << 24, help="ids per shard (a multiple of 65,536)"),
) -> None:
    """Index WAREHOUSE/wide/current into WAREHOUSE/index/<build_id>/ and make it current."""
    from tagcloud.audience.indexer import build_index

    out = _run(lambda: build_index(warehouse, shard_size=shard_size))
    typer.echo(f"indexed into {out}")


@audience_app.command("count")
def count_cmd(
    condition: str,
    warehouse: Path | None = WAREHOUSE,
    scope: str | None = SCOPE,
    explain: bool = typer.Option(False, "--explain", help="also print the bitmap plan"),
) -> None:
    """Count the subscribers matching CONDITION (即席查询), e.g. "arpu >= 80 AND NOT tag_0003"."""
    import time

    eng = _run(lambda: _engine(warehouse, scope))
    t = time.perf_counter()
    n = _run(lambda: eng.count(condition))
    ms = (time.perf_counter() - t) * 1000
    if explain:
        typer.echo(eng.explain(condition))
    typer.echo(f"{n:,} subscribers ({ms:.1f} ms, build {eng.index.build_id})")


@audience_app.command("list")
def list_cmd(
    condition: str,
    offset: int = typer.Option(0, help="first member to show (paging)"),
    limit: int = typer.Option(20, help="members per page"),
    columns: list[str] = typer.Option([], "--column", "-c", help="attributes/tags to show"),
    warehouse: Path | None = WAREHOUSE,
    scope: str | None = SCOPE,
    unmask: bool = UNMASK,
    fmt: str = FORMAT,
) -> None:
    """One page of the members of CONDITION; numbers masked unless --unmask."""
    eng = _run(lambda: _engine(warehouse, scope, unmask))
    _show(_run(lambda: eng.list_members(condition, offset, limit, tuple(columns))), fmt)


@audience_app.command("sample")
def sample_cmd(
    condition: str,
    n: int = typer.Option(10, "-n", help="how many"),
    seed: int = typer.Option(0, help="the same seed draws the same sample"),
    columns: list[str] = typer.Option([], "--column", "-c", help="attributes/tags to show"),
    warehouse: Path | None = WAREHOUSE,
    scope: str | None = SCOPE,
    unmask: bool = UNMASK,
    fmt: str = FORMAT,
) -> None:
    """A reproducible random sample of the members of CONDITION."""
    eng = _run(lambda: _engine(warehouse, scope, unmask))
    _show(_run(lambda: eng.sample(condition, n, seed, tuple(columns))), fmt)


@audience_app.command("profile")
def profile_cmd(
    condition: str,
    columns: list[str] = typer.Option([], "--column", "-c", help="attributes/tags (default: all)"),
    warehouse: Path | None = WAREHOUSE,
    scope: str | None = SCOPE,
    fmt: str = FORMAT,
) -> None:
    """Profile the audience: share holding each tag/value, product penetration, sums and means."""
    eng = _run(lambda: _engine(warehouse, scope))
    _show(_run(lambda: eng.profile(condition, list(columns) or None)), fmt)


@audience_app.command("split")
def split_cmd(
    condition: str,
    by: str = typer.Option(..., "--by", help="a number (ARPU, DOU, MOU…) or an enum"),
    edges: str | None = typer.Option(None, help="tier edges, e.g. 50,100,200"),
    tiers: int | None = typer.Option(None, help="number of quantile tiers instead of edges"),
    warehouse: Path | None = WAREHOUSE,
    scope: str | None = SCOPE,
    fmt: str = FORMAT,
) -> None:
    """Split the audience into tiers of a number or the values of an enum (one sub-campaign each)."""
    eng = _run(lambda: _engine(warehouse, scope))
    edge_list = [float(x) for x in edges.split(",")] if edges else None
    _show(_run(lambda: eng.split(condition, by, edge_list, tiers)), fmt)


@audience_app.command("lookup")
def lookup_cmd(
    msisdn: str,
    warehouse: Path | None = WAREHOUSE,
    unmask: bool = UNMASK,
    all_columns: bool = typer.Option(False, "--all", help="also show tags the subscriber does not have"),
) -> None:
    """Reverse query (反向查询): every tag and attribute of one subscriber."""
    eng = _run(lambda: _engine(warehouse, None, unmask))
    row = _run(lambda: eng.lookup(msisdn))
    for k, v in row.items():
        if all_columns or (v is not None and v is not False):
            typer.echo(f"{k:24} {v}")


@audience_app.command("save")
def save_cmd(
    name: str,
    condition: str,
    warehouse: Path | None = WAREHOUSE,
    scope: str | None = SCOPE,
    overwrite: bool = typer.Option(False, help="replace a group of that name"),
) -> None:
    """Save the members of CONDITION as group NAME (目标号码群): bitmap, numbers, condition, build."""
    from tagcloud.audience.groups import save_group

    eng = _run(lambda: _engine(warehouse, scope))
    g = _run(lambda: save_group(eng, name, condition, overwrite))
    typer.echo(f"saved group {g.name}: {g.members:,} members (build {g.build_id})")


@audience_app.command("groups")
def groups_cmd(warehouse: Path | None = WAREHOUSE, fmt: str = FORMAT) -> None:
    """List saved groups."""
    from tagcloud.audience.groups import list_groups
    from tagcloud.audience.paths import warehouse_root

    _show(list_groups(warehouse_root(warehouse)), fmt)


@audience_app.command("combine")
def combine_cmd(
    name: str,
    op: str = typer.Argument(..., help="union, intersect or minus"),
    groups: list[str] = typer.Argument(..., help="saved groups, applied left to right"),
    warehouse: Path | None = WAREHOUSE,
    overwrite: bool = typer.Option(False, help="replace a group of that name"),
) -> None:
    """Save a set operation on saved groups as group NAME."""
    from tagcloud.audience.groups import combine

    eng = _run(lambda: _engine(warehouse))
    g = _run(lambda: combine(eng, name, op, list(groups), overwrite))
    typer.echo(f"saved group {g.name}: {g.members:,} members ({g.condition})")


@audience_app.command("control")
def control_cmd(
    campaign: str,
    condition: str,
    share: float = typer.Option(0.1, help="share held out in every stratum"),
    seed: int = typer.Option(0, help="the same seed holds out the same subscribers"),
    strata: list[str] = typer.Option(
        [], "--stratum", help="enums/numbers to stratify by (default county_id, arpu)"
    ),
    warehouse: Path | None = WAREHOUSE,
    scope: str | None = SCOPE,
    overwrite: bool = typer.Option(False, help="redraw this campaign's holdout"),
    fmt: str = FORMAT,
) -> None:
    """Draw a stratified holdout (对照组) for CAMPAIGN: saves <campaign>.action and <campaign>.control."""
    from tagcloud.audience.groups import control_group

    eng = _run(lambda: _engine(warehouse, scope))
    df = _run(lambda: control_group(eng, campaign, condition, share, seed, list(strata) or None, overwrite))
    _show(df, fmt)
    typer.echo(f"{campaign}: {int(df['action'].sum()):,} in action, {int(df['control'].sum()):,} held out")


def register(app: typer.Typer) -> None:
    app.add_typer(audience_app, name="audience")
