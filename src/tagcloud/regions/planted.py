"""Precision and recall of the default alert rules against the anomalies the simulator planted
(``sim/market.py`` ground truth). Reads only the KPI tables and the ground-truth file.

An anomaly is found when a default rule raised an alert on its KPI, place (and channel) on one of
its days; an alert is right when it matches a planted anomaly that way. Alerts are counted from
the first planted day on (the rules need a week of history before)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tagcloud.regions.alerts import Breach, RuleSpec, ThresholdKind, evaluate
from tagcloud.regions.kpi import KpiStore
from tagcloud.sim.market import PlantedAnomaly


def default_rules(places: Mapping[str, Sequence[str]], channels: Sequence[str]) -> list[RuleSpec]:
    """The province's default rules: a township's two-party share far below its own history, a
    county's revenue through one channel collapsing against last week, a cell losing its traffic."""
    rules = [
        RuleSpec("share-low", "two_party_share", tuple(places["township"]), ThresholdKind.ABSOLUTE, "<", 40.0,
                 min_volume=8),
        RuleSpec("cell-silent", "active_subscribers", tuple(places["cell"]), ThresholdKind.CHANGE_WEEK, "<=", -90.0,
                 min_volume=20),
    ]  # fmt: skip
    rules += [
        RuleSpec(f"revenue-{c}", "revenue", tuple(places["county"]), ThresholdKind.CHANGE_WEEK, "<=", -95.0,
                 channel=c, min_volume=1000)
        for c in channels
    ]  # fmt: skip
    return rules


@dataclass
class PlantedScore:
    planted: int
    found: int
    alerts: int
    right: int
    missed: list[PlantedAnomaly]

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 0.0

    @property
    def precision(self) -> float:
        return self.right / self.alerts if self.alerts else 0.0


def _matches(b: Breach, a: PlantedAnomaly) -> bool:
    first, last = dt.date.fromisoformat(a.first_day), dt.date.fromisoformat(a.last_day)
    if not first <= b.day <= last or b.kpi != a.kpi:
        return False
    place = a.cell_id if a.level == "cell" else a.region_id
    return b.region_id == place and (a.channel is None or b.channel == a.channel)


def score(
    store: KpiStore, anomalies: Sequence[PlantedAnomaly], rules: Sequence[RuleSpec], days: Sequence[dt.date]
) -> tuple[PlantedScore, list[Breach]]:
    """Evaluate ``rules`` on each of ``days`` and score the breaches against the planted anomalies."""
    start = min(dt.date.fromisoformat(a.first_day) for a in anomalies) if anomalies else None
    breaches = [b for d in days if start is None or d >= start for b in evaluate(rules, store, d)]
    found = [a for a in anomalies if any(_matches(b, a) for b in breaches)]
    right = sum(1 for b in breaches if any(_matches(b, a) for a in anomalies))
    missed = [a for a in anomalies if a not in found]
    return PlantedScore(len(anomalies), len(found), len(breaches), right, missed), breaches
