"""What a tag build produces and reports: the period it covers (``Window``), each column's run
and the build's result. Kept apart from ``build`` so the run log (``runs``) reads results without
importing the builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tagcloud.tags.catalogue import Catalogue

DRIFT_FLAG = 0.05  # coverage moving by this much (absolute share) …
DRIFT_RELATIVE = 0.25  # … and by this much relative to before is flagged as a large drift


@dataclass(frozen=True)
class Window:
    """The period a build covers."""

    label: str  # "2026-10" (month) or "2026-10-07" (rolling 30 days ending that day)
    start: date
    end: date  # exclusive
    bill_months: tuple[date, ...]

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass
class ColumnRun:
    name: str
    kind: str  # attribute / tag
    source: str  # the source (or layer) that computed it
    rows: int
    seconds: float
    coverage: float
    previous: float | None = None

    @property
    def drift(self) -> float | None:
        return None if self.previous is None else self.coverage - self.previous

    @property
    def flagged(self) -> bool:
        d = self.drift
        if d is None or self.previous is None:
            return False
        base = max(self.previous, 1e-9)
        return abs(d) >= DRIFT_FLAG and abs(d) / base >= DRIFT_RELATIVE


@dataclass
class BuildResult:
    build_id: str
    engine: str
    window: Window
    path: Path
    rows: int
    seconds: float
    rows_scanned: int
    sources_built: list[str]
    sources_reused: list[str]
    columns: list[ColumnRun] = field(default_factory=list)
    skipped_tags: list[str] = field(default_factory=list)
    translate_seconds: float = 0.0  # URL/app translation of the window's xDR days that needed it
    slices: int = 1  # ranges of subscribers each recomputed source ran over

    def coverage_by_category(self, cat: Catalogue) -> list[tuple[str, str, int, float]]:
        """(aspect, category, tags, mean coverage of its tags) for every category with built tags."""
        acc: dict[str, list[float]] = {}
        for c in self.columns:
            if c.kind == "tag":
                acc.setdefault(cat.tags[c.name].category, []).append(c.coverage)
        out = []
        for cid, covs in sorted(acc.items(), key=lambda kv: (cat.categories[kv[0]].aspect, kv[0])):
            out.append((cat.categories[cid].aspect, cid, len(covs), sum(covs) / len(covs)))
        return out
