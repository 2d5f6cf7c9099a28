"""Commands of the job queue: ``tagcloud worker`` runs jobs and schedules; ``tagcloud jobs …``
lists, retries and cancels them (docs/jobs.md)."""

from __future__ import annotations

import typer

jobs_app = typer.Typer(help="Background jobs and schedules (docs/jobs.md).", no_args_is_help=True)


def worker(threads: int = typer.Option(2, help="jobs run at once in this worker")) -> None:
    """Run background jobs (campaign passes, the daily chain, every registered schedule) from the
    queue (TAGCLOUD_JOBS_QUEUE: SQLite by default, redis://… at scale) until Ctrl-C / SIGTERM.
    Start as many as you like, on as many machines: a job runs on one of them, once."""
    import logging

    from tagcloud.web import setup_django

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    setup_django()  # job functions use the platform's settings and models
    from tagcloud.jobs.queue import queue_url
    from tagcloud.jobs.store import default_url
    from tagcloud.jobs.worker import run_worker

    typer.echo(f"worker: queue {queue_url()}, job records {default_url()}, {threads} thread(s)")
    run_worker(threads)


@jobs_app.command("list")
def list_jobs(limit: int = typer.Option(30, help="newest first")) -> None:
    """The newest jobs with state, progress, attempts and outcome."""
    from rich.console import Console
    from rich.table import Table

    from tagcloud.jobs.store import JobStore

    t = Table("job", "title", "state", "progress", "attempts", "created", "outcome", title="Jobs")
    with JobStore() as store:
        for j in store.jobs(limit=limit):
            t.add_row(
                j.job_id,
                j.title,
                j.state.value,
                f"{j.done}/{j.total}" if j.total else "",
                f"{j.attempts}/{j.max_attempts}",
                f"{j.created_at:%Y-%m-%d %H:%M:%S}",
                (j.error or j.summary or "")[:80],
            )
    Console().print(t)


@jobs_app.command("retry")
def retry(job_id: str) -> None:
    """Put a failed or cancelled job back on the queue (one more attempt)."""
    from tagcloud.jobs.store import JobBusy, JobStore
    from tagcloud.jobs.worker import enqueue

    with JobStore() as store:
        try:
            store.retry(job_id)
        except (KeyError, ValueError, JobBusy) as e:
            raise typer.BadParameter(str(e).strip('"')) from None
        enqueue(job_id)
        store.mark_enqueued(job_id)
    typer.echo(f"{job_id} queued again")


@jobs_app.command("cancel")
def cancel(job_id: str) -> None:
    """Cancel a queued job, or ask a running one to stop."""
    from tagcloud.jobs.store import JobStore

    with JobStore() as store:
        try:
            j = store.cancel(job_id)
        except (KeyError, ValueError) as e:
            raise typer.BadParameter(str(e).strip('"')) from None
    typer.echo(f"{job_id}: {j.state.value}{' (stop asked)' if j.open else ''}")


def start_worker_process(threads: int = 2) -> object:
    """``tagcloud worker`` as a child process (``serve --with-worker``, the demo), same environment."""
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-c", "from tagcloud.cli import app; app()", "worker", "--threads", str(threads)]
    )


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.add_typer(jobs_app, name="jobs")
