"""One simulated day of behaviour: calls, SMS, data sessions, roaming, payments, service contacts,
orders and handset changes, as Arrow tables in the canonical model.

Each day is drawn with numpy from its own generator (seeded by the run seed and the day), so the
run streams day by day with bounded memory. Per-subscriber usage is accumulated with
``np.bincount`` for the monthly bills.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.sim import calendar as cal
from tagcloud.sim.catalogue import (
    BROKER_HOTLINES,
    CITY_AREA_CODES,
    COMPETITORS,
    HOTLINE,
    MARKETABLE,
    OTHER_SERVICE,
    PRODUCT_INDEX,
    PRODUCTS,
    TRAFFIC_RADIO,
    VISITOR_PREFIXES,
    Handsets,
)
from tagcloud.sim.geography import AT, Geography
from tagcloud.sim.internet import APPS, CONTENT_KINDS
from tagcloud.sim.personas import PERSONA_INDEX, PERSONAS, at_work_matrix, hour_profiles
from tagcloud.sim.population import CHANNELS, DESTINATIONS, Population
from tagcloud.sim.profile import Knobs

if TYPE_CHECKING:
    import pyarrow as pa

# Service numbers as a string table: index 0 is the hotline.
SERVICE_NUMBERS: tuple[str, ...] = (
    HOTLINE,
    TRAFFIC_RADIO,
    *BROKER_HOTLINES,
    *OTHER_SERVICE,
    "10010",
    "10000",
)
_SVC = {s: i for i, s in enumerate(SERVICE_NUMBERS)}
_COMPETITOR_HOTLINES = np.array([_SVC["10010"], _SVC["10000"]])
_BROKERS = np.array([_SVC[s] for s in BROKER_HOTLINES])
_OTHER = np.array([_SVC[s] for s in OTHER_SERVICE])
# peer kinds: how a peer number is spelled
MOBILE, FIXED, INTL, SERVICE = 0, 1, 2, 3


def _lean_ramp(d: int) -> float:
    """How far the pre-decision signs have grown on window day ``d``: 0 at the start, 1 after 29 days."""
    return min(d / 29.0, 1.0)


_OPS = ("CMCC", *COMPETITORS, "FIXED", "SERVICE", "INTL")
OP_CMCC, OP_FIXED, OP_SERVICE, OP_INTL = 0, 4, 5, 6
_EPOCH = dt.date(1970, 1, 1)
_US = 1_000_000
_CONTACT_REASONS = (
    "balance_query",
    "bill_query",
    "data_query",
    "plan_change",
    "product_inquiry",
    "fault_report",
    "top_up",
)
_ORDER_CHANNEL = {
    "sms": "sms_hall",
    "outbound": "outbound",
    "10086": "10086",
    "hall": "hall",
    "web_hall": "web_hall",
    "app": "app",
}


def _day_order(ts: np.ndarray) -> np.ndarray:
    """Stable time order of one day's timestamps: two radix sorts (second in hour, then hour)
    are several times faster than a comparison sort of int64."""
    s = (ts // _US) % 86_400
    o = np.argsort((s % 3600).astype(np.int16), kind="stable")
    return o[np.argsort((s[o] // 3600).astype(np.int8), kind="stable")]


@dataclass
class Usage:
    """Per-subscriber usage accumulated over the window, by bill month (index into ``months``)."""

    months: list[dt.date]
    minutes: np.ndarray  # [months, n]
    sms: np.ndarray
    bytes: np.ndarray
    roaming_days: np.ndarray
    roaming_abroad_days: np.ndarray
    sim_days: np.ndarray  # [months] days of that month inside the window


@dataclass
class DayTables:
    tables: dict[str, pa.Table]
    orders: dict[str, np.ndarray] = field(default_factory=dict)
    handsets: dict[str, np.ndarray] = field(default_factory=dict)


class DaySimulator:
    """Holds the population and world, draws one day at a time, keeps id counters and usage."""

    def __init__(
        self, pop: Population, g: Geography, handsets: Handsets, seed: int, knobs: Knobs | None = None
    ) -> None:
        import pyarrow as pa

        self.pop, self.g, self.h, self.seed = pop, g, handsets, seed
        self.k = k = knobs or Knobs()
        self.mg_p = np.asarray(k.migrant_hour_weights, float) / sum(k.migrant_hour_weights)
        n = pop.n
        self.msisdn_str = pa.array(pop.msisdn).cast(pa.string())  # built once, then `take`n
        self.cell_str = pa.array(g.cell_id.tolist(), pa.string())
        self.svc_str = pa.array(SERVICE_NUMBERS, pa.string())
        self.op_str = pa.array(_OPS, pa.string())
        self.hours = hour_profiles()
        self.hour_cdf = np.cumsum(self.hours, axis=2)
        self.at_work = at_work_matrix(k.work_start_shift, k.work_end_shift, k.at_work_p)
        self.call_minutes = np.array([p.call_minutes for p in PERSONAS])
        self.ids = {
            "voice_cdr": 1,
            "sms": 1,
            "data_xdr": 1,
            "payments": 1,
            "service_contacts": 1,
            "orders": 1,
        }
        self.fav_cw_t = np.ascontiguousarray(pop.fav_cw.T, dtype=np.float32)  # one row per slot
        self.seconds: dict[str, float] = {}  # generation time per table (the benchmark reports it)
        self.holdings = pop.holdings.copy()
        self.plan = pop.plan.astype(np.int64).copy()
        # cells by city and by kind, for wandering, driving and golf
        self.cell_city = g.cell_city.astype(np.int64)
        self.city_order = np.argsort(self.cell_city, kind="stable")
        cc = self.cell_city[self.city_order]
        self.city_lo = np.searchsorted(cc, np.arange(len(g.city_id)), "left")
        self.city_hi = np.searchsorted(cc, np.arange(len(g.city_id)), "right")
        self.highway = np.flatnonzero(g.cell_area == AT["highway"])
        self.golf = np.flatnonzero(g.cell_area == AT["golf_course"])
        self.tourist = np.flatnonzero(g.cell_area == AT["tourist_site"])
        self.home_city = self.cell_city[pop.home_cell]
        # cells by township, for ping-pong between neighbouring cells (test profile)
        cell_town = g.cell_township.astype(np.int64)
        self.town_order = np.argsort(cell_town, kind="stable")
        ct = cell_town[self.town_order]
        self.cell_town = cell_town
        self.town_lo = np.searchsorted(ct, np.arange(len(g.township_id)), "left")
        self.town_hi = np.searchsorted(ct, np.arange(len(g.township_id)), "right")
        # internet: flattened endpoints with global cumulative weights per app (app a spans (a, a+1])
        ep_app, ep_w, self.ep_host, self.ep_path, ep_content, ep_ip, ep_port = [], [], [], [], [], [], []
        for ai, a in enumerate(APPS):
            for e in a.endpoints:
                ep_app.append(ai)
                ep_w.append(e.weight)
                self.ep_host.append(e.host)
                self.ep_path.append(e.path)
                ep_content.append(e.content)
                ep_ip.append(e.ip_prefix + ".")
                ep_port.append(e.port)
        self.ep_app = np.array(ep_app)
        w = np.array(ep_w)
        tot = np.bincount(self.ep_app, weights=w)
        cs = np.cumsum(w) - np.r_[0, np.cumsum(tot)[:-1]][self.ep_app]
        self.ep_cw = self.ep_app + cs / tot[self.ep_app]
        self.ep_port = np.array(ep_port, np.int32)
        # every address of every endpoint's /24, so a session's address is one `take`
        self.ep_ips = pa.array([f"{ip}{o}" for ip in ep_ip for o in range(1, 255)], pa.string())
        self.ep_host_arr = pa.array(self.ep_host, pa.string())
        self.ep_lo = np.array([CONTENT_KINDS[c][0] if c else 0 for c in ep_content], np.int64)
        self.ep_span = np.array(
            [CONTENT_KINDS[c][1] - CONTENT_KINDS[c][0] + 1 if c else 1 for c in ep_content], np.int64
        )
        self.app_mb = np.array([a.mb_per_session for a in APPS])
        self.app_sec = np.array([a.seconds_per_session for a in APPS])
        self.stock_apps = np.array([i for i, a in enumerate(APPS) if a.category == "stock"])
        self.car_apps = np.array(
            [i for i, a in enumerate(APPS) if a.app_id in ("chewutong", "amap", "autohome")]
        )
        # usage accumulators per bill month of the window
        months = sorted({d.date.replace(day=1) for d in pop.days})
        self.month_index = {m: i for i, m in enumerate(months)}
        M = len(months)
        self.usage = Usage(
            months, np.zeros((M, n)), np.zeros((M, n)), np.zeros((M, n)), np.zeros((M, n)), np.zeros((M, n)),
            np.zeros(M, np.int64),
        )  # fmt: skip
        self.visitors = np.unique(
            np.array([int(p) for p in VISITOR_PREFIXES])[np.random.default_rng([seed, 7]).integers(len(VISITOR_PREFIXES), size=max(100, n // 20))]
            * 100_000_000
            + np.random.default_rng([seed, 8]).integers(0, 100_000_000, max(100, n // 20))
        )  # fmt: skip
        self.pay_day = np.random.default_rng([seed, 9]).integers(1, 21, n)

    # ------------------------------------------------------------------ helpers
    def _rng(self, d: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, 1000 + d, stream])

    def _hours(self, subs: np.ndarray, off: int, rng: np.random.Generator) -> np.ndarray:
        """Hour of day for events of ``subs`` from their persona's profile (loop over personas only)."""
        out = np.empty(len(subs), np.int64)
        u = rng.random(len(subs))
        per = self.pop.persona[subs]
        for pi in range(len(PERSONAS)):
            m = per == pi
            if m.any():
                out[m] = np.minimum(np.searchsorted(self.hour_cdf[pi, off], u[m]), 23)
        # shared handsets: a second person uses the number at other hours
        sh = self.pop.traits["shared_handset"][subs] & (rng.random(len(subs)) < self.k.shared_handset_p)
        out[sh] = rng.integers(7, 24, int(sh.sum()))
        return out

    def locate(
        self, subs: np.ndarray, hours: np.ndarray, d: int, off: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Serving cell of each (subscriber, hour) on day ``d``; -1 while roaming out of the province."""
        p = self.pop
        per = p.persona[subs]
        at_work = rng.random(len(subs)) < self.at_work[per, off, hours]
        cell = np.where(at_work, p.work_cell[subs], p.home_cell[subs])
        students = per == PERSONA_INDEX["university_student"]
        wander_p = np.where(
            students, 0.05 if not off else 0.15, self.k.wander_workday if not off else self.k.wander_day_off
        )
        wander = rng.random(len(subs)) < wander_p
        if wander.any():
            city = self.home_city[subs[wander]]
            lo, hi = self.city_lo[city], self.city_hi[city]
            cell[wander] = self.city_order[lo + (rng.random(len(city)) * (hi - lo)).astype(np.int64)]
        if len(self.highway):
            commute = np.isin(hours, (7, 8, 17, 18)) | (bool(off) & (hours >= 9) & (hours <= 17))
            drive = p.traits["car_owner"][subs] & commute & (rng.random(len(subs)) < 0.25)
            cell[drive] = self.highway[rng.integers(len(self.highway), size=int(drive.sum()))]
        if len(self.golf) and off:
            golf = p.traits["golfer"][subs] & (hours >= 8) & (hours <= 16) & (rng.random(len(subs)) < 0.6)
            cell[golf] = self.golf[rng.integers(len(self.golf), size=int(golf.sum()))]
        if len(self.tourist) and off:
            trip = (
                (per == PERSONA_INDEX["retiree"])
                & (hours >= 9)
                & (hours <= 16)
                & (rng.random(len(subs)) < 0.08)
            )
            cell[trip] = self.tourist[rng.integers(len(self.tourist), size=int(trip.sum()))]
        if self.k.pingpong > 0:  # served by a neighbouring cell of the same township (handover, ping-pong)
            pp = np.flatnonzero(rng.random(len(subs)) < self.k.pingpong)
            town = self.cell_town[cell[pp]]
            lo, hi = self.town_lo[town], self.town_hi[town]
            cell[pp] = self.town_order[lo + (rng.random(len(pp)) * (hi - lo)).astype(np.int64)]
        return np.where(p.away[d, subs] >= 0, -1, cell)

    def _timestamps(self, day: dt.date, hours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        base = (day - _EPOCH).days * 86_400 * _US
        return base + hours * 3600 * _US + rng.integers(0, 3600, len(hours)) * _US

    def _usage_factor(self, subs: np.ndarray, d: int) -> np.ndarray:
        """Use fades over the window with the churn lean (a noisy copy of the churn probability, not
        the outcome): by up to 80% after a month for the most disaffected, nothing for the content.
        The ramp is in days (a month to the full fade), so short windows are not distorted."""
        return 1.0 - 0.8 * self.pop.churn_lean[subs] * _lean_ramp(d)

    def _contacts(self, subs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A weighted random contact of each subscriber (CSR draw): >= 0 on-net, < 0 off-net."""
        p = self.pop
        k = np.searchsorted(p.cw, subs + rng.random(len(subs)), "right")
        k = np.minimum(k, p.indptr[subs + 1] - 1)
        return p.peer[k]

    def _peer_strings(self, kind: np.ndarray, num: np.ndarray, svc: np.ndarray) -> pa.Array:
        import pyarrow as pa
        import pyarrow.compute as pc

        prefix = (
            pa.array(np.array(["", "0", "00", ""], object)[kind].tolist(), pa.string())
            if len(kind)
            else pa.array([], pa.string())
        )
        digits = pa.array(num).cast(pa.string())
        joined = pc.binary_join_element_wise(prefix, digits, "")
        return pc.if_else(pa.array(kind == SERVICE), self.svc_str.take(pa.array(np.maximum(svc, 0))), joined)

    # ------------------------------------------------------------------ the day
    def day(self, d: int) -> DayTables:
        """Draw day ``d`` of the window: event tables plus that day's orders and handset changes."""
        p = self.pop
        info = p.days[d]
        off = int(info.is_off)
        mi = self.month_index[info.date.replace(day=1)]
        self.usage.sim_days[mi] += 1
        tables: dict[str, Any] = {}
        makers = {
            "voice_cdr": lambda: self._voice(d, info, off, mi),
            "sms": lambda: self._sms(d, info, off, mi),
            "data_xdr": lambda: self._xdr(d, info, off, mi),
            "roaming": lambda: self._roaming(d, info, mi),
            "payments": lambda: self._payments(d, info),
            "service_contacts": lambda: self._service(d, info, off),
        }
        for name, make in makers.items():
            t0 = time.perf_counter()
            tables[name] = make()
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
        orders = self._orders(d, info)
        hs = self._handset_changes(d, info)
        return DayTables(tables, orders, hs)

    def _voice(self, d: int, info: cal.Day, off: int, mi: int) -> pa.Table:
        p, n = self.pop, self.pop.n
        rng = self._rng(d, 1)
        roaming = p.away[d] >= 0
        fest = 1.25 if info.festival in ("中秋节", "国庆节", "春节") else 1.0
        rate = (
            p.call_rate
            * self._usage_factor(np.arange(n), d)
            * np.where(roaming, 0.8, 1.0)
            * fest
            * (0.9 if off else 1.0)
        )
        subs = np.repeat(np.arange(n), rng.poisson(rate))
        m = len(subs)
        hours = self._hours(subs, off, rng)
        # who is called: service lines, fixed lines, abroad, competitors (the disaffected), or a contact
        u = rng.random(m)
        car = p.traits["car_owner"][subs]
        trader = p.traits["stock_trader"][subs]
        # competitor calls grow with the churn lean (before any decision; weak and noisy)
        churn_q = p.churn_lean[subs] * (0.1 + 0.3 * _lean_ramp(d))
        kind = np.full(m, MOBILE, np.int64)
        svc = np.full(m, -1, np.int64)
        num = np.zeros(m, np.int64)
        op = np.zeros(m, np.int64)
        contact = self._contacts(subs, rng)
        is_hot = u < 0.015
        is_radio = ~is_hot & car & (u < 0.015 + 0.06)
        is_broker = ~is_hot & ~is_radio & trader & (not off) & (u > 0.9) & (u < 0.96)
        is_other = ~is_hot & ~is_radio & ~is_broker & (u > 0.96) & (u < 0.975)
        is_fixed = (u >= 0.975) & (u < 0.995)
        is_intl = (u >= 0.995) & (
            p.traits["hk_macau_traveller"][subs] | (p.extra["is_business_traveller"][subs])
        )
        is_comp = ~(is_hot | is_radio | is_broker | is_other | is_fixed | is_intl) & (rng.random(m) < churn_q)
        svc[is_hot] = _SVC[HOTLINE]
        svc[is_radio] = _SVC[TRAFFIC_RADIO]
        svc[is_broker] = _BROKERS[rng.integers(len(_BROKERS), size=int(is_broker.sum()))]
        svc[is_other] = _OTHER[rng.integers(len(_OTHER), size=int(is_other.sum()))]
        comp_line = is_comp & (rng.random(m) < 0.6)  # asking a competitor about their offers
        svc[comp_line] = _COMPETITOR_HOTLINES[rng.integers(2, size=int(comp_line.sum()))]
        kind[svc >= 0] = SERVICE
        op[svc >= 0] = OP_SERVICE
        kind[is_fixed] = FIXED
        op[is_fixed] = OP_FIXED
        num[is_fixed] = np.array([int(a) for a in CITY_AREA_CODES])[
            rng.integers(4, size=int(is_fixed.sum()))
        ] * 100_000_000 + rng.integers(10_000_000, 100_000_000, int(is_fixed.sum()))
        kind[is_intl] = INTL
        op[is_intl] = OP_INTL
        num[is_intl] = np.where(rng.random(int(is_intl.sum())) < 0.6, 852, 853) * 100_000_000 + rng.integers(
            20_000_000, 99_999_999, int(is_intl.sum())
        )
        to_comp = is_comp & ~comp_line
        rand_off = rng.integers(len(p.offnet.number), size=m)
        contact = np.where(to_comp, -(rand_off + 1), contact)
        person = kind == MOBILE
        on = person & (contact >= 0)
        offn = person & (contact < 0)
        num[on] = p.msisdn[contact[on]]
        offi = -contact[offn] - 1
        num[offn] = p.offnet.number[offi]
        op[offn] = 1 + p.offnet.operator[offi]
        dur = np.maximum(1, rng.exponential(1, m) * self.call_minutes[p.persona[subs]] * 60).astype(np.int64)
        dur = np.where(kind == SERVICE, rng.integers(30, 400, m), np.minimum(dur, 7200))
        cell = self.locate(subs, hours, d, off, rng)
        ts = self._timestamps(info.date, hours, rng)
        # the called on-net subscriber's leg (MT) at the same moment
        callee = contact[on]
        c_hours = hours[on]
        c_cell = self.locate(callee, c_hours, d, off, rng)
        # incoming calls from off-net contacts, and competitors' migrant workers calling home in
        # off-peak hours (lunch, evenings, weekends)
        in_subs = np.repeat(np.arange(n), rng.poisson(rate * 0.45))
        in_peer = self._contacts(in_subs, rng)
        keep = in_peer < 0
        in_subs, in_peer = in_subs[keep], -in_peer[keep] - 1
        # competitors' migrants call in their own off-peak stream below
        keep = ~p.offnet.is_migrant[in_peer]
        in_subs, in_peer = in_subs[keep], in_peer[keep]
        ml_sub = p.migrant_links
        k = rng.poisson(self.k.migrant_call_rate * (1.6 if off else 1.0), len(ml_sub[0]))
        mg_off, mg_sub = np.repeat(ml_sub[0], k), np.repeat(ml_sub[1], k)
        # 24 weights with zeros draw the same hours as the nonzero ones alone (same uniforms, same cdf)
        mg_hours = rng.choice(24, len(mg_sub), p=self.mg_p)
        in_hours = self._hours(in_subs, off, rng)
        all_in_sub = np.concatenate([in_subs, mg_sub])
        all_in_off = np.concatenate([in_peer, mg_off])
        all_in_h = np.concatenate([in_hours, mg_hours])
        in_cell = self.locate(all_in_sub, all_in_h, d, off, rng)
        in_dur = np.maximum(
            1, rng.exponential(1, len(all_in_sub)) * self.call_minutes[p.persona[all_in_sub]] * 60
        ).astype(np.int64)
        in_dur = np.minimum(in_dur, 7200)
        # assemble: MO legs, MT mirror legs, MT from off-net
        cols = dict(
            sub=np.concatenate([subs, callee, all_in_sub]),
            kind=np.concatenate([kind, np.full(len(callee), MOBILE), np.full(len(all_in_sub), MOBILE)]),
            num=np.concatenate([num, p.msisdn[subs[on]], p.offnet.number[all_in_off]]),
            svc=np.concatenate([svc, np.full(len(callee) + len(all_in_sub), -1)]),
            op=np.concatenate([op, np.full(len(callee), OP_CMCC), 1 + p.offnet.operator[all_in_off]]),
            mo=np.concatenate([np.ones(m, bool), np.zeros(len(callee) + len(all_in_sub), bool)]),
            ts=np.concatenate([ts, ts[on], self._timestamps(info.date, all_in_h, rng)]),
            dur=np.concatenate([dur, dur[on], in_dur]),
            cell=np.concatenate([cell, c_cell, in_cell]),
        )
        order = _day_order(cols["ts"])
        cols = {k2: v[order] for k2, v in cols.items()}
        self.usage.minutes[mi] += np.bincount(cols["sub"], weights=cols["dur"] / 60.0, minlength=n)
        return self._calls_table(cols, "voice_cdr")

    def _calls_table(self, c: dict[str, np.ndarray], name: str) -> pa.Table:
        import pyarrow as pa

        from tagcloud.data.model import arrow_schema, table

        rows = len(c["sub"])
        rid = self.ids[name] + np.arange(rows, dtype=np.int64)
        self.ids[name] += rows
        subs = pa.array(c["sub"])
        cell = pa.array(c["cell"], mask=c["cell"] < 0)
        arrays = {
            "record_id": pa.array(rid),
            "msisdn": self.msisdn_str.take(subs),
            "peer_number": self._peer_strings(c["kind"], c["num"], c["svc"]),
            "direction": pa.array(["MO", "MT"]).take(pa.array(np.where(c["mo"], 0, 1))),
            "start_time" if name == "voice_cdr" else "sent_time": pa.array(c["ts"], pa.timestamp("us")),
            "duration_s": pa.array(c["dur"].astype(np.int32)),
            "cell_id": self.cell_str.take(cell),
            "peer_operator": self.op_str.take(pa.array(c["op"])),
            "roaming": pa.array(c["cell"] < 0),
        }
        schema = arrow_schema(table(name))
        return pa.table([arrays[f.name] for f in schema], schema=schema)

    def _sms(self, d: int, info: cal.Day, off: int, mi: int) -> pa.Table:
        p, n = self.pop, self.pop.n
        rng = self._rng(d, 2)
        fest = 1.5 if info.festival in ("中秋节", "国庆节", "春节") else 1.0  # festival greetings
        rate = p.sms_rate * self._usage_factor(np.arange(n), d) * fest
        subs = np.repeat(np.arange(n), rng.poisson(rate))
        m = len(subs)
        hours = self._hours(subs, off, rng)
        contact = self._contacts(subs, rng)
        to_hall = rng.random(m) < 0.02  # SMS hall (短信营业厅) queries to 10086
        on = ~to_hall & (contact >= 0)
        offn = ~to_hall & (contact < 0)
        kind = np.where(to_hall, SERVICE, MOBILE)
        svc = np.where(to_hall, _SVC[HOTLINE], -1)
        num = np.zeros(m, np.int64)
        op = np.where(to_hall, OP_SERVICE, OP_CMCC)
        num[on] = p.msisdn[contact[on]]
        offi = -contact[offn] - 1
        num[offn] = p.offnet.number[offi]
        op[offn] = 1 + p.offnet.operator[offi]
        cell = self.locate(subs, hours, d, off, rng)
        ts = self._timestamps(info.date, hours, rng)
        callee = contact[on]
        c_cell = self.locate(callee, hours[on], d, off, rng)
        in_subs = np.repeat(np.arange(n), rng.poisson(rate * 0.3))
        in_peer = self._contacts(in_subs, rng)
        keep = in_peer < 0
        in_subs, in_off = in_subs[keep], -in_peer[keep] - 1
        in_h = self._hours(in_subs, off, rng)
        in_cell = self.locate(in_subs, in_h, d, off, rng)
        cols = dict(
            sub=np.concatenate([subs, callee, in_subs]),
            kind=np.concatenate([kind, np.full(len(callee) + len(in_subs), MOBILE)]),
            num=np.concatenate([num, p.msisdn[subs[on]], p.offnet.number[in_off]]),
            svc=np.concatenate([svc, np.full(len(callee) + len(in_subs), -1)]),
            op=np.concatenate([op, np.full(len(callee), OP_CMCC), 1 + p.offnet.operator[in_off]]),
            mo=np.concatenate([np.ones(m, bool), np.zeros(len(callee) + len(in_subs), bool)]),
            ts=np.concatenate([ts, ts[on], self._timestamps(info.date, in_h, rng)]),
            cell=np.concatenate([cell, c_cell, in_cell]),
        )
        order = _day_order(cols["ts"])
        cols = {k: v[order] for k, v in cols.items()}
        self.usage.sms[mi] += np.bincount(subs, minlength=n)  # bills count sent SMS
        cols["dur"] = np.zeros(len(cols["sub"]), np.int64)
        return self._calls_table(cols, "sms")

    def _current_handset(self, subs: np.ndarray, d: int) -> np.ndarray:
        p = self.pop
        changed = (p.change_day[subs] >= 0) & (p.change_day[subs] <= d)
        return np.where(changed, p.new_handset[subs], p.handset[subs])

    def _xdr(self, d: int, info: cal.Day, off: int, mi: int) -> pa.Table:
        import pyarrow as pa

        from tagcloud.data.model import DATA_XDR, arrow_schema

        p, n = self.pop, self.pop.n
        rng = self._rng(d, 3)
        rate = p.xdr_rate * self._usage_factor(np.arange(n), d) * (1.15 if off else 1.0)
        subs = np.repeat(np.arange(n), rng.poisson(rate))
        hours = self._hours(subs, off, rng)
        u = rng.random(len(subs), dtype=np.float32)
        slot = np.zeros(len(subs), np.int64)
        for k in range(self.fav_cw_t.shape[0] - 1):  # inverse CDF over the few favourite slots
            slot += u > self.fav_cw_t[k][subs]
        app = p.fav_app[subs, slot].astype(np.int64)
        # stock traders check quotes in trading hours on workdays
        if not off:
            tr = np.flatnonzero(p.traits["stock_trader"])
            t_subs = np.repeat(tr, rng.poisson(4.0 * self._usage_factor(tr, d)))
            t_hours = rng.choice([9, 10, 11, 13, 14], len(t_subs))
            t_app = self.stock_apps[rng.integers(len(self.stock_apps), size=len(t_subs))]
            subs, hours, app = (
                np.concatenate([subs, t_subs]),
                np.concatenate([hours, t_hours]),
                np.concatenate([app, t_app]),
            )
        m = len(subs)
        # put the sessions in time order first, so nothing is reordered after the strings exist
        ts = self._timestamps(info.date, hours, rng)
        order = _day_order(ts)
        subs, hours, app, ts = subs[order], hours[order], app[order], ts[order]
        ep = np.searchsorted(self.ep_cw, app + rng.random(m), "right")
        ep = np.minimum(ep, len(self.ep_cw) - 1)
        # content ids: half from the subscriber's favourites (replays), half popular-skewed
        fav = (subs * 7919 + rng.integers(0, 5, m) * 104_729 + ep * 31) % self.ep_span[ep]
        pop_pick = (self.ep_span[ep] * rng.random(m) ** 3).astype(np.int64)
        cid = self.ep_lo[ep] + np.where(rng.random(m) < 0.5, fav, pop_pick)
        chapter = rng.integers(1, 300, m)
        path = self._paths(ep, cid, chapter)
        cell = self.locate(subs, hours, d, off, rng)
        hs = self._current_handset(subs, d)
        five = self.h.supports_5g[hs] & np.where(cell >= 0, self.g.cell_is_5g[np.maximum(cell, 0)], False)
        rat_i = np.where(five, 3, np.where(self.h.supports_4g[hs], 2, 0))
        mb = self.app_mb[app] * rng.lognormal(0, 0.8, m)
        down = (mb * 1e6).astype(np.int64)
        up = (down * rng.uniform(0.02, 0.08, m)).astype(np.int64) + 1200
        dur = np.clip(rng.exponential(1, m) * self.app_sec[app], 1, 86_400).astype(np.int32)
        octet = rng.integers(1, 255, m)
        self.usage.bytes[mi] += np.bincount(subs, weights=(down + up).astype(np.float64), minlength=n)
        rid = self.ids["data_xdr"] + np.arange(m, dtype=np.int64)
        self.ids["data_xdr"] += m
        epa = pa.array(ep)
        arrays = {
            "record_id": pa.array(rid),
            "msisdn": self.msisdn_str.take(pa.array(subs)),
            "start_time": pa.array(ts, pa.timestamp("us")),
            "duration_s": pa.array(dur),
            "cell_id": self.cell_str.take(pa.array(cell, mask=cell < 0)),
            "rat": pa.array(["2G", "3G", "4G", "5G"]).take(pa.array(rat_i)),
            "host": self.ep_host_arr.take(epa),
            "uri_path": path,
            "server_ip": self.ep_ips.take(pa.array(ep * 254 + octet - 1)),
            "server_port": pa.array(self.ep_port[ep]),
            "bytes_up": pa.array(up),
            "bytes_down": pa.array(down),
        }
        schema = arrow_schema(DATA_XDR)
        return pa.table([arrays[f.name] for f in schema], schema=schema)

    def _paths(self, ep: np.ndarray, cid: np.ndarray, chapter: np.ndarray) -> pa.Array:
        """URI paths from endpoint templates: one vectorised join per template (a few dozen)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        out = pa.nulls(len(ep), pa.string())
        pieces: list[pa.Array] = []
        positions: list[np.ndarray] = []
        by_ep = np.argsort(ep.astype(np.int16), kind="stable")  # radix sort: endpoints are few
        bounds = np.searchsorted(ep[by_ep], np.arange(len(self.ep_path) + 1))
        for e, tmpl in enumerate(self.ep_path):
            if tmpl is None or bounds[e] == bounds[e + 1]:
                continue
            at = by_ep[bounds[e] : bounds[e + 1]]
            parts: list[Any] = []
            rest = tmpl
            while rest:
                i_id, i_n = rest.find("{id}"), rest.find("{n}")
                nxt = min(x for x in (i_id, i_n, len(rest)) if x >= 0)
                if nxt > 0:
                    parts.append(rest[:nxt])
                if nxt == len(rest):
                    break
                if rest.startswith("{id}", nxt):
                    parts.append(pa.array(cid[at]).cast(pa.string()))
                    rest = rest[nxt + 4 :]
                else:
                    parts.append(pa.array(chapter[at]).cast(pa.string()))
                    rest = rest[nxt + 3 :]
            arrs = [x if isinstance(x, pa.Array) else pa.scalar(x) for x in parts]
            joined = (
                pc.binary_join_element_wise(*arrs, "")
                if len(arrs) > 1
                else pa.array([tmpl] * len(at), pa.string())
            )
            pieces.append(joined)
            positions.append(at)
        if not pieces:
            return out
        at_all = np.concatenate(positions)
        vals = pa.concat_arrays(pieces)
        # scatter: index of each row into vals, null where the endpoint has no path
        idx = np.full(len(ep), -1, np.int64)
        idx[at_all] = np.arange(len(at_all))
        return vals.take(pa.array(idx, mask=idx < 0))

    def _roaming(self, d: int, info: cal.Day, mi: int) -> pa.Table:
        import pyarrow as pa

        from tagcloud.data.model import ROAMING, arrow_schema

        p = self.pop
        rng = self._rng(d, 4)
        out_subs = np.flatnonzero(p.away[d] >= 0)
        dest = p.away[d, out_subs].astype(np.int64)
        abroad = np.array([c != "CN" for _, _, c in DESTINATIONS])[dest]
        self.usage.roaming_days[mi, out_subs] += 1
        self.usage.roaming_abroad_days[mi, out_subs[abroad]] += 1
        # visitors roaming in: more at the holidays (tourists at our scenic sites)
        k = int(len(self.visitors) * (0.25 if info.festival in ("国庆节", "中秋节") else 0.08))
        vis = np.sort(rng.choice(self.visitors, size=min(k, len(self.visitors)), replace=False))
        from_prov = np.array(["广东", "湖北", "江西", "广西", "贵州", "重庆", "北京", "上海"], object)[
            rng.integers(8, size=len(vis))
        ]
        our_city = np.array([c for c in ("梦州", "澧阳", "桃川", "云溪")], object)[
            rng.integers(4, size=len(vis))
        ]
        prov = np.array([x[0] for x in DESTINATIONS], object)
        city = np.array([x[1] for x in DESTINATIONS], object)
        country = np.array([x[2] for x in DESTINATIONS], object)
        date = np.datetime64(info.date)
        cols = {
            "record_date": pa.array(np.full(len(out_subs) + len(vis), date)),
            "msisdn": pa.concat_arrays(
                [self.msisdn_str.take(pa.array(out_subs)), pa.array(vis).cast(pa.string())]
            ),
            "direction": pa.array(["out"] * len(out_subs) + ["in"] * len(vis), pa.string()),
            "visited_province": pa.array(np.concatenate([prov[dest], from_prov]).tolist(), pa.string()),
            "visited_city": pa.array(np.concatenate([city[dest], our_city]).tolist(), pa.string()),
            "visited_country": pa.array(
                np.concatenate([country[dest], np.full(len(vis), "CN", object)]).tolist(), pa.string()
            ),
        }
        schema = arrow_schema(ROAMING)
        return pa.table([cols[f.name] for f in schema], schema=schema)

    def _payments(self, d: int, info: cal.Day) -> pa.Table:
        import pyarrow as pa

        from tagcloud.data.model import PAYMENTS, arrow_schema

        p, n = self.pop, self.pop.n
        rng = self._rng(d, 5)
        prepaid_pay = ~p.postpaid & (rng.random(n) < 0.035 * np.clip(p.value, 0.3, 3))
        post_pay = p.postpaid & (self.pay_day == info.date.day)
        subs = np.flatnonzero(prepaid_pay | post_pay)
        m = len(subs)
        amounts = np.array([10, 20, 30, 50, 100, 200, 300])
        pre_amt = amounts[np.clip(rng.poisson(np.clip(p.value[subs], 0.2, 4) * 1.5), 0, len(amounts) - 1)]
        fee = np.array([x.monthly_fee for x in PRODUCTS])[self.plan[subs]]
        post_amt = np.round(fee * rng.uniform(1.0, 1.4, m), 2)
        amt = np.where(p.postpaid[subs], post_amt, pre_amt).astype(np.float64)
        young = p.age_band[subs] <= 2
        ch = np.where(young, rng.choice(["app", "web_hall", "bank", "agent"], m, p=[0.6, 0.1, 0.2, 0.1]),
                      rng.choice(["hall", "agent", "bank", "self_terminal", "app"], m, p=[0.35, 0.25, 0.15, 0.1, 0.15]))  # fmt: skip
        ts = self._timestamps(info.date, rng.integers(8, 22, m), rng)
        order = _day_order(ts)
        rid = self.ids["payments"] + np.arange(m, dtype=np.int64)
        self.ids["payments"] += m
        schema = arrow_schema(PAYMENTS)
        cols = {
            "payment_id": pa.array(rid),
            "msisdn": self.msisdn_str.take(pa.array(subs[order])),
            "paid_time": pa.array(ts[order], pa.timestamp("us")),
            "amount": pa.array(np.round(amt[order], 2)).cast(schema.field("amount").type),
            "channel": pa.array(ch[order].tolist(), pa.string()),
        }
        return pa.table([cols[f.name] for f in schema], schema=schema)

    def _service(self, d: int, info: cal.Day, off: int) -> pa.Table:
        import pyarrow as pa

        from tagcloud.data.model import SERVICE_CONTACTS, arrow_schema

        p, n = self.pop, self.pop.n
        rng = self._rng(d, 6)
        comp = p.traits["complaint_prone"]
        # porting questions: rare, more likely the stronger the lean (the decision comes after the window)
        port_p = 0.0002 + p.churn_lean * (0.004 + 0.01 * _lean_ramp(d))
        base_p = 0.006 + np.where(comp, 0.03, 0.0)
        u = rng.random(n)
        is_port = u < port_p
        is_other = ~is_port & (u < port_p + base_p)
        subs = np.flatnonzero(is_port | is_other)
        m = len(subs)
        reason = np.array(_CONTACT_REASONS, object)[rng.integers(len(_CONTACT_REASONS), size=m)]
        complaint = comp[subs] & (rng.random(m) < 0.6)
        reason = np.where(complaint, "complaint", reason)
        reason = np.where(is_port[subs], "porting_inquiry", reason)
        young = p.age_band[subs] <= 2
        ch = np.where(young, rng.choice(["10086", "app", "web_hall", "sms_hall", "hall"], m, p=[0.35, 0.35, 0.1, 0.1, 0.1]),
                      rng.choice(["10086", "hall", "sms_hall", "app"], m, p=[0.55, 0.3, 0.1, 0.05]))  # fmt: skip
        ch = np.where(reason == "complaint", np.where(rng.random(m) < 0.85, "10086", "hall"), ch)
        dur = np.where(
            ch == "10086",
            rng.integers(60, 900, m),
            np.where(ch == "hall", rng.integers(300, 1800, m), rng.integers(20, 300, m)),
        )
        ts = self._timestamps(info.date, rng.integers(8, 22, m), rng)
        order = _day_order(ts)
        rid = self.ids["service_contacts"] + np.arange(m, dtype=np.int64)
        self.ids["service_contacts"] += m
        cols = {
            "contact_id": pa.array(rid),
            "msisdn": self.msisdn_str.take(pa.array(subs[order])),
            "contact_time": pa.array(ts[order], pa.timestamp("us")),
            "channel": pa.array(ch[order].tolist(), pa.string()),
            "reason": pa.array(reason[order].tolist(), pa.string()),
            "duration_s": pa.array(dur[order].astype(np.int32)),
        }
        schema = arrow_schema(SERVICE_CONTACTS)
        return pa.table([cols[f.name] for f in schema], schema=schema)

    def _order_channels(self, subs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        cr = self.pop.channel_response[subs].astype(np.float64)
        cum = np.cumsum(cr / cr.sum(axis=1, keepdims=True), axis=1)
        k = (rng.random(len(subs))[:, None] > cum).sum(axis=1).clip(0, len(CHANNELS) - 1)
        return np.array([_ORDER_CHANNEL[c] for c in CHANNELS], object)[k]

    def _orders(self, d: int, info: cal.Day) -> dict[str, np.ndarray]:
        """Organic orders of the day (no campaign): subscribe by latent propensity, some drops,
        ring-tone changes, and plan upgrades after a 5G handset change."""
        p, n = self.pop, self.pop.n
        rng = self._rng(d, 7)
        cand = np.flatnonzero(rng.random(n) < 0.01)
        j = rng.integers(len(MARKETABLE), size=len(cand))
        prod = np.array([PRODUCT_INDEX[x] for x in MARKETABLE])[j]
        accept = rng.random(len(cand)) < p.propensity[cand, j] * 0.5
        accept &= ~self.holdings[cand, prod]
        s_sub, s_prod = cand[accept], prod[accept]
        is_plan = np.isin(s_prod, self.plan_columns())
        act = np.where(is_plan, "change", "subscribe").astype(object)
        # drops: a held non-plan product, more often by the disaffected
        drop_p = 0.0008 + 0.002 * p.churn_lean
        dsub = np.flatnonzero(rng.random(n) < drop_p)
        held = self.holdings[dsub].copy()
        held[:, list(self.plan_columns())] = False
        has = held.any(axis=1)
        dsub = dsub[has]
        r = rng.random((len(dsub), held.shape[1])) * held[has]
        dprod = r.argmax(axis=1)
        # ring-tone changers change their tone
        rt = np.flatnonzero(p.traits["ringtone_changer"] & (rng.random(n) < 0.03))
        # plan upgrade a few days after switching to a 5G handset
        up = np.flatnonzero((p.change_day == d) & (p.new_handset >= 0) & (rng.random(n) < 0.3))
        up = up[self.h.supports_5g[np.maximum(p.new_handset[up], 0)]]
        up = up[
            ~np.isin(
                self.plan[up],
                [PRODUCT_INDEX["PL_5G128"], PRODUCT_INDEX["PL_5G198"], PRODUCT_INDEX["PL_5G398"]],
            )
        ]
        subs = np.concatenate([s_sub, dsub, rt, up])
        prods = np.concatenate(
            [
                s_prod,
                dprod,
                np.full(len(rt), PRODUCT_INDEX["VAS_CRBT"]),
                np.full(len(up), PRODUCT_INDEX["PL_5G128"]),
            ]
        )
        acts = np.concatenate(
            [
                act,
                np.full(len(dsub), "unsubscribe", object),
                np.full(len(rt), "change", object),
                np.full(len(up), "change", object),
            ]
        )
        # apply to holdings (plans replace the previous plan)
        for s, pr in ((s_sub, s_prod), (up, np.full(len(up), PRODUCT_INDEX["PL_5G128"]))):
            plan_rows = np.isin(pr, self.plan_columns())
            self.holdings[s[plan_rows], self.plan[s[plan_rows]]] = False
            self.plan[s[plan_rows]] = pr[plan_rows]
            self.holdings[s, pr] = True
        self.holdings[dsub, dprod] = False
        ts = self._timestamps(info.date, rng.integers(8, 22, len(subs)), rng)
        ch = self._order_channels(subs, rng)
        return {"sub": subs, "prod": prods, "action": acts, "ts": ts, "channel": ch}

    def plan_columns(self) -> list[int]:
        return [i for i, x in enumerate(PRODUCTS) if x.kind == "plan"]

    def _handset_changes(self, d: int, info: cal.Day) -> dict[str, np.ndarray]:
        p = self.pop
        rng = self._rng(d, 8)
        subs = np.flatnonzero(p.change_day == d)
        return {
            "sub": subs,
            "handset": p.new_handset[subs],
            "ts": self._timestamps(info.date, rng.integers(9, 22, len(subs)), rng),
        }
