"""The audience engine as the pages use it: one opened index per process (reopened when the
index's CURRENT build changes), narrowed per request to the user's region scope and unmask right.

Every audience query path of the web layer goes through :func:`engine_for`, so a county marketer's
counts, lists, profiles, groups and exports are always ANDed with their county."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagcloud.web.accounts.masking import may_unmask
from tagcloud.web.warehouse import warehouse_dir

if TYPE_CHECKING:
    from tagcloud.audience.query import AudienceEngine

_lock = threading.Lock()
_cache: dict[Path, tuple[str, Any]] = {}


class NoIndex(RuntimeError):
    """No audience index under the warehouse yet (the demo's build + index steps make one)."""


def base_engine(warehouse: Path | None = None) -> AudienceEngine:
    """The process-wide engine over the warehouse's current index (opened once per build)."""
    from tagcloud.audience.paths import index_root
    from tagcloud.audience.query import AudienceEngine

    wh = warehouse or warehouse_dir()
    pointer = index_root(wh) / "CURRENT"
    try:
        current = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise NoIndex(
            f"no audience index under {wh}: run `tagcloud build` then `tagcloud audience index`"
        ) from None
    with _lock:
        hit = _cache.get(wh)
        if hit is None or hit[0] != current:
            _cache[wh] = (current, AudienceEngine.open(wh))
        return _cache[wh][1]


def engine_for(request: Any, unmask: bool = False, warehouse: Path | None = None) -> AudienceEngine:
    """The engine for this request's user, with their region scope ANDed in. Numbers are masked
    unless ``unmask`` is asked for (the caller audits it) and the role may unmask; asking without
    the right, or having no region, raises PermissionDenied."""
    from django.core.exceptions import PermissionDenied

    from tagcloud.web.views.access import scope

    sc = scope(request)
    if sc.empty:
        raise PermissionDenied("this account has no region: ask an administrator to assign one")
    if unmask and not may_unmask(request.user):
        raise PermissionDenied("role lacks permission unmask_msisdn")
    return dataclasses.replace(base_engine(warehouse), scope=sc.as_condition(), can_unmask=unmask)


def catalogue_columns(warehouse: Path | None = None) -> dict[str, dict[str, Any]]:
    """The index's columns (kind, category, labels, values, counts) — what a condition may name."""
    return base_engine(warehouse).index.columns


def forget_engine(warehouse: Path | None = None) -> None:
    """Drop the cached engine of a warehouse whose index was rebuilt under the same build id (a
    re-index that adds published knowledge tags), so the next request opens the new one."""
    wh = warehouse or warehouse_dir()
    with _lock:
        _cache.pop(wh, None)
