"""Commands about the data model and its documents."""

from __future__ import annotations

from pathlib import Path

import typer

docs_app = typer.Typer(help="Generate documents from the definitions in the code.", no_args_is_help=True)


@docs_app.command("data-model")
def data_model(out: Path = typer.Option(Path("docs/data-model.md"), help="where to write")) -> None:
    """Write the canonical operator model (tables, columns, code tables) as Markdown."""
    from tagcloud.data.docs import render_data_model

    out.write_text(render_data_model(), encoding="utf-8")
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(docs_app, name="docs")
