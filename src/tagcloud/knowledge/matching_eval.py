"""The matching library against the simulator's planted acceptance, beside its baselines.

The library is fitted on one part of the subscribers (and, given ``fit_wide``, on an earlier
month's wide table with holdings as of that month's end) and judged on the others with the latest
month. Every method offers each test subscriber one service through the same channel — the one
the library chose — so the comparison is about the service; a second row shows the channel's own
effect (the library's channel vs SMS for everyone).

The hit rate is the expected acceptance: the mean over offered subscribers of the planted
P(accept) = response(channel) × propensity(service), read from the simulator's
``ground_truth/propensity.parquet`` and ``channel_response.parquet`` files (this module never
imports the simulator). Expected values, not draws: no sampling noise between methods. The
account-manager channel has no planted rate; it is judged as an outbound call.

Methods: the library (layers 1–4, cumulative and alone); a random service (the exact expectation
over the services the subscriber does not hold); the most popular service not held; an implicit-
feedback ALS recommender (the ``implicit`` library) trained on the fit subscribers' holdings, its
test users' factors solved from their own holdings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.knowledge.matching import (
    CHANNELS,
    LAYER_NAMES,
    Inputs,
    Layer,
    Library,
    MatchingConfig,
    MatchingError,
    apply,
    choose_channel,
    fit,
    load,
    rank,
    response_channels,
)

if TYPE_CHECKING:
    import scipy.sparse as sp

TRUTH_CHANNEL = {"account_manager": "outbound"}  # judged as; every other channel is its own


@dataclass
class Row:
    """One method's figures on the test subscribers."""

    method: str
    coverage: float  # share of test subscribers offered a service
    hit_rate: float  # expected acceptance among those offered
    hit_rate_all: float  # expected acceptance over every test subscriber (no offer = no hit)
    vs_random: float = 0.0


@dataclass
class ServiceRow:
    service: str
    offered: int  # test subscribers whose top match is this service
    hit_rate: float  # their expected acceptance
    random_rate: float  # expected acceptance of this service offered to a random non-holder
    lift: float


@dataclass
class Evaluation:
    fit_subscribers: int
    test_subscribers: int
    fit_period: str
    test_period: str
    rows: list[Row]
    layers: list[Row]  # cumulative: layer 1, 1+2, 1+2+3, 1+2+3+4
    services: list[ServiceRow]
    channel: dict[str, float]  # library via its channel / via SMS, random via SMS
    als: dict[str, Any] = field(default_factory=dict)

    def row(self, method: str) -> Row:
        return next(r for r in self.rows if r.method == method)

    def ratios(self) -> dict[str, float]:
        lib = self.row("library").hit_rate
        return {
            "vs_random": lib / self.row("random").hit_rate,
            "vs_popular": lib / self.row("most_popular").hit_rate,
            "vs_als": lib / self.row("als").hit_rate,
        }

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratios"] = self.ratios()
        return d


def _test_mask(msisdn: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A fixed split by number: the same subscriber is always on the same side for one seed."""
    x = np.array([int(m) for m in msisdn.tolist()], dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (x + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)) * np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(31)
    return (z % np.uint64(10_000)).astype(np.float64) / 10_000 < share


def read_truth(
    truth_dir: str | Path, msisdn: np.ndarray, services: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(propensity [n, S], channel response [n, len(CHANNELS)]) of the numbers, from the truth files.

    A service or number absent from the truth has propensity 0. KeyError if the truth knows none
    of the numbers (another province's truth).
    """
    import duckdb
    import pyarrow as pa

    d = Path(truth_dir)
    if (d / "ground_truth").is_dir():
        d = d / "ground_truth"
    for f in ("propensity", "channel_response"):
        if not (d / f"{f}.parquet").exists():
            raise MatchingError(f"{d} is not a simulator's ground truth: {f}.parquet is missing")
    con = duckdb.connect()
    con.register("ids", pa.table({"msisdn": pa.array(msisdn.astype(str)), "row": np.arange(len(msisdn))}))
    con.register("svc", pa.table({"product_id": services, "col": np.arange(len(services))}))
    p = con.execute(
        "SELECT i.row, s.col, t.probability FROM read_parquet(?) t "
        "JOIN ids i ON i.msisdn = t.msisdn::VARCHAR JOIN svc s USING (product_id)",
        [str(d / "propensity.parquet")],
    ).fetchnumpy()
    prop = np.zeros((len(msisdn), len(services)))
    prop[np.asarray(p["row"], np.int64), np.asarray(p["col"], np.int64)] = np.asarray(p["probability"], float)
    cr_cols = [TRUTH_CHANNEL.get(c, c) for c in CHANNELS]
    c = con.execute(
        "SELECT i.row, " + ", ".join(f't."{x}"' for x in cr_cols)
        + " FROM read_parquet(?) t JOIN ids i ON i.msisdn = t.msisdn::VARCHAR",
        [str(d / "channel_response.parquet")],
    ).fetchnumpy()  # fmt: skip
    rows = np.asarray(c["row"], np.int64)
    if len(rows) == 0:
        raise KeyError(f"the ground truth at {d} knows none of the warehouse's subscribers")
    cr = np.zeros((len(msisdn), len(CHANNELS)))
    for j, x in enumerate(cr_cols):
        cr[rows, j] = np.asarray(c[x], float)
    return prop, cr


def expected_hit(prop: np.ndarray, cr: np.ndarray, service: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Planted P(accept) of offering ``service[i]`` via ``channel[i]`` (0 where service is -1)."""
    n = len(service)
    ok = service >= 0
    out = np.zeros(n)
    r = np.flatnonzero(ok)
    out[r] = prop[r, service[r]] * cr[r, channel[r]]
    return out


def random_expectation(
    prop: np.ndarray, cr: np.ndarray, eligible: np.ndarray, channel: np.ndarray
) -> np.ndarray:
    """Expected P(accept) of a uniformly random service among each subscriber's ``eligible`` ones,
    via ``channel`` (0 for a subscriber with none): the exact mean, no draw."""
    n_el = eligible.sum(axis=1)
    p_ch = prop * cr[np.arange(len(channel)), channel][:, None]
    return np.where(n_el > 0, (p_ch * eligible).sum(axis=1) / np.maximum(n_el, 1), 0.0)


def popular_top(eligible: np.ndarray, popular: np.ndarray) -> np.ndarray:
    """The first service of ``popular`` (indices, most popular first) each subscriber may get, or -1."""
    S = eligible.shape[1]
    pop_rank = np.empty(S, np.int64)
    pop_rank[popular] = np.arange(S)
    key = np.where(eligible, pop_rank[None, :], S + 1)
    return np.where(eligible.any(axis=1), key.argmin(axis=1), -1)


def _row(name: str, service: np.ndarray, hit: np.ndarray) -> Row:
    ok = service >= 0
    return Row(name, float(ok.mean()), float(hit[ok].mean()) if ok.any() else 0.0, float(hit.mean()))


def als_top(
    fit_items: sp.csr_matrix, test_items: sp.csr_matrix, *, factors: int, regularization: float,
    alpha: float, iterations: int = 15, seed: int = 0,
) -> np.ndarray:  # fmt: skip
    """Top item not held for every test user by implicit's ALS fitted on ``fit_items`` (users × items)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        model = AlternatingLeastSquares(
            factors=factors, regularization=regularization, alpha=alpha, iterations=iterations,
            random_state=seed, num_threads=1,
        )  # fmt: skip
        model.fit(fit_items, show_progress=False)
        # test users' factors solved from their own holdings against the fitted item factors
        ids, _ = model.recommend(
            np.arange(test_items.shape[0]), test_items, N=1, filter_already_liked_items=True,
            recalculate_user=True,
        )  # fmt: skip
    top = np.asarray(ids)[:, 0].astype(np.int64)
    top[top >= test_items.shape[1]] = -1
    return top


def tune_als(items: sp.csr_matrix, seed: int = 0) -> dict[str, Any]:
    """ALS parameters chosen by leave-one-out on the fit subscribers' own holdings (never the truth):
    hide one held service of each user holding ≥ 2, keep the grid point recovering most hidden ones."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    coo = items.tocoo()
    counts = np.bincount(coo.row, minlength=items.shape[0])
    users = np.flatnonzero(counts >= 2)
    if len(users) < 20:
        return {"factors": 8, "regularization": 0.05, "alpha": 10.0, "validation_hit": None}
    order = np.lexsort((rng.random(len(coo.row)), coo.row))
    first = np.r_[0, np.cumsum(counts)[:-1]]
    hide_pos = order[first[users]]
    keep = np.ones(len(coo.row), bool)
    keep[hide_pos] = False
    train = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=items.shape)
    hidden = np.full(items.shape[0], -1)
    hidden[coo.row[hide_pos]] = coo.col[hide_pos]
    best: dict[str, Any] = {}
    for factors in (4, 8, 16):
        for alpha in (1.0, 10.0, 40.0):
            top = als_top(train, train[users], factors=factors, regularization=0.05, alpha=alpha, seed=seed)
            hit = float((top == hidden[users]).mean())
            if not best or hit > best["validation_hit"]:
                best = {"factors": factors, "regularization": 0.05, "alpha": alpha, "validation_hit": hit}
    return best


def evaluate(
    warehouse: str | Path,
    truth_dir: str | Path,
    *,
    fit_wide: str | Path | None = None,
    fit_as_of: str | None = None,
    test_share: float = 0.5,
    seed: int = 0,
    config: MatchingConfig | None = None,
    inputs: Inputs | None = None,
    fit_inputs: Inputs | None = None,
) -> Evaluation:
    """Fit on the other subscribers (and ``fit_wide``'s month, holdings before ``fit_as_of``), judge
    on the test share with the latest wide table and the planted acceptance."""
    import scipy.sparse as sp

    cfg = config or MatchingConfig()
    wh = Path(warehouse)
    inp = inputs or load(wh)
    fin = fit_inputs or (load(wh, wide=fit_wide, as_of=fit_as_of) if fit_wide else inp)
    test = _test_mask(inp.msisdn, test_share, seed)
    fit_rows = ~_test_mask(fin.msisdn, test_share, seed)
    if not test.any() or not fit_rows.any():
        raise MatchingError("the split left no test or no fit subscribers; use more subscribers")
    lib = fit(fin, fit_rows, cfg)
    t_idx = np.flatnonzero(test)
    tin = _subset(inp, t_idx)
    channel = choose_channel(tin, _take(response_channels(wh, inp.msisdn), t_idx))
    sids = [s.service_id for s in inp.services]
    prop, cr = read_truth(truth_dir, tin.msisdn, sids)
    sms = np.zeros(len(t_idx), np.int64)

    def top_of(layers: tuple[int, ...]) -> np.ndarray:
        return rank(apply(lib, tin, layers), 1).top

    rows: list[Row] = []
    full = top_of((1, 2, 3, 4))
    rows.append(_row("library", full, expected_hit(prop, cr, full, channel)))
    # random: the exact expectation over the services not held
    eligible = ~tin.held
    p_ch = prop * cr[np.arange(len(t_idx)), channel][:, None]
    n_el = eligible.sum(axis=1)
    rnd_hit = random_expectation(prop, cr, eligible, channel)
    rows.append(
        Row("random", float((n_el > 0).mean()), float(rnd_hit[n_el > 0].mean()), float(rnd_hit.mean()))
    )
    # most popular not held (popularity measured on the fit subscribers)
    popular = popular_top(eligible, lib.popular)
    rows.append(_row("most_popular", popular, expected_hit(prop, cr, popular, channel)))
    # ALS on the same service history
    fit_items = sp.csr_matrix(fin.held[fit_rows].astype(np.float32))
    test_items = sp.csr_matrix(tin.held.astype(np.float32))
    params = tune_als(fit_items, seed)
    als = als_top(fit_items, test_items, factors=params["factors"], regularization=params["regularization"],
                  alpha=params["alpha"], seed=seed)  # fmt: skip
    rows.append(_row("als", als, expected_hit(prop, cr, als, channel)))
    for lay in (1, 2, 3, 4):
        t = top_of((lay,))
        rows.append(_row(f"layer_{lay}_only", t, expected_hit(prop, cr, t, channel)))
    t = top_of((2, 3, 4))  # the seed's order without the models: what layer 1 adds or costs
    rows.append(_row("layers_2_3_4", t, expected_hit(prop, cr, t, channel)))
    base = rows[1].hit_rate
    for r in rows:
        r.vs_random = r.hit_rate / base if base else 0.0
    layers: list[Row] = []
    for k in (1, 2, 3, 4):
        t = top_of(tuple(range(1, k + 1)))
        r = _row(
            " + ".join(LAYER_NAMES[Layer(i)][1] for i in range(1, k + 1)),
            t,
            expected_hit(prop, cr, t, channel),
        )
        r.vs_random = r.hit_rate / base if base else 0.0
        layers.append(r)
    services: list[ServiceRow] = []
    hit_full = expected_hit(prop, cr, full, channel)
    for j, s in enumerate(sids):
        m = full == j
        el = eligible[:, j]
        rr = float(p_ch[el, j].mean()) if el.any() else 0.0
        hr = float(hit_full[m].mean()) if m.any() else 0.0
        services.append(ServiceRow(s, int(m.sum()), hr, rr, hr / rr if rr else 0.0))
    lib_sms = expected_hit(prop, cr, full, sms)
    chan = {
        "library_own_channel": rows[0].hit_rate,
        "library_sms": float(lib_sms[full >= 0].mean()),
        "random_sms": float(np.where(n_el > 0, (prop * cr[:, [0]] * eligible).sum(1) / np.maximum(n_el, 1), 0)[n_el > 0].mean()),
        **{f"share_{c}": float((channel == i).mean()) for i, c in enumerate(CHANNELS)},
    }  # fmt: skip
    return Evaluation(
        fit_subscribers=int(fit_rows.sum()), test_subscribers=len(t_idx),
        fit_period=Path(fit_wide).name if fit_wide else "same month", test_period="latest",
        rows=rows, layers=layers, services=services, channel=chan, als=params,
    )  # fmt: skip


def _take(a: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return None if a is None else a[idx]


def _subset(inp: Inputs, idx: np.ndarray) -> Inputs:
    import pyarrow as pa

    return Inputs(
        msisdn=inp.msisdn[idx], services=inp.services, held=inp.held[idx],
        features=inp.features.take(pa.array(idx)), context={k: v[idx] for k, v in inp.context.items()},
        evidence=inp.evidence, evidence_hits=inp.evidence_hits[idx], rejected=inp.rejected,
    )  # fmt: skip


def write(ev: Evaluation, warehouse: str | Path) -> Path:
    """Keep the evaluation as ``WAREHOUSE/matching/evaluation.json`` (the report page reads it)."""
    out = Path(warehouse) / "matching" / "evaluation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(ev.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    return out


__all__ = ["Evaluation", "Library", "Row", "ServiceRow", "evaluate", "read_truth", "write"]
