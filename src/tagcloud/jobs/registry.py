"""Where systems declare what the worker can run: job kinds (a function and its title) and
schedules (a kind fired at cron times). A system puts its declarations in a module of its own
and adds that module to ``PLUGINS`` (one line) — or, for an install, to ``TAGCLOUD_JOB_MODULES``.

    from tagcloud.jobs.registry import job_kind, schedule

    @job_kind("alerts.evaluate", title="Evaluate KPI alerts")
    def evaluate(ctx, day: str | None = None) -> str:
        ...                      # ctx.log(...), ctx.progress(done, total), ctx.check_cancelled()
        return "12 alerts raised"  # the job's summary

    schedule("alerts.daily", "alerts.evaluate", cron="30 6 * * *")   # 06:30 every day

A job function gets keyword arguments that are JSON values and must be safe to run again after a
crash (the worker re-runs a job whose worker was killed)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Modules that declare job kinds and schedules; the worker imports each once.
PLUGINS: list[str] = [
    "tagcloud.jobs.daily",
    "tagcloud.web.campaigns.jobs",
]


@dataclass(frozen=True)
class JobKind:
    name: str
    fn: Callable[..., Any]
    title: str
    max_attempts: int = 3


@dataclass(frozen=True)
class Schedule:
    """A kind fired when ``cron`` ("minute hour day month weekday", as crontab) matches the minute;
    ``args`` is a dict, or a function of the firing time giving one; ``lock`` keeps one open."""

    name: str
    kind: str
    cron: str
    args: dict[str, Any] | Callable[[Any], dict[str, Any]] = field(default_factory=dict)
    lock: bool = True

    def due(self, when: Any) -> bool:
        from huey import crontab

        parts = self.cron.split()
        if len(parts) != 5:
            raise ValueError(f"schedule {self.name}: cron {self.cron!r} needs 5 fields (m h dom mon dow)")
        minute, hour, day, month, dow = parts
        return bool(crontab(minute, hour, day, month, dow, strict=True)(when))


KINDS: dict[str, JobKind] = {}
SCHEDULES: dict[str, Schedule] = {}


def job_kind(
    name: str, title: str = "", max_attempts: int = 3
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: declare ``fn(ctx, **args)`` as the job kind ``name``."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        KINDS[name] = JobKind(name, fn, title or name, max_attempts)
        return fn

    return wrap


def schedule(
    name: str,
    kind: str,
    cron: str,
    args: dict[str, Any] | Callable[[Any], dict[str, Any]] | None = None,
    lock: bool = True,
) -> Schedule:
    """Fire ``kind`` at ``cron`` times (checked by the worker every minute); declared once per name."""
    s = Schedule(name, kind, cron, args if args is not None else {}, lock)
    s.due(__import__("datetime").datetime(2026, 1, 1))  # a malformed cron fails here, not at 3 a.m.
    SCHEDULES[name] = s
    return s


_loaded: set[str] = set()


def load_plugins(extra: list[str] | None = None) -> list[str]:
    """Import every plugin module (``PLUGINS``, ``TAGCLOUD_JOB_MODULES``, ``extra``); returns them."""
    names = [
        *PLUGINS,
        *[m for m in os.environ.get("TAGCLOUD_JOB_MODULES", "").split(",") if m],
        *(extra or []),
    ]
    for m in names:
        if m not in _loaded:
            importlib.import_module(m)
            _loaded.add(m)
    return names
