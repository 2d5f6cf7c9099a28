"""Where the pages find the data the other modules build: the warehouse directory (settings) and
the current wide table's ``meta.json`` written by ``tagcloud build``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def warehouse_dir() -> Path:
    """The warehouse the platform reads (``TAGCLOUD_WAREHOUSE``, default ``var/demo/warehouse``)."""
    from django.conf import settings

    return Path(settings.WAREHOUSE_DIR)


@dataclass(frozen=True)
class BuildStatus:
    """The current tag build as the dashboard shows it."""

    available: bool
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    age_hours: float | None = None  # how long ago the wide table was written (freshness)

    @property
    def stale(self) -> bool:
        # Tags are built daily; more than two days old means a missed run.
        return self.age_hours is not None and self.age_hours > 48


def build_status(root: Path | None = None) -> BuildStatus:
    """Read ``wide/current/meta.json`` under the warehouse; ``available=False`` when not built."""
    base = (root or warehouse_dir()) / "wide" / "current"
    meta_path = base / "meta.json"
    if not meta_path.exists():
        return BuildStatus(False, base)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return BuildStatus(False, base, {"error": f"{meta_path}: {e}"})
    wide = base / "wide.parquet"
    written = (wide if wide.exists() else meta_path).stat().st_mtime
    return BuildStatus(True, base, meta if isinstance(meta, dict) else {}, (time.time() - written) / 3600)
