"""Progress bars and one-line summaries for long jobs (every long job uses these)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


@dataclass
class Job:
    """A running job: advance its bar, count what it produced, and summarise it at the end."""

    title: str
    rows: int = 0
    started: float = field(default_factory=time.perf_counter)
    _progress: Progress | None = None
    _task: TaskID | None = None

    def advance(self, steps: int = 1, rows: int = 0, note: str | None = None) -> None:
        self.rows += rows
        if self._progress is not None and self._task is not None:
            if note is not None:
                self._progress.update(self._task, description=f"{self.title} · {note}")
            self._progress.advance(self._task, steps)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def summary(self, unit: str = "rows") -> str:
        s = self.seconds
        rate = self.rows / s if s > 0 else 0.0
        return f"{self.title}: {self.rows:,} {unit} in {s:,.1f} s ({rate:,.0f} {unit}/s)"


@contextmanager
def job(title: str, total: int | None, unit: str = "rows", quiet: bool = False) -> Iterator[Job]:
    """Show a progress bar of ``total`` steps; print ``title: N rows in S s (R rows/s)`` at the end."""
    j = Job(title)
    if quiet:
        yield j
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        j._progress = progress
        j._task = progress.add_task(title, total=total)
        yield j
    console.print(j.summary(unit))
