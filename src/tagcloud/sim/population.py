"""The population: subscribers with their latent profile, social graph and whereabouts.

Everything here is a column (numpy array indexed by subscriber position); no loop runs per
subscriber. Loops run over personas, products, days and festival blocks only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from tagcloud.sim import calendar as cal
from tagcloud.sim.catalogue import (
    COMPETITORS,
    MARKETABLE,
    NUMBER_RANGES,
    OWN_PREFIXES,
    PLANS,
    PRODUCT_INDEX,
    PRODUCTS,
    Handsets,
)
from tagcloud.sim.geography import AT, RURAL, Geography
from tagcloud.sim.internet import APPS
from tagcloud.sim.personas import AGE_BANDS, CATEGORIES, PERSONA_INDEX, PERSONAS, TRAITS

CHANNELS: tuple[str, ...] = ("sms", "outbound", "10086", "hall", "web_hall", "app")
RURAL_TYPES: tuple[str, ...] = ("stay_home", "county_worker", "out_county_worker")
# Where our subscribers roam: (province, city, ISO country); province is None abroad.
DESTINATIONS: tuple[tuple[str | None, str, str], ...] = (
    ("广东", "广州", "CN"), ("广东", "深圳", "CN"), ("广东", "东莞", "CN"), ("浙江", "杭州", "CN"),
    ("浙江", "宁波", "CN"), ("江苏", "苏州", "CN"), ("上海", "上海", "CN"), ("北京", "北京", "CN"),
    ("福建", "厦门", "CN"), ("湖北", "武汉", "CN"), (None, "香港", "HK"), (None, "澳门", "MO"),
)  # fmt: skip
_MIGRANT_DEST = np.array([0, 1, 2, 3, 4, 5, 6, 8])  # factories and building sites of the coast
_BUSINESS_DEST = np.array([0, 1, 3, 6, 7, 9])
_HKMO = np.array([10, 11])
# Chance a migrant comes home for a festival that falls in the window.
_RETURN = {"春节": 0.95, "国庆节": 0.85, "中秋节": 0.5, "农忙": 0.35}
N_FAV_APPS = 8


@dataclass
class OffNet:
    """Numbers of other operators our subscribers talk to."""

    number: np.ndarray  # int64 11-digit numbers
    operator: np.ndarray  # index into COMPETITORS
    township: np.ndarray  # home township of the person
    is_migrant: np.ndarray  # a competitor's migrant worker who calls home to our township users


@dataclass
class Population:
    n: int
    days: list[cal.Day]
    msisdn: np.ndarray  # int64
    persona: np.ndarray  # int8 index into PERSONAS
    home_cell: np.ndarray
    work_cell: np.ndarray
    traits: dict[str, np.ndarray]
    family_id: np.ndarray  # -1: none
    is_family_head: np.ndarray
    family_vnet: np.ndarray  # bool: the family is on a family V-net
    school_site: np.ndarray  # -1: not a student
    rural_type: np.ndarray  # -1 or index into RURAL_TYPES
    influence: np.ndarray
    churn_prob: np.ndarray
    churner: np.ndarray  # churns in the month after the window (the label), drawn from churn_prob alone
    churn_day: np.ndarray  # day index (0 = window start) of the churn, >= len(days); -1: stays
    churn_lean: np.ndarray  # 0..1: how strongly the pre-decision signs show; from churn_prob, not the label
    value: np.ndarray  # spend multiplier; value tier derives from it
    call_rate: np.ndarray
    sms_rate: np.ndarray
    xdr_rate: np.ndarray
    age_band: np.ndarray  # index into AGE_BANDS
    gender: np.ndarray  # 0 M, 1 F
    brand: np.ndarray  # 0 gotone, 1 mzone, 2 easyown
    postpaid: np.ndarray
    plan: np.ndarray  # index into PRODUCTS
    join_date: np.ndarray  # datetime64[D]
    handset: np.ndarray  # handset index at the start of the window
    new_handset: np.ndarray  # handset after a change inside the window (-1: none)
    change_day: np.ndarray  # window day of the change (-1: none)
    fav_app: np.ndarray  # [n, N_FAV_APPS] app indexes
    fav_cw: np.ndarray  # [n, N_FAV_APPS] cumulative weights
    interests: dict[str, np.ndarray]
    holdings: np.ndarray  # [n, len(PRODUCTS)] bool: products held at the start of the window
    propensity: np.ndarray  # [n, len(MARKETABLE)] latent acceptance probability
    channel_response: np.ndarray  # [n, len(CHANNELS)]
    away: np.ndarray  # [days, n] int8: -1 in the province, else index into DESTINATIONS
    # social graph, CSR by subscriber: peer >= 0 on-net subscriber, < 0 off-net -(index + 1)
    indptr: np.ndarray
    peer: np.ndarray
    cw: np.ndarray  # global cumulative weights: subscriber s spans (s, s + 1]
    offnet: OffNet
    migrant_links: tuple[np.ndarray, np.ndarray]  # (off-net migrant index, our subscriber) pairs
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def value_tier(self) -> np.ndarray:
        return np.digitize(self.value, [0.6, 1.3])  # 0 low, 1 mid, 2 high


def _group_pick(
    keys: np.ndarray, members: np.ndarray, want: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """For each wanted key, a random member whose key equals it (-1 where the key has no member)."""
    if len(members) == 0:
        return np.full(len(want), -1, np.int64)
    order = members[np.argsort(keys[members], kind="stable")]
    sk = keys[order]
    lo = np.searchsorted(sk, want, "left")
    hi = np.searchsorted(sk, want, "right")
    cnt = hi - lo
    pick = lo + (rng.random(len(want)) * np.maximum(cnt, 1)).astype(np.int64)
    return np.where(cnt > 0, order[np.minimum(pick, len(order) - 1)], -1)


def _group_pick_weighted(
    keys: np.ndarray, members: np.ndarray, weight: np.ndarray, want: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Like :func:`_group_pick`, but a member is picked with probability proportional to ``weight``
    (indexed like ``keys``): popular people are chosen as contacts more often."""
    if len(members) == 0:
        return np.full(len(want), -1, np.int64)
    order = members[np.argsort(keys[members], kind="stable")]
    sk = keys[order]
    cum = np.r_[0.0, np.cumsum(weight[order])]
    lo = np.searchsorted(sk, want, "left")
    hi = np.searchsorted(sk, want, "right")
    u = cum[lo] + rng.random(len(want)) * (cum[hi] - cum[lo])
    pick = np.clip(np.searchsorted(cum, u, "right") - 1, lo, np.maximum(hi - 1, lo))
    return np.where(hi > lo, order[np.minimum(pick, len(order) - 1)], -1)


def _cells_of(g: Geography, areas: tuple[str, ...]) -> np.ndarray:
    return np.flatnonzero(np.isin(g.cell_area, [AT[a] for a in areas]))


def _numbers(prefixes: tuple[str, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct 11-digit numbers under the given 3-digit prefixes."""
    p = np.array([int(x) for x in prefixes], np.int64)
    draw = p[rng.integers(len(p), size=int(n * 1.05) + 16)] * 100_000_000 + rng.integers(
        0, 100_000_000, int(n * 1.05) + 16
    )
    u = np.unique(draw)
    while len(u) < n:  # astronomically rare; keep drawing until distinct
        extra = p[rng.integers(len(p), size=n)] * 100_000_000 + rng.integers(0, 100_000_000, n)
        u = np.unique(np.concatenate([u, extra]))
    return rng.permutation(u)[:n]


def build_population(
    n: int,
    g: Geography,
    handsets: Handsets,
    start: dt.date,
    n_days: int,
    rng: np.random.Generator,
    share_factors: tuple[float, ...] = (),
) -> Population:
    """Draw ``n`` subscribers in province ``g`` for a window of ``n_days`` from ``start``.
    ``share_factors`` (one per persona; the test profile's) scale the personas' shares."""
    days = [cal.day(start + dt.timedelta(days=i)) for i in range(n_days)]
    shares = np.array([p.share for p in PERSONAS]) * (np.asarray(share_factors) if share_factors else 1.0)
    persona = rng.choice(len(PERSONAS), size=n, p=shares / shares.sum()).astype(np.int8)
    home = np.full(n, -1, np.int64)
    work = np.full(n, -1, np.int64)
    school = np.full(n, -1, np.int64)
    rural_type = np.full(n, -1, np.int8)
    cell_town = g.cell_township.astype(np.int64)
    cell_county = g.cell_county.astype(np.int64)
    cell_city = g.cell_city.astype(np.int64)
    # Rural homes: weight townships so that poorer ones send more migrants out.
    mig_share = g.township_migrant_share
    rural_cells = _cells_of(g, ("rural_township",))
    for pi, p in enumerate(PERSONAS):
        idx = np.flatnonzero(persona == pi)
        m = len(idx)
        if m == 0:
            continue
        cand = _cells_of(g, p.home)
        if p.name == "migrant_worker":
            w = mig_share[cell_town[rural_cells]]
            home[idx] = rural_cells[rng.choice(len(rural_cells), m, p=w / w.sum())]
        elif p.name in ("rural_stay_home", "county_worker", "out_county_worker"):
            w = 1.0 - mig_share[cell_town[rural_cells]]
            home[idx] = rural_cells[rng.choice(len(rural_cells), m, p=w / w.sum())]
            rural_type[idx] = ("rural_stay_home", "county_worker", "out_county_worker").index(p.name)
        else:
            home[idx] = cand[rng.integers(len(cand), size=m)]
        wc = _cells_of(g, p.work_areas)
        if p.work == "campus":  # dorm and teaching buildings of one campus
            work[idx] = _group_pick(
                g.cell_site.astype(np.int64), wc, g.cell_site[home[idx]].astype(np.int64), rng
            )
            school[idx] = g.cell_site[home[idx]]
        elif p.work == "school":  # the middle school of the home county
            work[idx] = _group_pick(cell_county, wc, cell_county[home[idx]], rng)
            school[idx] = np.where(work[idx] >= 0, g.cell_site[np.maximum(work[idx], 0)], -1)
        elif p.work == "city":
            work[idx] = _group_pick(cell_city, wc, cell_city[home[idx]], rng)
        elif p.work == "same_township":
            work[idx] = _group_pick(cell_town, rural_cells, cell_town[home[idx]], rng)
        elif p.work == "county":
            # another township of the home county: draw until the township differs
            w_ = _group_pick(cell_county, wc, cell_county[home[idx]], rng)
            for _ in range(6):
                same = (w_ >= 0) & (cell_town[np.maximum(w_, 0)] == cell_town[home[idx]])
                if not same.any():
                    break
                w_[same] = _group_pick(cell_county, wc, cell_county[home[idx][same]], rng)
            w_[(w_ >= 0) & (cell_town[np.maximum(w_, 0)] == cell_town[home[idx]])] = -1
            work[idx] = w_
        elif p.work == "out_county":
            w_ = wc[rng.integers(len(wc), size=m)]
            for _ in range(6):
                same = cell_county[w_] == cell_county[home[idx]]
                if not same.any():
                    break
                w_[same] = wc[rng.integers(len(wc), size=int(same.sum()))]
            work[idx] = w_
    # Where no suitable work cell exists (tiny provinces), work where one lives.
    work = np.where(work < 0, home, work)
    # county workers that could not be placed outside their township are stay-home after all
    rural_type[(rural_type == 1) & (cell_town[work] == cell_town[home])] = 0
    school = np.where((persona == PERSONA_INDEX["middle_school_student"]) & (work == home), -1, school)

    traits = {t: np.zeros(n, bool) for t in TRAITS}
    for pi, p in enumerate(PERSONAS):
        idx = np.flatnonzero(persona == pi)
        for t, prob in p.traits.items():
            traits[t][idx] = rng.random(len(idx)) < prob
    is_bt = persona == PERSONA_INDEX["business_traveller"]
    influence = np.exp(rng.normal(0, 0.6, n))
    influence /= np.median(influence)

    # Families: members share the night cell. Sort family-minded subscribers by home cell and cut
    # runs into households of 2-4.
    fam_idx = np.flatnonzero(traits["family"])
    fam_idx = fam_idx[np.lexsort((rng.random(len(fam_idx)), home[fam_idx]))]
    hc = home[fam_idx]
    new_cell = np.r_[True, hc[1:] != hc[:-1]]
    run_start = np.maximum.accumulate(np.where(new_cell, np.arange(len(hc)), 0))
    pos = np.arange(len(hc)) - run_start
    size = 2 + (rng.random(len(hc)) < 0.5) + (rng.random(len(hc)) < 0.3)
    # household number within the cell run: position // size of the run's first member
    hh = pos // size[run_start]
    fam_key = np.r_[True, (hh[1:] != hh[:-1]) | new_cell[1:]]
    fam_local = np.cumsum(fam_key) - 1
    family_id = np.full(n, -1, np.int64)
    family_id[fam_idx] = fam_local
    counts = np.bincount(fam_local) if len(fam_local) else np.zeros(0, np.int64)
    single = counts[family_id[fam_idx]] < 2
    family_id[fam_idx[single]] = -1
    traits["family"] = family_id >= 0
    # the head is the oldest-persona adult: pick the first non-student member of each family
    head = np.zeros(n, bool)
    fam_members = np.flatnonzero(family_id >= 0)
    student = np.isin(persona, [PERSONA_INDEX["middle_school_student"], PERSONA_INDEX["university_student"]])
    order = fam_members[np.lexsort((student[fam_members], family_id[fam_members]))]
    first = np.r_[True, family_id[order][1:] != family_id[order][:-1]]
    head[order[first]] = True
    n_fam = int(family_id.max()) + 1 if len(fam_members) else 0
    fam_vnet_by_family = rng.random(max(n_fam, 1)) < 0.4
    family_vnet = np.where(family_id >= 0, fam_vnet_by_family[np.maximum(family_id, 0)], False)

    # Demographics and account.
    age = np.zeros(n, np.int8)
    brand = np.zeros(n, np.int8)
    postpaid = np.zeros(n, bool)
    value = np.exp(rng.normal(0, 0.35, n))
    churn_base = np.zeros(n)
    five_g = np.zeros(n)
    for pi, p in enumerate(PERSONAS):
        idx = np.flatnonzero(persona == pi)
        bands = list(p.age)
        w = np.array([p.age[b] for b in bands])
        age[idx] = np.array([AGE_BANDS.index(b) for b in bands])[
            rng.choice(len(bands), len(idx), p=w / w.sum())
        ]
        brand[idx] = rng.choice(3, len(idx), p=np.array(p.brand) / sum(p.brand))
        postpaid[idx] = rng.random(len(idx)) < p.postpaid
        value[idx] *= p.value
        churn_base[idx] = p.churn
        five_g[idx] = p.five_g
    gender = (rng.random(n) < 0.49).astype(np.int8)
    tenure_days = (rng.exponential(6 * 365, n) + 30).astype(np.int64)
    tenure_days = np.where(
        persona == PERSONA_INDEX["university_student"], rng.integers(60, 4 * 365, n), tenure_days
    )
    tenure_days = np.minimum(tenure_days, 20 * 365)
    join_date = np.datetime64(start) - tenure_days.astype("timedelta64[D]")

    # Churn: a latent probability of leaving in the month after the window. The label is drawn from it
    # alone, on a churn day after the window, so nothing inside the window knows the outcome; the
    # pre-decision signs (fading use, competitor calls, porting questions) follow churn_lean, a noisy
    # copy of the probability, so a model can approach but not beat the probability's own AUC.
    # Besides the observable drivers, an unobserved dissatisfaction (network, price, a rival's offer)
    # spreads the probability; it shows only through the pre-decision signs. exp(-0.5) keeps its mean 1.
    dissatisfaction = np.exp(rng.normal(-0.18, 0.6, n))
    churn_prob = np.clip(
        churn_base * (1 + 1.5 * traits["complaint_prone"] + 1.0 * traits["dual_sim"])
        * np.clip(1.8 - 0.7 * np.minimum(value, 2), 0.3, None)  # low spenders leave more easily
        * np.where(tenure_days < 365, 2.5, np.where(tenure_days < 3 * 365, 1.4, 0.8))  # and newcomers
        * dissatisfaction / 1.4,  # 1.4: the mean of the factors above, so the churn rate stays ~4.5%
        0.002, 0.6,
    )  # fmt: skip
    churner = rng.random(n) < churn_prob
    churn_day = np.where(churner, n_days + rng.integers(0, 30, n), -1)
    churn_lean = np.clip(churn_prob / 0.2 * np.exp(rng.normal(0, 0.1, n)), 0.0, 1.0)

    # Handsets: 5G with the persona's odds; feature phones for some elderly.
    h5 = np.flatnonzero(handsets.supports_5g)
    h4 = np.flatnonzero(~handsets.supports_5g & (handsets.os != "feature"))
    hf = np.flatnonzero(handsets.os == "feature")
    wants5 = rng.random(n) < five_g * np.minimum(value, 1.5)
    elderly_feature = (age >= AGE_BANDS.index("55-64")) & (rng.random(n) < 0.3)

    def pick(pool: np.ndarray, m: int) -> np.ndarray:
        w = handsets.weight[pool]
        return pool[rng.choice(len(pool), m, p=w / w.sum())]

    handset = np.where(wants5, pick(h5, n), pick(h4, n))
    handset = np.where(elderly_feature, pick(hf, n), handset)
    change = rng.random(n) < 0.045 * n_days / 30
    change_day = np.where(change, rng.integers(0, max(n_days, 1), n), -1)
    new_handset = np.where(change, np.where(rng.random(n) < 0.7, pick(h5, n), pick(h4, n)), -1)
    has5g_end = handsets.supports_5g[handset] | (
        (new_handset >= 0) & handsets.supports_5g[np.maximum(new_handset, 0)]
    )

    # Usage rates per subscriber-day (individual variation around the persona's means).
    call_rate = np.zeros(n)
    sms_rate = np.zeros(n)
    xdr_rate = np.zeros(n)
    for pi, p in enumerate(PERSONAS):
        idx = np.flatnonzero(persona == pi)
        call_rate[idx] = p.calls
        sms_rate[idx] = p.sms
        xdr_rate[idx] = p.xdr
    # seed 003: influential people spread information: they call and text more (not perfectly)
    # (each factor divided by its mean, so the persona's volumes stay as they were)
    spread = influence.clip(0.3, 4)
    call_rate *= np.clip(rng.gamma(6, 1 / 6, n), 0.4, 3) * spread**0.7 / np.mean(spread**0.7)
    sms_rate *= spread**0.3 / np.mean(spread**0.3)
    sms_rate *= np.clip(rng.gamma(8, 1 / 8, n), 0.6, 3)
    xdr_rate *= (
        np.clip(rng.gamma(5, 1 / 5, n), 0.3, 3) * spread**0.15 / np.mean(spread**0.15)
    )  # more services
    xdr_rate = np.where(traits["dual_sim"], xdr_rate * 0.06, xdr_rate)  # data on the other card
    xdr_rate = np.where(traits["heavy_video"] | traits["gamer"], xdr_rate * 1.4, xdr_rate)
    xdr_rate = np.where(handsets.os[handset] == "feature", xdr_rate * 0.05, xdr_rate)

    # Favourite apps: persona category weights, boosted by interest traits.
    cat_w = np.array([[p.categories.get(c, 0.0) for c in CATEGORIES] for p in PERSONAS])[persona]
    boost = {"heavy_video": "video", "gamer": "game", "music_lover": "music", "novel_reader": "novel",
             "stock_trader": "stock", "car_owner": "car"}  # fmt: skip
    for t, c in boost.items():
        cat_w[:, CATEGORIES.index(c)] *= np.where(traits[t], 6.0, 1.0)
    shared = traits["shared_handset"]
    cat_w[shared] = cat_w[shared] + cat_w[shared].mean(axis=0) * 1.5  # a second user's tastes mixed in
    app_cat = np.array([CATEGORIES.index(a.category) for a in APPS])
    # draw N_FAV_APPS apps per subscriber: category by weight, then an app of that category
    cat_cum = np.cumsum(cat_w / cat_w.sum(axis=1, keepdims=True), axis=1)
    u = rng.random((n, N_FAV_APPS))
    fav_cat = (u[:, :, None] > cat_cum[:, None, :]).sum(axis=2).clip(0, len(CATEGORIES) - 1)
    apps_by_cat = [np.flatnonzero(app_cat == c) for c in range(len(CATEGORIES))]
    fav_app = np.zeros((n, N_FAV_APPS), np.int16)
    for ci, members in enumerate(apps_by_cat):
        mask = fav_cat == ci
        if len(members) and mask.any():
            fav_app[mask] = members[rng.integers(len(members), size=int(mask.sum()))]
    # weights: the first favourites dominate (Zipf-like), so each person has a main app or two
    fav_w = (1.0 / np.arange(1, N_FAV_APPS + 1) ** 1.1)[None, :] * rng.uniform(0.7, 1.3, (n, N_FAV_APPS))
    fav_w *= cat_w[np.arange(n)[:, None], fav_cat] / cat_w.max(axis=1, keepdims=True)
    fav_cw = np.cumsum(fav_w, axis=1)
    fav_cw /= fav_cw[:, -1:]
    interests: dict[str, np.ndarray] = {
        k: np.asarray(np.isin(fav_cat[:, :3], [CATEGORIES.index(c) for c in cs]).any(axis=1))
        for k, cs in INTEREST_SOURCES.items()
    }
    for t, c in boost.items():
        key = {
            "video": "video",
            "game": "game",
            "music": "music",
            "novel": "novel",
            "stock": "stock",
            "car": "car",
        }[c]
        interests[key] |= traits[t]

    # Social graph.
    indptr, peer, cw, offnet, migrant_links, edge_src, edge_dst = _social_graph(
        n, g, persona, home, work, school, family_id, influence, traits, rng
    )

    # Products: plans follow value and handset; other holdings follow the latent propensity.
    plan = _plans(n, persona, value, handsets.supports_5g[handset], brand, rng)
    logit = _propensity_logits(n, persona, value, traits, interests, has5g_end, head, family_id, plan)
    held_marketable = rng.random(logit.shape) < _sigmoid(logit - 1.2)
    # Influence: what a subscriber's contacts hold, weighted by their influence, raises acceptance.
    src, dst = edge_src, edge_dst
    for j in range(len(MARKETABLE)):
        num = np.bincount(src, weights=held_marketable[dst, j] * influence[dst], minlength=n)
        den = np.bincount(src, weights=influence[dst], minlength=n) + 1e-9
        logit[:, j] += 1.5 * num / den
    propensity = _sigmoid(logit - 2.0)
    propensity = np.where(held_marketable, 0.0, propensity).astype(np.float32)  # nothing to sell to holders
    holdings = np.zeros((n, len(PRODUCTS)), bool)
    holdings[np.arange(n), plan] = True
    for j, pid in enumerate(MARKETABLE):
        if PRODUCTS[PRODUCT_INDEX[pid]].kind != "plan":
            holdings[:, PRODUCT_INDEX[pid]] |= held_marketable[:, j]
    holdings[:, PRODUCT_INDEX["FM_VNET"]] = family_vnet & head
    holdings[:, PRODUCT_INDEX["FM_CAMPUS"]] |= (
        (school >= 0) & (persona == PERSONA_INDEX["university_student"]) & (rng.random(n) < 0.5)
    )
    holdings[:, PRODUCT_INDEX["VAS_CRBT"]] |= traits["ringtone_changer"]

    channel_response = _channel_response(n, persona, age, traits, rng)
    away = _whereabouts(n, days, persona, traits, rng)
    return Population(
        n=n, days=days, msisdn=_numbers(OWN_PREFIXES, n, rng), persona=persona, home_cell=home,
        work_cell=work, traits=traits, family_id=family_id, is_family_head=head, family_vnet=family_vnet,
        school_site=school, rural_type=rural_type, influence=influence, churn_prob=churn_prob,
        churner=churner, churn_day=churn_day, churn_lean=churn_lean, value=value, call_rate=call_rate, sms_rate=sms_rate, xdr_rate=xdr_rate,
        age_band=age, gender=gender, brand=brand, postpaid=postpaid, plan=plan, join_date=join_date,
        handset=handset, new_handset=new_handset, change_day=change_day, fav_app=fav_app, fav_cw=fav_cw,
        interests=interests, holdings=holdings, propensity=propensity, channel_response=channel_response,
        away=away, indptr=indptr, peer=peer, cw=cw, offnet=offnet, migrant_links=migrant_links,
        extra={"is_business_traveller": is_bt},
    )  # fmt: skip


INTEREST_SOURCES: dict[str, tuple[str, ...]] = {
    "video": ("video",), "music": ("music",), "novel": ("novel",), "game": ("game",), "news": ("news",),
    "shopping": ("shopping",), "stock": ("stock",), "car": ("car",), "education": ("education",),
}  # fmt: skip


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _plans(
    n: int,
    persona: np.ndarray,
    value: np.ndarray,
    h5: np.ndarray,
    brand: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    pid = np.full(n, PRODUCT_INDEX["PL_4G38"])
    pid = np.where(value < 0.5, PRODUCT_INDEX["PL_SZX8"], pid)
    pid = np.where((value >= 0.5) & (value < 0.8), PRODUCT_INDEX["PL_SZX19"], pid)
    pid = np.where((value >= 1.1) & (brand == 0), PRODUCT_INDEX["PL_4G58"], pid)
    five = h5 & (value >= 1.2) & (rng.random(n) < 0.6)
    pid = np.where(five, PRODUCT_INDEX["PL_5G128"], pid)
    pid = np.where(five & (value >= 2.0), PRODUCT_INDEX["PL_5G198"], pid)
    pid = np.where(five & (value >= 3.0), PRODUCT_INDEX["PL_5G398"], pid)
    pid = np.where(persona == PERSONA_INDEX["university_student"], PRODUCT_INDEX["PL_MZ28"], pid)
    assert all(PRODUCTS[i].product_id in PLANS for i in np.unique(pid))
    return pid.astype(np.int16)


def _propensity_logits(
    n: int,
    persona: np.ndarray,
    value: np.ndarray,
    traits: dict[str, np.ndarray],
    interests: dict[str, np.ndarray],
    has5g: np.ndarray,
    head: np.ndarray,
    family_id: np.ndarray,
    plan: np.ndarray,
) -> np.ndarray:
    """Latent acceptance logits [n, MARKETABLE]: each product has the people it suits."""
    P = PERSONA_INDEX
    rural = np.isin(
        persona, [P["rural_stay_home"], P["county_worker"], P["out_county_worker"], P["migrant_worker"]]
    )
    on_5g_plan = np.isin(plan, [PRODUCT_INDEX[p] for p in ("PL_5G128", "PL_5G198", "PL_5G398")])
    lv = np.log(value)
    f = {
        "PL_5G128": -1.0 + 1.5 * has5g + 1.0 * lv - 3.0 * on_5g_plan,
        "PL_5G198": -2.0 + 1.5 * has5g + 2.0 * lv - 3.0 * on_5g_plan,
        "DP_10G": -1.0 + 1.0 * interests["video"] + 0.8 * traits["gamer"] - 2.0 * traits["dual_sim"],
        "DP_NIGHT": -1.5 + 1.5 * (persona == P["university_student"]) + 1.0 * (persona == P["shift_worker"]),
        "DP_VIDEO": -1.5 + 2.0 * traits["heavy_video"],
        "G5_UP": -1.5 + 2.0 * (has5g & ~on_5g_plan) - 2.0 * on_5g_plan,
        "G5_SPEED": -2.0 + 1.0 * on_5g_plan + 1.0 * traits["gamer"],
        "BB_300M": -1.5 + 1.5 * (head & (family_id >= 0)) - 1.0 * (persona == P["university_student"]),
        "BB_1000M": -2.5 + 1.5 * (head & (family_id >= 0)) + 1.0 * lv,
        "MB_MIGUV": -2.0 + 2.0 * traits["heavy_video"],
        "MB_TXV": -2.0 + 2.0 * traits["heavy_video"] + 0.5 * lv,
        "MB_MGTV": -2.5 + 1.5 * traits["heavy_video"] + 0.5 * (persona == P["university_student"]),
        "MB_MUSIC": -2.0 + 2.5 * traits["music_lover"],
        "MB_READ": -2.5 + 3.0 * traits["novel_reader"],
        "VAS_CRBT": -2.0 + 3.0 * traits["ringtone_changer"] + 0.5 * (persona == P["university_student"]),
        "VAS_139": -2.5
        + 1.5 * np.isin(persona, [P["professional"], P["business_traveller"], P["white_collar_commuter"]]),
        "VAS_CWT": -2.5 + 3.0 * traits["car_owner"],
        "VAS_STOCK": -3.0 + 3.5 * traits["stock_trader"],
        "VAS_NXT": -2.5 + 2.5 * (rural & (persona != P["migrant_worker"])),
        "VAS_NEWS": -2.5 + 1.0 * interests["news"] + 1.0 * (persona == P["retiree"]),
        "FM_VNET": -2.0 + 2.0 * (head & (family_id >= 0)),
        "FM_CAMPUS": -3.0 + 4.0 * (persona == P["university_student"]),
    }
    out = np.empty((n, len(MARKETABLE)))
    for j, pid in enumerate(MARKETABLE):
        out[:, j] = f[pid]
    return out


def _channel_response(
    n: int, persona: np.ndarray, age: np.ndarray, traits: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Latent response probability per channel (sms, outbound, 10086, hall, web_hall, app)."""
    young = age <= AGE_BANDS.index("25-34")
    old = age >= AGE_BANDS.index("55-64")
    base = np.array([0.03, 0.08, 0.12, 0.15, 0.05, 0.06])
    mult = np.ones((n, len(CHANNELS)))
    mult[:, 5] *= np.where(young, 3.0, np.where(old, 0.2, 1.0))  # app
    mult[:, 4] *= np.where(young, 1.5, np.where(old, 0.3, 1.0))  # web hall
    mult[:, 3] *= np.where(old, 2.0, 1.0)  # hall
    mult[:, 1] *= np.where(traits["complaint_prone"], 0.3, 1.0) * np.where(old, 1.5, 1.0)  # outbound
    mult[:, 0] *= np.where(persona == PERSONA_INDEX["university_student"], 0.7, 1.0)
    noise = np.exp(rng.normal(0, 0.4, (n, len(CHANNELS))))
    return np.clip(base * mult * noise, 0.001, 0.8).astype(np.float32)


def _whereabouts(
    n: int, days: list[cal.Day], persona: np.ndarray, traits: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Per day and subscriber: -1 at home in the province, else the roaming destination."""
    D = len(days)
    away = np.full((D, n), -1, np.int8)
    mig = np.flatnonzero(persona == PERSONA_INDEX["migrant_worker"])
    dest = _MIGRANT_DEST[rng.integers(len(_MIGRANT_DEST), size=len(mig))].astype(np.int8)
    home = np.zeros((D, len(mig)), bool)
    # festival blocks inside the window (consecutive days of the same home festival)
    d = 0
    while d < D:
        if cal.is_home_festival(days[d]):
            fest = days[d].festival or ""
            e = d
            while e + 1 < D and days[e + 1].festival == fest:
                e += 1
            back = rng.random(len(mig)) < _RETURN.get(fest, 0.3)
            pre = rng.integers(0, 3, len(mig))
            post = rng.integers(0, 3, len(mig))
            for k in range(max(0, d - 3), min(D, e + 4)):
                home[k] |= back & (k >= d - pre) & (k <= e + post)
            d = e + 1
        else:
            d += 1
    for k in range(D):
        away[k, mig] = np.where(home[k], -1, dest)
    # Business trips of 1-4 days; Hong Kong / Macau for travellers who go there.
    bt = persona == PERSONA_INDEX["business_traveller"]
    p_start = np.where(bt, 0.12, np.where(traits["hk_macau_traveller"], 0.02, 0.004))
    left = np.zeros(n, np.int64)
    trip_dest = np.zeros(n, np.int8)
    movers = persona != PERSONA_INDEX["migrant_worker"]
    for k in range(D):
        festival_travel = 6.0 if days[k].festival == "国庆节" else 1.0  # golden-week tourism
        start = (
            movers
            & (left == 0)
            & (
                rng.random(n)
                < p_start
                * (1.0 if days[k].day_type == "workday" else 0.5)
                * np.where(bt, 1.0, festival_travel)
            )
        )
        to_hk = traits["hk_macau_traveller"] & (rng.random(n) < 0.35)
        trip_dest = np.where(
            start,
            np.where(
                to_hk,
                _HKMO[rng.integers(2, size=n)],
                _BUSINESS_DEST[rng.integers(len(_BUSINESS_DEST), size=n)],
            ),
            trip_dest,
        )
        left = np.where(start, rng.integers(1, 5, n), left)
        away[k] = np.where(left > 0, trip_dest, away[k])
        left = np.maximum(left - 1, 0)
    return away


def _social_graph(
    n: int,
    g: Geography,
    persona: np.ndarray,
    home: np.ndarray,
    work: np.ndarray,
    school: np.ndarray,
    family_id: np.ndarray,
    influence: np.ndarray,
    traits: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, OffNet, tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """Weighted contacts: family, classmates, colleagues, home-town; ~30% of contacts off-net."""
    srcs: list[np.ndarray] = []
    dsts: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    deg = np.clip(influence, 0.3, 4.0)  # the influence score drives degree

    def add(s: np.ndarray, d: np.ndarray, w: float) -> None:
        ok = (d >= 0) & (s != d)
        s, d = s[ok], d[ok]
        srcs.extend([s, d])  # on-net ties are mutual
        dsts.extend([d, s])
        ws.extend([np.full(len(s), w), np.full(len(s), w)])

    def within(keys: np.ndarray, members: np.ndarray, k: float, w: float, popular: bool = False) -> None:
        if len(members) == 0:
            return
        reps = np.maximum(1, np.round(k * deg[members] * rng.uniform(0.5, 1.5, len(members)))).astype(
            np.int64
        )
        s = np.repeat(members, reps)
        # seed 003 交往圈: influential people are also reached by more people, not only reach more
        d = (
            _group_pick_weighted(keys, members, deg, keys[s], rng)
            if popular
            else _group_pick(keys, members, keys[s], rng)
        )
        add(s, d, w)

    # family: everyone with every other member (households are small)
    fm = np.flatnonzero(family_id >= 0)
    fm = fm[np.argsort(family_id[fm], kind="stable")]
    for off in (1, 2, 3):
        s, d = fm[:-off], fm[off:]
        same = family_id[s] == family_id[d]
        add(s[same], d[same], 8.0)  # (8, not 6: the quiet, who call less, still mostly call family)
    students = np.flatnonzero(school >= 0)
    within(school.astype(np.int64), students, 5, 3.0, popular=True)  # classmates: dense mutual SMS and calls
    workers = np.flatnonzero((work != home) & (school < 0))
    within(g.cell_township[work].astype(np.int64), workers, 2, 2.0, popular=True)  # colleagues
    within(g.cell_township[home].astype(np.int64), np.arange(n), 2, 1.0, popular=True)  # home-town contacts
    migrants = np.flatnonzero(persona == PERSONA_INDEX["migrant_worker"])
    within(g.cell_township[home].astype(np.int64), migrants, 2, 2.5)  # migrants call home contacts
    on_src = np.concatenate(srcs)
    on_dst = np.concatenate(dsts)
    on_w = np.concatenate(ws)

    # Off-net numbers: people of other operators, each with a home township; ~15% of them are a
    # competitor's migrant workers who call our township users in off-peak hours for months.
    m = max(50, n // 2)
    ops = rng.choice(len(COMPETITORS), m, p=[0.55, 0.4, 0.05]).astype(np.int8)
    prefixes = [NUMBER_RANGES[c] for c in COMPETITORS]
    num = np.zeros(m, np.int64)
    for oi, pf in enumerate(prefixes):
        sel = np.flatnonzero(ops == oi)
        num[sel] = _numbers(pf, len(sel), rng)
    town = rng.integers(len(g.township_id), size=m)
    rural_towns = np.flatnonzero(g.township_kind == RURAL)
    is_mig = rng.random(m) < 0.15
    town = np.where(is_mig, rural_towns[rng.integers(len(rural_towns), size=m)], town)
    offnet = OffNet(num, ops, town.astype(np.int32), is_mig)
    # each subscriber's off-net contacts: ~0.43 per on-net contact (≈30% of all contacts)
    on_deg = np.bincount(on_src, minlength=n)
    k_off = np.maximum(1, rng.binomial(np.maximum(on_deg, 2), 0.43))
    s_off = np.repeat(np.arange(n), k_off)
    my_town = g.cell_township[home[s_off]].astype(np.int64)
    local = _group_pick(town.astype(np.int64), np.arange(m), my_town, rng)
    anywhere = rng.integers(m, size=len(s_off))
    d_off = np.where((local >= 0) & (rng.random(len(s_off)) < 0.6), local, anywhere)
    w_off = np.full(len(s_off), 1.5)
    # competitors' migrants: linked to a few of our subscribers in their home township
    mig_idx = np.flatnonzero(is_mig)
    reps = rng.integers(1, 4, len(mig_idx))
    mig_rep = np.repeat(mig_idx, reps)
    link_sub = _group_pick(
        g.cell_township[home].astype(np.int64), np.arange(n), town[mig_rep].astype(np.int64), rng
    )
    ok = link_sub >= 0
    migrant_links = (mig_rep[ok], link_sub[ok])
    # CSR over all contacts; off-net peers are encoded as -(index + 1)
    src = np.concatenate([on_src, s_off, link_sub[ok]])
    peer = np.concatenate([on_dst, -(d_off + 1), -(mig_rep[ok] + 1)])
    w = np.concatenate([on_w, w_off, np.full(int(ok.sum()), 3.0)])
    order = np.argsort(src, kind="stable")
    src, peer, w = src[order], peer[order], w[order]
    counts = np.bincount(src, minlength=n)
    indptr = np.r_[0, np.cumsum(counts)]
    cs = np.cumsum(w)
    before = np.r_[0.0, cs][indptr[:-1]]
    total = np.r_[0.0, cs][indptr[1:]] - before
    within_cum = cs - np.repeat(before, counts)
    cw = src + within_cum / np.repeat(total, counts)
    cw[indptr[1:] - 1] = np.arange(n) + 1.0  # every subscriber has an off-net contact, so none is empty
    return indptr, peer, cw, offnet, migrant_links, on_src, on_dst
