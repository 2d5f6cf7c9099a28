"""The matching library's build: every subscriber × every service scored, ranked, channel chosen.

    uv run python bench/matching.py                  # 1,000,000 subscribers × 20 services
    uv run python bench/matching.py -n 200000        # what a shared machine allows
    uv run python bench/matching.py --quick          # 20,000 × 20, seconds (run by the test suite)

Input: synthetic subscribers (numbers, brand, ARPU, age, handset, channel preference, 12 feature
columns, holdings drawn from those features, 24 evidence flags) held in memory as
``knowledge.matching.Inputs``: the bench times the library, not a warehouse read.
Library: ``fit`` (layer-1 models on a ``--fit-sample`` of subscribers, experience, segments, brand
fit), ``apply`` + ``rank`` + ``choose_channel`` + ``tables`` over everyone — columnar numpy.
Baseline, in the same run: the same scoring row by row in pandas (``DataFrame.apply`` over the
subscribers: each row's layer for every service from the same fitted library and the same model
scores, then the row's sort and channel), on ``--baseline-rows`` subscribers and scaled to the
whole population linearly (row by row has no economies of scale). Both must give the same top
service and channel on those rows. The ratio printed is baseline ÷ library for the step both do
(layers, ranking, channel, given the model scores); fitting and the model scores are printed apart.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Result:
    subscribers: int
    services: int
    fit_seconds: float
    predict_seconds: float  # the layer-1 models' scores for everyone (the baseline is given these)
    score_seconds: float  # apply + rank + channel + tables, everyone, given the model scores
    baseline_rows: int
    baseline_seconds: float  # measured on baseline_rows
    agree: bool  # the baseline's top service and channel equal the library's on its rows
    coverage: float

    @property
    def baseline_scaled(self) -> float:
        return self.baseline_seconds * self.subscribers / max(self.baseline_rows, 1)

    @property
    def ratio(self) -> float:
        return self.baseline_scaled / self.score_seconds if self.score_seconds else float("inf")


def synthetic(n: int, seed: int = 0) -> Any:
    import pyarrow as pa

    from tagcloud.knowledge import matching as m
    from tagcloud.sim.catalogue import PRODUCTS

    rng = np.random.default_rng(seed)
    services = sorted(
        (
            m.Service(p.product_id, p.name, p.name_en, p.kind, p.requires_5g)
            for p in PRODUCTS
            if p.kind != "plan"
        ),
        key=lambda s: s.service_id,
    )
    S = len(services)
    x = rng.normal(size=(n, 12)).astype(np.float32)
    w = rng.normal(size=(12, S)) * 0.8
    held = rng.random((n, S)) < 1 / (1 + np.exp(-(x @ w - 2.5)))
    brand = np.array(m.BRANDS, object)[rng.integers(0, 3, n)]
    os_ = np.array(["android", "ios", "feature"], object)[rng.choice(3, n, p=[0.7, 0.22, 0.08])]
    ev_service = [services[i % S].service_id for i in range(24)]
    evidence = [m.Evidence(f"f{i}", ev_service[i], f"rule {i}") for i in range(24)]
    hits = x[:, np.arange(24) % 12] > 1.0
    ctx = {
        "brand": brand,
        "arpu_3m": rng.gamma(2.0, 35.0, n),
        "age_band": np.array(["18-24", "25-34", "35-44", "45-54", "55-64"], object)[rng.integers(0, 5, n)],
        "handset_os": os_,
        "handset_5g": (os_ != "feature") & (rng.random(n) < 0.4),
        "status": np.where(rng.random(n) < 0.99, "active", "suspended").astype(object),
        "complaint_sensitive": rng.random(n) < 0.01,
        "service_contacts": rng.poisson(0.2, n),
        "e_channel_user": rng.random(n) < 0.2,
        "cmcc_app_user": rng.random(n) < 0.05,
        "in_group_customer": rng.random(n) < 0.2,
        "high_value": rng.random(n) < 0.2,
        "preferred_channel_model": np.array([None, "app", "hall", "10086", "agent", "web_hall"], object)[
            rng.integers(0, 6, n)
        ],
    }
    feats = pa.table({f"f{i}": x[:, i] for i in range(12)})
    msisdn = np.array([f"138{i:08d}" for i in range(n)], object)
    return m.Inputs(msisdn, services, held, feats, ctx, evidence, hits)


def baseline(
    lib: Any, inp: Any, sc_model: np.ndarray, rows: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Row by row in pandas: each subscriber's layer per service, sort, channel. Returns (seconds, top, channel)."""
    import pandas as pd

    from tagcloud.knowledge import matching as m

    S = len(inp.services)
    seg = inp.segment()[rows]
    cell = (inp.brand_code().astype(np.int64) * 3 + inp.handset_class())[rows]
    sup = inp.supported()[rows]
    df = pd.DataFrame({"seg": seg, "cell": cell})
    df["held"] = list(inp.held[rows])
    df["sup"] = list(sup)
    df["prop"] = list(sc_model[rows])
    df["hits"] = list(inp.evidence_hits[rows])
    for c in ("preferred_channel_model", "status", "handset_os", "complaint_sensitive", "service_contacts",
              "e_channel_user", "cmcc_app_user", "in_group_customer", "high_value"):  # fmt: skip
        df[c] = inp.context[c][rows]
    cuts = [mm.cut if mm.status == "ok" else None for mm in lib.models]
    ev_order = [i for i in np.argsort(-lib.evidence_rate, kind="stable") if lib.evidence_kept[i]]
    ev_service = [inp.service_index(e.service) for e in lib.evidence]
    brand_order = lib.brand_order.reshape(9, S)
    brand_rate = lib.brand_rate.reshape(9, S)
    k_brand = lib.config.brand_services

    def one(r: Any) -> tuple[int, int]:
        layer = [0] * S
        score = [0.0] * S
        ok = [(not r.held[j]) and r.sup[j] for j in range(S)]
        for j in range(S):
            if ok[j] and cuts[j] is not None and r.prop[j] >= cuts[j]:
                layer[j], score[j] = 1, float(r.prop[j])
        for e in ev_order:
            j = ev_service[e]
            if ok[j] and layer[j] == 0 and r.hits[e]:
                layer[j], score[j] = 2, float(lib.evidence_rate[e])
        for k in range(lib.segment_services.shape[1]):
            j = lib.segment_services[r.seg, k]
            if j >= 0 and ok[j] and layer[j] == 0:
                layer[j], score[j] = 3, float(lib.segment_rate[r.seg, k])
        order = list(brand_order[r.cell])
        any_before = any(v > 0 for v in layer)
        placed = False
        for pos, j in enumerate(order):
            if pos < k_brand and ok[j] and layer[j] == 0:
                layer[j], score[j], placed = 4, float(brand_rate[r.cell, j]), True
        if not placed and not any_before:
            for j in order:
                if ok[j]:
                    layer[j], score[j] = 4, float(brand_rate[r.cell, j])
                    break
        cand = sorted((layer[j] * 2.0 - score[j], j) for j in range(S) if layer[j] > 0)
        top = cand[0][1] if cand else -1
        pref = m.PREFERENCE_TO_CHANNEL.get(r.preferred_channel_model) if r.preferred_channel_model else None
        active = r.status == "active"
        reach = {
            "sms": active, "outbound": active and not r.complaint_sensitive,
            "10086": r.service_contacts > 0 or pref == "10086", "hall": True,
            "web_hall": bool(r.e_channel_user) or pref == "web_hall",
            "app": r.handset_os != "feature" and (bool(r.cmcc_app_user) or pref == "app"),
            "account_manager": bool(r.in_group_customer) and bool(r.high_value),
        }  # fmt: skip
        if pref is not None and reach[pref]:
            ch = pref
        else:
            ch = "account_manager" if reach["account_manager"] else ("sms" if active else "hall")
        return top, m.CHANNELS.index(ch)

    t0 = time.perf_counter()
    out = df.apply(one, axis=1, result_type="expand")
    return time.perf_counter() - t0, out[0].to_numpy(), out[1].to_numpy()


def main(argv: list[str] | None = None) -> Result:
    from threadpoolctl import threadpool_limits

    from tagcloud.knowledge import matching as m

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--subscribers", type=int, default=1_000_000)
    ap.add_argument("--fit-sample", type=int, default=50_000)
    ap.add_argument("--baseline-rows", type=int, default=20_000)
    ap.add_argument("--quick", action="store_true", help="20,000 subscribers, a small fit sample")
    a = ap.parse_args(argv)
    if a.quick:
        a.subscribers, a.fit_sample, a.baseline_rows = 20_000, 4_000, 2_000
    inp = synthetic(a.subscribers)
    cfg = m.MatchingConfig(fit_sample=a.fit_sample, max_iter=30 if a.quick else 100)
    t0 = time.perf_counter()
    with threadpool_limits(limits=1):
        lib = m.fit(inp, config=cfg)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    prop = m.model_scores(lib, inp)
    predict_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sc = m.apply(lib, inp, prop=prop)
    rk = m.rank(sc, cfg.top_k)
    ch = m.choose_channel(inp)
    m.tables(inp, sc, rk, ch)
    score_s = time.perf_counter() - t0
    rows = np.random.default_rng(1).choice(inp.n, min(a.baseline_rows, inp.n), replace=False)
    b_s, b_top, b_ch = baseline(lib, inp, sc.model_score, rows)
    agree = bool((b_top == rk.top[rows]).all() and (b_ch == ch[rows]).all())
    r = Result(inp.n, len(inp.services), fit_s, predict_s, score_s, len(rows), b_s, agree, rk.coverage())
    print(
        f"matching build: {r.subscribers:,} subscribers × {r.services} services: fit {r.fit_seconds:.1f} s "
        f"(models on {min(a.fit_sample, r.subscribers):,}), model scores {r.predict_seconds:.1f} s, "
        f"layers+rank+channel+tables {r.score_seconds:.1f} s, total {r.fit_seconds + r.predict_seconds + r.score_seconds:.1f} s; "
        f"coverage {r.coverage:.1%}"
    )
    print(
        f"baseline row by row in pandas: {r.baseline_seconds:.1f} s for {r.baseline_rows:,} rows → "
        f"{r.baseline_scaled:,.0f} s for {r.subscribers:,} (scaled); ratio {r.ratio:,.0f}× ; "
        f"same top service and channel: {r.agree}"
    )
    return r


if __name__ == "__main__":
    main()
