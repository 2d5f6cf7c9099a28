"""The daily market flow and planted anomalies, for the regional KPI alerts (seed 003 §2.1).

The base simulation has a fixed population: nobody joins inside the window and rivals' customers
only appear as a pool of friends. With ``simulate(..., market=True)`` this module adds:

* **our new subscribers**: each day a few subscribers of each township are re-dated to join that
  day (their join order is written through a channel, their earlier records are removed), about
  ``JOIN_RATE`` of the township a day, at least ``JOIN_FLOOR``;
* **rivals' new subscribers**: new China Unicom / Telecom numbers that call our subscribers of the
  township from its cells (``RIVAL_RATIO`` of our joins), so the two-party share of new additions
  (两方新增市场占有率) can be measured from the calls, as an operator does;
* **planted anomalies** with their ground truth (``ground_truth/anomalies.json``): a competitor's
  campaign in the most populous township (rivals' joins ×``CAMPAIGN_RIVAL_FACTOR``, ours
  ×``CAMPAIGN_OWN_FACTOR``), a broken channel in one county (agent outlets take no joins and no
  payments) and a cell outage (a busy cell carries no traffic).

The anomalies start ``TAIL_DAYS`` before the window's end (so the demo's alerts are recent and
followed by a few days of tracking), never before ``QUIET_DAYS`` (the KPIs need a history).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from tagcloud.sim.behaviour import DaySimulator, DayTables
    from tagcloud.sim.geography import Geography
    from tagcloud.sim.population import Population

JOIN_RATE = 0.006  # share of a township's subscribers who join on a day
JOIN_FLOOR = 0.3  # expected joins a day in the smallest township
RIVAL_RATIO = 0.1  # rivals' new numbers per new subscriber of ours
CAMPAIGN_RIVAL_FACTOR = 8.0
CAMPAIGN_OWN_FACTOR = 0.2
QUIET_DAYS = 8  # the first anomaly starts on this day index at the earliest (a week of history before)
TAIL_DAYS = 6  # … and this many days before the window's end, so a long window's anomalies are recent
ANOMALY_DAYS = 3
JOIN_CHANNELS = (("hall", 0.4), ("agent", 0.35), ("app", 0.15), ("web_hall", 0.1))
BROKEN_CHANNEL = "agent"
ACTIVITY_TABLES = ("voice_cdr", "sms", "data_xdr", "roaming", "payments", "service_contacts")
RIVAL_PREFIXES = ("130", "131", "132", "155", "156", "185", "186", "133", "153", "180", "181", "189")


@dataclass(frozen=True)
class PlantedAnomaly:
    """One anomaly the simulator put in the data: where, when, and the KPI it moves."""

    kind: str  # competitor_campaign | broken_channel | cell_outage
    kpi: str  # the KPI it moves (regions.kpi ids)
    level: str  # region level of the place (township, county, cell)
    region_id: str  # the township / county, or the cell's township for an outage
    first_day: str
    last_day: str
    cell_id: str | None = None
    channel: str | None = None


class MarketFlow:
    """Draws joins and rivals' numbers per day and applies the planted anomalies to a day's tables."""

    def __init__(
        self,
        pop: Population,
        g: Geography,
        start: dt.date,
        days: int,
        seed: int,
        registered: np.ndarray | None = None,
    ) -> None:
        """``registered``: each subscriber's registered township index (the region the warehouse
        shows); the competitor's campaign goes to the township with the most of them, the one a
        regional manager sees as the busiest (default: the home township)."""
        self.pop, self.g, self.start, self.days = pop, g, start, days
        self.rng = np.random.default_rng([seed, 77])
        n_town = len(g.township_id)
        home_town = g.cell_township[pop.home_cell].astype(np.int64)
        self.home_town = home_town
        subs_per_town = np.bincount(home_town, minlength=n_town)
        lam = np.maximum(JOIN_FLOOR, JOIN_RATE * subs_per_town) * (subs_per_town > 0)
        self.join_day = np.full(pop.n, -1, np.int64)  # day index a subscriber joins; -1: before the window
        self.join_channel = np.empty(pop.n, object)
        self.rival_numbers: set[int] = set()
        # where the anomalies go (deterministic given the geography)
        shown = home_town if registered is None else np.asarray(registered, np.int64)
        self.campaign_town = int(np.argmax(np.bincount(shown, minlength=n_town)))
        county_of_town = np.asarray(g.township_county, np.int64)
        subs_per_county = np.bincount(county_of_town[home_town], minlength=len(g.county_id))
        other = np.argsort(-subs_per_county)
        campaign_county = int(county_of_town[self.campaign_town])
        self.broken_county = int(next(c for c in other if c != campaign_county))
        cell_load = np.bincount(pop.home_cell, minlength=len(g.cell_id)).astype(np.int64)
        cell_load[county_of_town[g.cell_township] == campaign_county] = 0  # elsewhere than the campaign
        cell_load[county_of_town[g.cell_township] == self.broken_county] = 0
        self.outage_cell = int(np.argmax(cell_load))
        a = min(max(QUIET_DAYS, days - TAIL_DAYS), max(0, days - ANOMALY_DAYS))
        self.window = (a, min(days - 1, a + ANOMALY_DAYS - 1))
        day = [(start + dt.timedelta(days=d)).isoformat() for d in range(days)]
        w0, w1 = day[self.window[0]], day[self.window[1]]
        self.anomalies = [
            PlantedAnomaly(
                "competitor_campaign", "two_party_share", "township", g.township_id[self.campaign_town], w0, w1
            ),
            PlantedAnomaly(
                "broken_channel", "revenue", "county", g.county_id[self.broken_county], w0, w1,
                channel=BROKEN_CHANNEL,
            ),
            PlantedAnomaly(
                "cell_outage", "active_subscribers", "cell",
                g.township_id[int(g.cell_township[self.outage_cell])], w0, w1,
                cell_id=str(g.cell_id[self.outage_cell]),
            ),
        ]  # fmt: skip
        self._lam = lam
        self._draw_joins()

    def _in_window(self, d: int) -> bool:
        return self.window[0] <= d <= self.window[1]

    def _draw_joins(self) -> None:
        """Pick who joins on which day (days 1.., so day 0 has a full population to start from)."""
        by_town: dict[int, list[int]] = {}
        order = self.rng.permutation(self.pop.n)
        for i in order.tolist():  # once per simulation, over the population: not a per-day hot path
            by_town.setdefault(int(self.home_town[i]), []).append(i)
        names = [c for c, _ in JOIN_CHANNELS]
        probs = [p for _, p in JOIN_CHANNELS]
        county_of_town = np.asarray(self.g.township_county, np.int64)
        for t, members in by_town.items():
            pos = 0
            for d in range(1, self.days):
                lam = self._lam[t] * (
                    CAMPAIGN_OWN_FACTOR if t == self.campaign_town and self._in_window(d) else 1
                )
                k = int(self.rng.poisson(lam))
                for _ in range(k):
                    if pos >= len(members) // 3:  # never more than a third of a township is new
                        break
                    ch = str(self.rng.choice(names, p=probs))
                    if (
                        ch == BROKEN_CHANNEL
                        and county_of_town[t] == self.broken_county
                        and self._in_window(d)
                    ):
                        continue  # the broken outlets sign nobody up
                    self.join_day[members[pos]] = d
                    self.join_channel[members[pos]] = ch
                    pos += 1

    def join_dates(self) -> np.ndarray:
        """Join dates with the re-dated joiners (for the subscribers snapshot)."""
        jd = self.pop.join_date.astype("datetime64[D]").copy()
        new = self.join_day >= 0
        jd[new] = np.datetime64(self.start) + self.join_day[new].astype("timedelta64[D]")
        return jd

    def apply(self, d: int, day: DayTables, sim: DaySimulator) -> None:
        """Change day ``d``'s tables in place: drop not-yet-joined subscribers' records, add joins'
        orders and rivals' calls, apply the anomalies of the day."""
        import pyarrow as pa
        import pyarrow.compute as pc

        not_yet = self.pop.msisdn[(self.join_day > d)]
        gone = pa.array(not_yet).cast(pa.string())
        for name in ACTIVITY_TABLES:
            t = day.tables[name]
            keep = pc.invert(pc.is_in(t["msisdn"], value_set=gone))
            if name == "payments" and self._in_window(d):
                broken = self.pop.msisdn[
                    np.asarray(self.g.township_county)[self.home_town] == self.broken_county
                ]
                in_county = pc.is_in(t["msisdn"], value_set=pa.array(broken).cast(pa.string()))
                keep = pc.and_(keep, pc.invert(pc.and_(in_county, pc.equal(t["channel"], BROKEN_CHANNEL))))
            if name in ("voice_cdr", "sms", "data_xdr") and self._in_window(d):
                on_cell = pc.fill_null(pc.equal(t["cell_id"], str(self.g.cell_id[self.outage_cell])), False)
                keep = pc.and_(keep, pc.invert(on_cell))
            day.tables[name] = t.filter(keep)
        self._drop_orders(d, day)
        self._add_join_orders(d, day, sim)
        day.tables["voice_cdr"] = self._add_rival_calls(d, day.tables["voice_cdr"], sim)

    def _drop_orders(self, d: int, day: DayTables) -> None:
        o = day.orders
        if not o or len(o.get("sub", [])) == 0:
            return
        keep = self.join_day[o["sub"]] <= d
        for k in list(o):
            o[k] = o[k][keep]

    def _add_join_orders(self, d: int, day: DayTables, sim: DaySimulator) -> None:
        subs = np.flatnonzero(self.join_day == d)
        if len(subs) == 0:
            return
        secs = self.rng.integers(9 * 3600, 20 * 3600, len(subs)).astype(np.int64)
        day0 = (self.start + dt.timedelta(days=d) - dt.date(1970, 1, 1)).days * 86_400
        ts = (day0 + secs) * 1_000_000  # microseconds since the epoch, as the day simulator's orders
        new = {
            "sub": subs.astype(np.int64),
            "prod": sim.plan[subs].astype(np.int64),
            "action": np.array(["subscribe"] * len(subs), object),
            "ts": ts,
            "channel": np.array(self.join_channel[subs].tolist(), object),
        }
        o = day.orders
        if not o:
            day.orders = new
            return
        for k in new:
            o[k] = np.concatenate([np.asarray(o[k]), new[k]])

    def _add_rival_calls(self, d: int, voice: pa.Table, sim: DaySimulator) -> pa.Table:
        """Rivals' new numbers of the day, each calling one or two of our subscribers of a township."""
        import pyarrow as pa

        if d == 0:
            return voice
        lam = self._lam * RIVAL_RATIO
        if self._in_window(d):
            lam = lam.copy()
            lam[self.campaign_town] *= CAMPAIGN_RIVAL_FACTOR
        counts = self.rng.poisson(lam)
        rows: dict[str, list[Any]] = {c: [] for c in voice.column_names}
        members = {}
        active = self.join_day <= d
        for t in np.flatnonzero(counts).tolist():
            if t not in members:
                members[t] = np.flatnonzero((self.home_town == t) & active)
            m = members[t]
            if len(m) == 0:
                continue
            for _ in range(int(counts[t])):
                number = self._rival_number()
                for sub in self.rng.choice(m, int(self.rng.integers(1, 3))).tolist():
                    cell = int(self.pop.home_cell[sub])
                    if self._in_window(d) and cell == self.outage_cell:
                        continue
                    secs = int(self.rng.integers(8 * 3600, 22 * 3600))
                    rows["record_id"].append(sim.ids["voice_cdr"])
                    sim.ids["voice_cdr"] += 1
                    rows["msisdn"].append(str(self.pop.msisdn[sub]))
                    rows["peer_number"].append(str(number))
                    rows["direction"].append("MT")
                    rows["start_time"].append(
                        dt.datetime.combine(self.start + dt.timedelta(days=d), dt.time())
                        + dt.timedelta(seconds=secs)
                    )
                    rows["duration_s"].append(int(self.rng.integers(20, 400)))
                    rows["cell_id"].append(str(self.g.cell_id[cell]))
                    rows["peer_operator"].append("CU" if str(number)[:3] in RIVAL_PREFIXES[:7] else "CT")
                    rows["roaming"].append(False)
        if not rows["record_id"]:
            return voice
        extra = pa.table(
            [pa.array(rows[c], voice.schema.field(c).type) for c in voice.column_names], schema=voice.schema
        )
        return pa.concat_tables([voice, extra])

    def _rival_number(self) -> int:
        while True:
            prefix = RIVAL_PREFIXES[int(self.rng.integers(len(RIVAL_PREFIXES)))]
            number = int(prefix) * 10**8 + int(self.rng.integers(10**8))
            if number not in self.rival_numbers:
                self.rival_numbers.add(number)
                return number

    def write_truth(self, out: Path) -> None:
        """``ground_truth/anomalies.json``: the planted anomalies, and the joins per day."""
        d = out / "ground_truth"
        d.mkdir(parents=True, exist_ok=True)
        joins = np.bincount(self.join_day[self.join_day >= 0], minlength=self.days).tolist()
        doc = {"anomalies": [asdict(a) for a in self.anomalies], "joins_per_day": joins}
        (d / "anomalies.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")


def load_anomalies(truth_dir: Path) -> list[PlantedAnomaly]:
    """The planted anomalies of a simulation (``[]`` when it was run without the market flow)."""
    path = Path(truth_dir) / "anomalies.json"
    if not path.exists():
        return []
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [PlantedAnomaly(**a) for a in doc["anomalies"]]
