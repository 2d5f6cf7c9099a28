"""The daily chain: when a drop lands, ingest → models → build → index, each step the same command
a data engineer types, each done once per drop (a rerun after a crash or a retry skips the steps
already done for that drop and redoes the rest; ingest itself skips files it has loaded).

A drop "lands" when its folder under ``TAGCLOUD_DROP_DIR`` holds ``_READY`` (the operator's
transfer writes it last) or a simulator ``manifest.json``; ``daily.watch`` looks every 5 minutes."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

from tagcloud.jobs.registry import job_kind, schedule

STEPS = ("ingest", "models", "build", "index")
READY_MARKERS = ("_READY", "manifest.json")


def _command(args: list[str]) -> str:
    """Run one ``tagcloud`` command in this process; returns its last output lines."""
    import typer

    from tagcloud.cli import app

    out = io.StringIO()
    cmd = typer.main.get_command(app)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            cmd.main(args=args, prog_name="tagcloud", standalone_mode=False)
        except SystemExit as e:
            if e.code not in (0, None):
                raise RuntimeError(
                    f"tagcloud {' '.join(args)} exited {e.code}: {out.getvalue()[-1500:]}"
                ) from None
    lines = [x.strip() for x in out.getvalue().splitlines() if x.strip()]
    return " | ".join(lines[-2:])[:500] or "ok"


def step_commands(drop: Path, warehouse: Path) -> dict[str, list[str]]:
    wh = str(warehouse)
    return {
        "ingest": ["ingest", str(drop), "--warehouse", wh],
        "models": ["models", "run", "--warehouse", wh],
        "build": ["build", "--warehouse", wh],
        "index": ["audience", "index", "--warehouse", wh],
    }


@job_kind("daily.chain", title="Daily chain: ingest → models → build → index", max_attempts=3)
def daily_chain(ctx: Any, drop: str, warehouse: str, steps: list[str] | None = None) -> str:
    """Run the chain for one drop folder into ``warehouse``; ``steps`` narrows it (default all)."""
    src = Path(drop)
    if not src.is_dir():
        raise FileNotFoundError(f"drop folder {src} does not exist")
    todo = [s for s in STEPS if steps is None or s in steps]
    unknown = sorted(set(steps or []) - set(STEPS))
    if unknown:
        raise ValueError(f"unknown steps {unknown}; the chain is {', '.join(STEPS)}")
    commands = step_commands(src, Path(warehouse))
    chain = f"daily:{src.resolve()}"
    for i, name in enumerate(todo):
        ctx.progress(i, len(todo))
        ctx.step(chain, name, lambda name=name: _command(commands[name]))
    ctx.progress(len(todo), len(todo))
    return f"{src.name}: {', '.join(todo)} done"


def landed(drop_dir: Path) -> list[Path]:
    """Drop folders that are complete (hold a ready marker), oldest name first."""
    if not drop_dir.is_dir():
        return []
    return sorted(
        p for p in drop_dir.iterdir() if p.is_dir() and any((p / m).exists() for m in READY_MARKERS)
    )


@job_kind("daily.watch", title="Look for landed drops", max_attempts=1)
def watch(ctx: Any, drop_dir: str = "", warehouse: str = "") -> str:
    """Submit ``daily.chain`` once per landed drop (its dedupe key is the drop's path)."""
    from tagcloud.jobs.worker import submit

    root = Path(drop_dir or os.environ.get("TAGCLOUD_DROP_DIR", ""))
    wh = warehouse or os.environ.get("TAGCLOUD_WAREHOUSE", "var/demo/warehouse")
    from tagcloud.jobs.store import JobBusy

    new = []
    for d in landed(root):
        if _submitted(d):
            continue
        try:
            submit(
                "daily.chain",
                {"drop": str(d.resolve()), "warehouse": str(Path(wh).resolve())},
                title=f"Daily chain {d.name}",
                dedupe_key=f"daily.chain:{d.resolve()}",
                lock_key="daily.chain",  # one chain at a time: they write the same warehouse
            )
        except JobBusy:
            ctx.log(f"{d.name}: another chain is running; the next look submits it")
            break
        new.append(d.name)
    return f"{len(new)} new drop(s): {', '.join(new)}" if new else "no new drop"


def _submitted(d: Path) -> bool:
    from tagcloud.jobs.store import JobStore

    with JobStore() as store:
        return bool(store.db.q("SELECT 1 FROM jobs WHERE dedupe_key=?", (f"daily.chain:{d.resolve()}",)))


if os.environ.get("TAGCLOUD_DROP_DIR"):
    schedule("daily.watch", "daily.watch", cron="*/5 * * * *")
