"""Accounts and their history: the subscriber snapshot, orders before the window, the handset
history and the monthly bills (6 months before the window from latent profiles, the months inside
it from the generated usage)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from tagcloud.sim.catalogue import PRODUCT_INDEX, PRODUCTS, Handsets
from tagcloud.sim.geography import Geography
from tagcloud.sim.internet import APPS
from tagcloud.sim.personas import AGE_BANDS, PERSONAS
from tagcloud.sim.population import Population

if TYPE_CHECKING:
    import pyarrow as pa

    from tagcloud.sim.behaviour import Usage

_EPOCH = np.datetime64("1970-01-01", "D")
_DAY_US = 86_400 * 1_000_000
ORDER_HISTORY_DAYS = 730  # orders are kept two years: older holdings show their latest order in that span
HANDSET_HISTORY_DAYS = 3 * 365
BILL_HISTORY_MONTHS = 6
# The registered region (开户归属) is where the SIM was sold, not where its user sleeps: this share of
# subscribers bought theirs elsewhere (near work, or in another township of the county: the county
# seat's hall, a market town's agent). An assumption in the 10-20% range (issue 19 §2); the truth keeps
# the true home township.
REGISTERED_ELSEWHERE = 0.15
_FEE = np.array([p.monthly_fee for p in PRODUCTS], float)
_DATA = np.array([p.data_mb for p in PRODUCTS], float)
_VOICE = np.array([p.voice_min for p in PRODUCTS], float)
_IS_PLAN = np.array([p.kind == "plan" for p in PRODUCTS])


def _us(days: np.ndarray) -> np.ndarray:
    """datetime64[D] → microseconds since the epoch (int64)."""
    return (days - _EPOCH).astype(np.int64) * _DAY_US


def subscribers_table(
    pop: Population,
    g: Geography,
    plan: np.ndarray,
    snapshot: dt.date,
    registered_elsewhere: float = REGISTERED_ELSEWHERE,
) -> pa.Table:
    """The BOSS snapshot of every subscriber at the end of the window: only what an operator's systems
    hold (the family-plan payer, not planted families; the registered region, not the true home)."""
    import pyarrow as pa

    from tagcloud.data.model import SUBSCRIBERS, arrow_schema

    n = pop.n
    rng = np.random.default_rng([int(pop.msisdn[0] % 1_000_003), 11])
    # suspension (e.g. unpaid bills) follows the churn lean, not the outcome decided after the window
    status = np.where(rng.random(n) < 0.03 * pop.churn_lean, "suspended", "active")
    group = np.where(
        (pop.work_cell != pop.home_cell) & (g.cell_site[pop.work_cell] >= 0) & (rng.random(n) < 0.35),
        g.cell_site[pop.work_cell],
        -1,
    )
    vnet = np.where(
        group >= 0,
        group,
        np.where(pop.holdings[:, PRODUCT_INDEX["FM_CAMPUS"]], 10_000_000 + pop.school_site, -1),
    )
    region = np.array(g.township_id, object)[registered_township(pop, g, registered_elsewhere)]
    cols = {
        "msisdn": pa.array(pop.msisdn).cast(pa.string()),
        "subscriber_id": pa.array(100_000_000 + np.arange(n, dtype=np.int64) * 7 + 3),
        "brand": pa.array(["gotone", "mzone", "easyown"]).take(pa.array(pop.brand.astype(np.int64))),
        "plan_id": pa.array([p.product_id for p in PRODUCTS]).take(pa.array(plan.astype(np.int64))),
        "join_date": pa.array(pop.join_date.astype("datetime64[D]")),
        "status": pa.array(status.tolist(), pa.string()),
        "payment_type": pa.array(np.where(pop.postpaid, "postpaid", "prepaid").tolist(), pa.string()),
        "age_band": pa.array(list(AGE_BANDS)).take(pa.array(pop.age_band.astype(np.int64))),
        "gender": pa.array(["M", "F"]).take(pa.array(pop.gender.astype(np.int64))),
        "group_id": _ids("G", group),
        "vnet_id": _ids("V", vnet),
        "family_vnet_id": _ids("FV", np.where(pop.family_vnet, pop.family_id, -1)),
        # the payer of a family plan (family V-net); planted families without one have no head on record
        "is_family_head": pa.array(pop.is_family_head & (pop.family_id >= 0) & pop.family_vnet),
        "home_region_id": pa.array(region.tolist(), pa.string()),
        "snapshot_date": pa.array(np.full(n, np.datetime64(snapshot))),
    }
    schema = arrow_schema(SUBSCRIBERS)
    return pa.table([cols[f.name] for f in schema], schema=schema)


def registered_township(pop: Population, g: Geography, share: float) -> np.ndarray:
    """Township index of each subscriber's registered region: the home township, except for ``share``
    of subscribers (drawn independently of everything else), whose SIM was sold near their work cell
    (when that is in another township) or else in another township of the home county."""
    rng = np.random.default_rng([int(pop.msisdn[0] % 1_000_003), 13])
    home = g.cell_township[pop.home_cell].astype(np.int64)
    out = home.copy()
    moved = np.flatnonzero(rng.random(pop.n) < share)
    work = g.cell_township[pop.work_cell[moved]].astype(np.int64)
    near_work = (work != home[moved]) & (rng.random(len(moved)) < 0.5)
    out[moved[near_work]] = work[near_work]
    rest = moved[~near_work]
    county = g.township_county[home[rest]]
    by_county = {int(c): np.flatnonzero(g.township_county == c) for c in np.unique(county)}
    for c, members in by_county.items():
        sel = rest[county == c]
        if len(members) < 2 or len(sel) == 0:
            continue
        grid = np.broadcast_to(members, (len(sel), len(members)))
        others = grid[grid != home[sel][:, None]].reshape(len(sel), -1)  # each row: the county less home
        out[sel] = others[np.arange(len(sel)), rng.integers(others.shape[1], size=len(sel))]
    return out


def _ids(prefix: str, values: np.ndarray) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    v = np.asarray(values, np.int64)
    s = pc.binary_join_element_wise(pa.scalar(prefix), pa.array(np.maximum(v, 0)).cast(pa.string()), "")
    return pc.if_else(pa.array(v >= 0), s, pa.scalar(None, pa.string()))


def historical_orders(pop: Population, start: dt.date, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One order per product held at the start of the window (plans: subscribe at joining, or a
    change within the kept history), plus subscribe/unsubscribe pairs of products tried and dropped."""
    n = pop.n
    s0 = np.datetime64(start)
    earliest = np.maximum(pop.join_date, s0 - np.timedelta64(ORDER_HISTORY_DAYS, "D"))
    span = (s0 - earliest).astype(np.int64)
    sub, prod = np.nonzero(pop.holdings)
    when = earliest[sub] + (rng.random(len(sub)) * np.maximum(span[sub], 1)).astype("timedelta64[D]")
    is_plan = _IS_PLAN[prod]
    joined_recently = pop.join_date[sub] >= earliest[sub] + np.timedelta64(1, "D")
    when = np.where(is_plan & joined_recently, pop.join_date[sub], when)
    action = np.where(is_plan & ~joined_recently, "change", "subscribe").astype(object)
    # tried and dropped: about one in ten subscribers
    t = np.flatnonzero(rng.random(n) < 0.1)
    nonplan = np.flatnonzero(~_IS_PLAN)
    tp = nonplan[rng.integers(len(nonplan), size=len(t))]
    tp_ok = ~pop.holdings[t, tp]
    t, tp = t[tp_ok], tp[tp_ok]
    t_on = earliest[t] + (rng.random(len(t)) * np.maximum(span[t] - 30, 1)).astype("timedelta64[D]")
    t_off = t_on + rng.integers(30, 180, len(t)).astype("timedelta64[D]")
    t_off = np.minimum(t_off, s0 - np.timedelta64(1, "D"))
    subs = np.concatenate([sub, t, t])
    prods = np.concatenate([prod, tp, tp])
    days = np.concatenate([when, t_on, t_off])
    acts = np.concatenate(
        [action, np.full(len(t), "subscribe", object), np.full(len(t), "unsubscribe", object)]
    )
    ts = _us(days.astype("datetime64[D]")) + rng.integers(8 * 3600, 21 * 3600, len(subs)) * 1_000_000
    cr = pop.channel_response[subs]
    k = (rng.random(len(subs))[:, None] > np.cumsum(cr / cr.sum(1, keepdims=True), 1)).sum(1).clip(0, 5)
    ch = np.array(["sms_hall", "outbound", "10086", "hall", "web_hall", "app"], object)[k]
    ch = np.where(acts == "subscribe", ch, np.where(rng.random(len(subs)) < 0.5, "hall", "10086"))
    return {"sub": subs, "prod": prods, "action": acts, "ts": ts, "channel": ch}


def orders_table(
    o: dict[str, np.ndarray], pop: Population, first_id: int, campaign: np.ndarray | None = None
) -> pa.Table:
    """An ``orders`` table from order columns (ids assigned in time order from ``first_id``)."""
    import pyarrow as pa

    from tagcloud.data.model import ORDERS, arrow_schema

    order = np.argsort(o["ts"], kind="stable")
    m = len(order)
    cols = {
        "order_id": pa.array(first_id + np.arange(m, dtype=np.int64)),
        "msisdn": pa.array(pop.msisdn[o["sub"][order]]).cast(pa.string()),
        "product_id": pa.array([p.product_id for p in PRODUCTS]).take(
            pa.array(o["prod"][order].astype(np.int64))
        ),
        "action": pa.array(o["action"][order].tolist(), pa.string()),
        "order_time": pa.array(o["ts"][order], pa.timestamp("us")),
        "channel": pa.array(o["channel"][order].tolist(), pa.string()),
        "campaign_id": pa.nulls(m, pa.string()),
    }
    schema = arrow_schema(ORDERS)
    return pa.table([cols[f.name] for f in schema], schema=schema)


def handset_history(
    pop: Population, h: Handsets, start: dt.date, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Handsets seen before the window: the current one and, for most, the one before it."""
    n = pop.n
    s0 = np.datetime64(start)
    earliest = np.maximum(pop.join_date, s0 - np.timedelta64(HANDSET_HISTORY_DAYS, "D"))
    span = np.maximum((s0 - earliest).astype(np.int64), 2)
    cur_day = earliest + (rng.random(n) * span).astype("timedelta64[D]")
    prev = (rng.random(n) < 0.6) & (cur_day > earliest + np.timedelta64(30, "D"))
    prev_day = earliest + (rng.random(n) * np.maximum((cur_day - earliest).astype(np.int64) - 1, 1)).astype(
        "timedelta64[D]"
    )
    older = np.flatnonzero(~h.supports_5g & (h.release_year <= 2021))
    prev_h = older[rng.integers(len(older), size=n)]
    subs = np.concatenate([np.arange(n), np.flatnonzero(prev)])
    hs = np.concatenate([pop.handset, prev_h[prev]])
    days = np.concatenate([cur_day, prev_day[prev]])
    ts = _us(days.astype("datetime64[D]")) + rng.integers(8 * 3600, 22 * 3600, len(subs)) * 1_000_000
    return {"sub": subs, "handset": hs, "ts": ts}


def imei_of(sub: np.ndarray, handset: np.ndarray, h: Handsets, salt: int) -> np.ndarray:
    """15-digit IMEIs: TAC + 6-digit serial + Luhn check digit; stable per (subscriber, handset)."""
    tac = np.array([int(t) for t in h.tac.tolist()], np.int64)[handset]
    serial = (sub.astype(np.int64) * 7_919 + handset.astype(np.int64) * 104_729 + salt) % 1_000_000
    body = tac * 1_000_000 + serial  # 14 digits
    digits = np.stack([(body // 10**k) % 10 for k in range(13, -1, -1)], axis=1)  # most significant first
    # Luhn: double every second digit from the right of the 14-digit body (positions 1, 3, … from the left)
    dbl = digits[:, 1::2] * 2
    total = digits[:, 0::2].sum(1) + (dbl // 10 + dbl % 10).sum(1)
    check = (10 - total % 10) % 10
    return np.char.zfill((body * 10 + check).astype(str), 15).astype(object)


def handsets_rows_table(rows: dict[str, np.ndarray], pop: Population, h: Handsets, salt: int) -> pa.Table:
    import pyarrow as pa

    from tagcloud.data.model import SUBSCRIBER_HANDSETS, arrow_schema

    order = np.argsort(rows["ts"], kind="stable")
    sub, hs, ts = rows["sub"][order], rows["handset"][order].astype(np.int64), rows["ts"][order]
    cols = {
        "msisdn": pa.array(pop.msisdn[sub]).cast(pa.string()),
        "imei": pa.array(imei_of(sub, hs, h, salt).tolist(), pa.string()),
        "tac": pa.array(h.tac.tolist(), pa.string()).take(pa.array(hs)),
        "first_seen": pa.array(ts, pa.timestamp("us")),
    }
    schema = arrow_schema(SUBSCRIBER_HANDSETS)
    return pa.table([cols[f.name] for f in schema], schema=schema)


def latent_daily_usage(pop: Population) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected minutes, sent SMS and bytes per day of each subscriber (for months not simulated)."""
    call_min = np.array([p.call_minutes for p in PERSONAS])[pop.persona]
    minutes = pop.call_rate * 1.75 * call_min  # own calls plus answered ones
    app_mb = np.array([a.mb_per_session for a in APPS])
    slot_w = np.diff(np.c_[np.zeros(pop.n), pop.fav_cw], axis=1)
    mb = (slot_w * app_mb[pop.fav_app]).sum(1) * np.exp(0.32)  # mean of the lognormal session volume
    return minutes, pop.sms_rate.copy(), pop.xdr_rate * mb * 1e6 * 1.05


def bills(
    pop: Population,
    usage: Usage,
    holdings: np.ndarray,
    plan: np.ndarray,
    start: dt.date,
    rng: np.random.Generator,
) -> list[tuple[dt.date, pa.Table]]:
    """Monthly bills: BILL_HISTORY_MONTHS before the window, then each month the window touches."""
    n = pop.n
    minutes_d, sms_d, bytes_d = latent_daily_usage(pop)
    first = start.replace(day=1)
    months: list[dt.date] = []
    y, m = first.year, first.month
    for _ in range(BILL_HISTORY_MONTHS):
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        months.insert(0, dt.date(y, m, 1))
    months += usage.months
    out = []
    vas_fee = (holdings & ~_IS_PLAN) @ _FEE
    pre_vas = (pop.holdings & ~_IS_PLAN) @ _FEE
    for i, month in enumerate(months):
        days_in = _days_in_month(month)
        noise = rng.lognormal(0, 0.15, (3, n))
        if month in usage.months:
            j = usage.months.index(month)
            missing = days_in - usage.sim_days[j]
            # the simulated days plus the latent level for the rest of the month
            mou = usage.minutes[j] + minutes_d * missing * noise[0]
            sms = usage.sms[j] + sms_d * missing * noise[1]
            byts = usage.bytes[j] + bytes_d * missing * noise[2]
            abroad = usage.roaming_abroad_days[j]
            p_now, vas = plan, vas_fee
        else:
            fade = 1.0 - 0.05 * pop.churn_lean * max(0, i - (BILL_HISTORY_MONTHS - 3))
            mou, sms, byts = (minutes_d * days_in * noise[0] * fade, sms_d * days_in * noise[1] * fade,
                              bytes_d * days_in * noise[2] * fade)  # fmt: skip
            abroad = np.where(pop.traits["hk_macau_traveller"], rng.poisson(1.0, n), 0)
            p_now, vas = pop.plan.astype(np.int64), pre_vas
        dou = byts / 1e6
        fee_plan = _FEE[p_now]
        fee_voice = np.maximum(0, mou - _VOICE[p_now]) * 0.1
        fee_data = np.minimum(np.maximum(0, dou - _DATA[p_now]) / 1024 * 3.0, 100.0)
        fee_sms = sms * 0.1
        fee_roam = abroad * 25.0
        arpu = fee_plan + fee_voice + fee_data + fee_sms + vas + fee_roam
        balance = np.where(pop.postpaid, 0.0, rng.uniform(2, 80, n) * np.clip(pop.value, 0.3, 3))
        out.append(
            (
                month,
                _bill_table(
                    month,
                    pop,
                    arpu,
                    dou,
                    mou,
                    sms,
                    balance,
                    fee_plan,
                    fee_voice,
                    fee_data,
                    fee_sms,
                    vas,
                    fee_roam,
                ),
            )
        )
    return out


def _days_in_month(m: dt.date) -> int:
    nxt = dt.date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return (nxt - m).days


def _bill_table(month: dt.date, pop: Population, *vals: np.ndarray) -> pa.Table:
    import pyarrow as pa

    from tagcloud.data.model import BILLING_MONTHLY, arrow_schema

    arpu, dou, mou, sms, balance, fp, fv, fd, fs, fvas, fr = vals
    schema = arrow_schema(BILLING_MONTHLY)

    def dec(name: str, x: np.ndarray) -> pa.Array:
        return pa.array(np.round(np.asarray(x, np.float64), 2)).cast(schema.field(name).type)

    cols = {
        "bill_month": pa.array(np.full(pop.n, np.datetime64(month))),
        "msisdn": pa.array(pop.msisdn).cast(pa.string()),
        "arpu": dec("arpu", arpu),
        "dou_mb": pa.array(np.round(dou, 3)),
        "mou_min": pa.array(np.round(mou, 2)),
        "sms_count": pa.array(np.round(sms).astype(np.int32)),
        "balance": dec("balance", balance),
        "fee_plan": dec("fee_plan", fp),
        "fee_voice": dec("fee_voice", fv),
        "fee_data": dec("fee_data", fd),
        "fee_sms": dec("fee_sms", fs),
        "fee_vas": dec("fee_vas", fvas),
        "fee_roaming": dec("fee_roaming", fr),
    }
    return pa.table([cols[f.name] for f in schema], schema=schema)
