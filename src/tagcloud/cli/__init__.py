"""The ``tagcloud`` command. Each area's commands live in a module of this package; this file
only assembles them, so ``tagcloud --help`` stays fast (heavy imports happen inside commands)."""

from __future__ import annotations

import typer

from tagcloud.cli import alerts as alerts_cli
from tagcloud.cli import audience as audience_cli
from tagcloud.cli import campaign as campaign_cli
from tagcloud.cli import data as data_cli
from tagcloud.cli import demo as demo_cli
from tagcloud.cli import ingest as ingest_cli
from tagcloud.cli import jobs as jobs_cli
from tagcloud.cli import knowledge as knowledge_cli
from tagcloud.cli import markets as markets_cli
from tagcloud.cli import matching as matching_cli
from tagcloud.cli import models as models_cli
from tagcloud.cli import realtime as realtime_cli
from tagcloud.cli import security as security_cli
from tagcloud.cli import sim as sim_cli
from tagcloud.cli import tags as tags_cli
from tagcloud.cli import touchpoint as touchpoint_cli
from tagcloud.cli import web as web_cli

app = typer.Typer(
    name="tagcloud",
    help="Tagcloud: customer tags and precision marketing for mobile operators.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _wide_tables_when_piped() -> None:
    """Rich falls back to 80 columns when output is piped (logs, CI); reports need more to stay readable."""
    import os
    import sys

    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        os.environ["COLUMNS"] = "160"


data_cli.register(app)
alerts_cli.register(app)
demo_cli.register(app)
audience_cli.register(app)
campaign_cli.register(app)
ingest_cli.register(app)
markets_cli.register(app)
models_cli.register(app)
realtime_cli.register(app)
jobs_cli.register(app)
security_cli.register(app)
sim_cli.register(app)
web_cli.register(app)
tags_cli.register(app)
knowledge_cli.register(app)
matching_cli.register(app)
touchpoint_cli.register(app)


def main() -> None:
    app()
