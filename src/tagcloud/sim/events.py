"""The simulated province's real-time event stream, and the ground truth of who then accepts what.

``simulate_events(truth, day, seed)`` draws one day of events (``realtime.events`` types) for the
subscribers of a simulator export: a Poisson count per subscriber and type whose rate depends on
the persona and traits (business travellers roam, heavy video users run out of data, the
complaint-prone complain, …), times of day from a profile with rush-hour peaks, and festival days
(the calendar's 春节/国庆/…) multiplying homeward roaming and hall visits.

Needs are what make timing matter. Some events open a *need window* for a product
(:data:`NEEDS`: a roaming trip needs a data pack for three days, a quota 80% warning needs one for
a week, a new 5G handset needs the 5G upgrade for two weeks). The chance that a subscriber accepts
an offer at time ``t`` is the export's latent acceptance (channel response × product propensity,
``GroundTruth.acceptance_probability``) times 1 inside a need window for that product and
:data:`OUT_OF_NEED` outside it — the simulator's assumption about the world, stated here rather
than tuned: an offer that arrives when the need is there is taken more often. A subscriber also
buys on their own (without any offer) with :data:`ORGANIC` times that chance, so a control group
has successes too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from tagcloud.realtime.events import CELL_SET_KINDS, COMPETITORS, PRODUCT_TYPES, TOUCHPOINTS, Event, EventType
from tagcloud.sim.calendar import day as calendar_day
from tagcloud.sim.truth import GroundTruth, _splitmix

# events per subscriber per day, before persona and trait multipliers
BASE_RATES: dict[EventType, float] = {
    EventType.ROAM_IN: 0.02,
    EventType.ENTER_CELL_SET: 0.15,
    EventType.BALANCE_LOW: 0.02,
    EventType.TOP_UP: 0.04,
    EventType.QUOTA_80: 0.03,
    EventType.QUOTA_100: 0.01,
    EventType.HANDSET_CHANGE: 0.003,
    EventType.COMPETITOR_HOTLINE_CALL: 0.004,
    EventType.ORDER: 0.02,
    EventType.COMPLAINT: 0.002,
    EventType.TOUCHPOINT_VISIT: 0.05,
}
PERSONA_RATES: dict[str, dict[EventType, float]] = {
    "business_traveller": {EventType.ROAM_IN: 12.0, EventType.TOUCHPOINT_VISIT: 1.5},
    "out_county_worker": {EventType.ROAM_IN: 3.0},
    "migrant_worker": {EventType.ROAM_IN: 3.0, EventType.BALANCE_LOW: 2.5, EventType.TOP_UP: 2.0},
    "white_collar_commuter": {EventType.ROAM_IN: 1.5, EventType.QUOTA_80: 1.5},
    "professional": {EventType.ROAM_IN: 2.0},
    "university_student": {EventType.QUOTA_80: 2.5, EventType.QUOTA_100: 2.5, EventType.ENTER_CELL_SET: 3.0},
    "middle_school_student": {EventType.ENTER_CELL_SET: 3.0, EventType.BALANCE_LOW: 1.5},
    "retiree": {EventType.TOUCHPOINT_VISIT: 2.0, EventType.QUOTA_80: 0.3},
    "rural_stay_home": {EventType.BALANCE_LOW: 2.0, EventType.QUOTA_80: 0.4},
}
TRAIT_RATES: dict[str, dict[EventType, float]] = {
    "heavy_video": {EventType.QUOTA_80: 3.0, EventType.QUOTA_100: 3.0},
    "gamer": {EventType.QUOTA_80: 1.8},
    "complaint_prone": {EventType.COMPLAINT: 10.0},
    "hk_macau_traveller": {EventType.ROAM_IN: 3.0},
}
FESTIVAL_RATES: dict[EventType, float] = {EventType.ROAM_IN: 4.0, EventType.TOUCHPOINT_VISIT: 1.5}
# share of a day's events by hour: low at night, peaks at the morning and evening rush
HOUR_PROFILE = np.array(
    [
        0.2,
        0.1,
        0.1,
        0.1,
        0.1,
        0.3,
        0.8,
        2.0,
        2.6,
        1.6,
        1.2,
        1.2,
        1.4,
        1.2,
        1.1,
        1.1,
        1.3,
        2.2,
        2.6,
        1.8,
        1.5,
        1.2,
        0.8,
        0.4,
    ]
)
# (product, hours) of the need an event opens
NEEDS: dict[EventType, tuple[str, int]] = {
    EventType.ROAM_IN: ("DP_10G", 72),
    EventType.QUOTA_80: ("DP_10G", 7 * 24),
    EventType.QUOTA_100: ("DP_10G", 7 * 24),
    EventType.HANDSET_CHANGE: ("G5_UP", 14 * 24),
}
OUT_OF_NEED = 0.3  # relative chance to accept an offer while the need is not there
ORGANIC = 0.2  # relative chance to buy the product unprompted (what a control group shows)
PROVINCES = ("guangdong", "beijing", "shanghai", "zhejiang", "hainan", "hongkong")


@dataclass
class EventStream:
    """One simulated day: the events (in time order) and the need windows they opened."""

    events: list[Event]
    need_msisdn: np.ndarray  # int64
    need_product: np.ndarray  # str
    need_start: np.ndarray  # datetime64[s]
    need_end: np.ndarray  # datetime64[s]

    def in_need(self, msisdns: np.ndarray, product_id: str, at: np.ndarray) -> np.ndarray:
        """Whether each subscriber is inside a need window for ``product_id`` at ``at`` (vectorised)."""
        sel = self.need_product == product_id
        nm, ns, ne = self.need_msisdn[sel], self.need_start[sel], self.need_end[sel]
        order = np.argsort(nm, kind="stable")
        nm, ns, ne = nm[order], ns[order], ne[order]
        ms = np.asarray(msisdns, np.int64)
        at = np.asarray(at, "datetime64[s]")
        lo, hi = np.searchsorted(nm, ms, "left"), np.searchsorted(nm, ms, "right")
        out = np.zeros(len(ms), bool)
        # a subscriber has at most a few windows a day: loop over the window rank, not the people
        for k in range(int((hi - lo).max(initial=0))):
            j = lo + k
            ok = j < hi
            jj = np.where(ok, j, 0)
            out |= ok & (ns[jj] <= at) & (at <= ne[jj])
        return out


def acceptance(
    truth: GroundTruth,
    stream: EventStream,
    msisdns: np.ndarray,
    product_id: str,
    channel: str,
    at: np.ndarray,
) -> np.ndarray:
    """P(accept) of an offer of ``product_id`` via ``channel`` received at ``at`` (per subscriber)."""
    base = truth.acceptance_probability([str(m) for m in np.asarray(msisdns).tolist()], product_id, channel)
    need = stream.in_need(np.asarray(msisdns, np.int64), product_id, at)
    return base * np.where(need, 1.0, OUT_OF_NEED)


def draw(msisdns: np.ndarray, p: np.ndarray, salt: int) -> np.ndarray:
    """A reproducible Bernoulli draw per subscriber (hash of msisdn and salt, like GroundTruth.accepts)."""
    key = np.asarray(msisdns, np.int64).astype(np.uint64)
    u = (_splitmix(_splitmix(key) ^ np.uint64(salt & 0xFFFFFFFF)) >> np.uint64(11)).astype(
        np.float64
    ) / float(1 << 53)
    return u < p


def simulate_events(
    truth: GroundTruth, day: dt.date, seed: int = 0, scale: float = 1.0, bad_share: float = 0.0
) -> EventStream:
    """One day of events for the export's subscribers; ``scale`` multiplies every rate.

    ``bad_share``: a fraction of extra events that are wrong on purpose (unknown types, unknown
    subscribers, times a month away, reused ids) so a demo shows the dead-letter stream.
    """
    rng = np.random.default_rng([seed, day.toordinal()])
    subs = truth.subscribers
    msisdn = np.array(subs.column("msisdn").to_pylist(), np.int64)
    persona = np.asarray(subs.column("persona").to_numpy(zero_copy_only=False)).astype(str)
    n = len(msisdn)
    cal = calendar_day(day)
    festival = cal.festival is not None
    hour_p = HOUR_PROFILE / HOUR_PROFILE.sum()
    midnight = np.datetime64(day, "s")
    rows: list[tuple[EventType, np.ndarray, np.ndarray]] = []
    for et, base in BASE_RATES.items():
        rate = np.full(n, base * scale)
        for p, mult in PERSONA_RATES.items():
            if et in mult:
                rate[persona == p] *= mult[et]
        for trait, mult in TRAIT_RATES.items():
            if et in mult and trait in subs.column_names:
                rate[np.asarray(subs.column(trait).to_numpy(zero_copy_only=False), bool)] *= mult[et]
        if et == EventType.COMPETITOR_HOTLINE_CALL:
            rate *= np.asarray(subs.column("churn_prob").to_numpy(), float) / 0.04
        if festival:
            rate *= FESTIVAL_RATES.get(et, 1.0)
        counts = rng.poisson(rate)
        who = np.repeat(np.arange(n), counts)
        secs = rng.choice(24, len(who), p=hour_p) * 3600 + rng.integers(0, 3600, len(who))
        rows.append((et, who, midnight + secs.astype("timedelta64[s]")))
    if day.day == 1:  # the month's bills go out in the morning
        rows.append(
            (
                EventType.BILL_ISSUED,
                np.arange(n),
                midnight + (8 * 3600 + rng.integers(0, 4 * 3600, n)).astype("timedelta64[s]"),
            )
        )
    events: list[Event] = []
    needs: list[tuple[np.ndarray, str, np.ndarray, int]] = []
    k = 0
    for et, who, ts in rows:
        attrs = _attributes(et, len(who), rng)
        ms = msisdn[who]
        if et in NEEDS:
            product, hours = NEEDS[et]
            keep = np.ones(len(who), bool)
            if et == EventType.HANDSET_CHANGE:
                keep = np.array([a["is_5g"] for a in attrs], bool)
            needs.append((ms[keep], product, ts[keep], hours))
        for m, t, a in zip(ms.tolist(), ts.astype(dt.datetime).tolist(), attrs, strict=True):
            events.append(Event(f"sim-{day:%Y%m%d}-{seed}-{k}", et, str(m), t, a))
            k += 1
    if bad_share > 0:
        events += _bad_events(events, rng, bad_share, day, seed)
    events.sort(key=lambda e: e.ts)
    if needs:
        nm = np.concatenate([x[0] for x in needs])
        npd = np.concatenate([np.full(len(x[0]), x[1]) for x in needs])
        nst = np.concatenate([x[2] for x in needs])
        nen = np.concatenate([x[2] + np.timedelta64(x[3] * 3600, "s") for x in needs])
    else:
        nm, npd = np.zeros(0, np.int64), np.zeros(0, str)
        nst = nen = np.zeros(0, "datetime64[s]")
    return EventStream(events, nm, npd, nst, nen)


def _attributes(et: EventType, m: int, rng: np.random.Generator) -> list[dict[str, object]]:
    """Typed attributes for ``m`` events of one type (drawn as columns, then one dict per event)."""
    if m == 0:
        return []
    if et == EventType.ROAM_IN:
        other = rng.random(m) < 0.6
        prov = rng.choice(PROVINCES, m, p=[0.45, 0.15, 0.15, 0.1, 0.1, 0.05])
        city = rng.integers(1, 20, m)
        return [
            {
                "province": str(p) if o else "home",
                "city": f"C{c:02d}",
                "from_province": "home",
                "from_city": "C00",
                "other_province": bool(o),
            }
            for p, o, c in zip(prov.tolist(), other.tolist(), city.tolist(), strict=True)
        ]
    if et == EventType.ENTER_CELL_SET:
        kind = rng.choice(CELL_SET_KINDS, m)
        return [{"cell_set": f"HA_{k}", "cell_set_kind": str(k)} for k in kind.tolist()]
    if et == EventType.BALANCE_LOW:
        return [{"balance": round(float(b), 2), "threshold": 10.0} for b in rng.uniform(0, 10, m)]
    if et == EventType.TOP_UP:
        return [{"amount": float(a), "balance": float(a) + 3.0} for a in rng.choice([20, 30, 50, 100], m)]
    if et in (EventType.QUOTA_80, EventType.QUOTA_100):
        quota = rng.choice([3072, 10240, 20480, 40960], m).astype(float)
        used = quota * (0.8 if et == EventType.QUOTA_80 else 1.0)
        return [{"quota_mb": q, "used_mb": u} for q, u in zip(quota.tolist(), used.tolist(), strict=True)]
    if et == EventType.HANDSET_CHANGE:
        g5 = rng.random(m) < 0.7
        return [
            {"brand": "brand", "model": "model", "is_5g": bool(x), "previous_is_5g": False}
            for x in g5.tolist()
        ]
    if et == EventType.COMPETITOR_HOTLINE_CALL:
        comp = rng.choice(COMPETITORS, m)
        return [
            {"competitor": str(c), "duration_s": float(d)}
            for c, d in zip(comp.tolist(), rng.integers(20, 400, m).tolist(), strict=True)
        ]
    if et == EventType.BILL_ISSUED:
        return [{"amount": round(float(a), 2)} for a in rng.gamma(2.0, 40.0, m)]
    if et == EventType.ORDER:
        kinds = rng.choice(PRODUCT_TYPES, m, p=[0.35, 0.15, 0.05, 0.2, 0.05, 0.05, 0.15])
        return [
            {"product_id": f"P_{k}", "product_type": str(k), "action": "subscribe"} for k in kinds.tolist()
        ]
    if et == EventType.COMPLAINT:
        return [{"category": "network", "severity": float(s)} for s in rng.integers(1, 4, m).tolist()]
    chan = rng.choice(TOUCHPOINTS, m, p=[0.35, 0.2, 0.15, 0.1, 0.2])
    return [{"channel": str(c)} for c in chan.tolist()]


def _bad_events(
    events: list[Event], rng: np.random.Generator, share: float, day: dt.date, seed: int
) -> list[Event]:
    m = max(1, int(len(events) * share)) if events else 0
    out = []
    for i in range(m):
        src = events[int(rng.integers(0, len(events)))]
        kind = i % 3
        if kind == 0:  # a number that is not a subscriber
            out.append(Event(f"bad-{day:%Y%m%d}-{seed}-{i}", src.type, "19999999999", src.ts, src.attrs))
        elif kind == 1:  # a month in the future
            out.append(
                Event(
                    f"bad-{day:%Y%m%d}-{seed}-{i}",
                    src.type,
                    src.msisdn,
                    src.ts + dt.timedelta(days=30),
                    src.attrs,
                )
            )
        else:  # a reused id with another payload
            out.append(Event(src.event_id, src.type, src.msisdn, src.ts + dt.timedelta(seconds=1), src.attrs))
    return out
