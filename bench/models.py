"""Uplift targeting against propensity targeting, judged by the simulator's planted treatment effects.

    uv run python bench/models.py                      # 20,000 subscribers × 30 days, seed 1
    uv run python bench/models.py --quick              # 3,000 × 7 days (run by the test suite)
    uv run python bench/models.py --export OUT --warehouse WH   # an existing province (e.g. the demo's)

A past campaign (one offer, by outbound call, to a random half of the province; half of it held
out as control) is what an operator's records show: who was contacted, who took the offer. From it,
with the customer attributes of the warehouse (``tagcloud.models.customer.attributes``):

* the **baseline**: a response (propensity) model trained on the contacted members only, ranking
  by P(takes | contacted) — how campaigns target today;
* the **uplift models** (``tagcloud.models.uplift``: two-model and class transformation), ranking by
  the difference the contact makes.

Each ranks the OTHER half of the province (the next campaign's audience, never seen in training).
The figure is the planted incremental take-up (``GroundTruth.treatment_effect``, summed) of the top
20% by each ranking, and of a random 20%; the ratio uplift ÷ propensity is the issue's target
(≥ 1.3×). The share of sleeping dogs (planted negative effect) in each top 20% is printed too, and
the Qini coefficient of each ranking on a second randomised campaign over that half (observed
outcomes only, as an operator would measure it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

OFFER = "DP_10G"  # a data pack: broad appeal (video, gamers), bought organically in the app too
TOP = 0.2


@dataclass
class Ranking:
    name: str
    incremental: float  # planted incremental take-ups in the top 20% (sum of treatment effects)
    sleeping_dogs: float  # share of the top 20% whose planted effect is negative
    qini: float  # on the second campaign's observed outcomes


@dataclass
class Result:
    subscribers: int
    audience: int  # the next campaign's audience (scored half)
    train_rows: int
    train_action_rate: float
    train_control_rate: float
    seconds: dict[str, float]
    rankings: dict[str, Ranking] = field(default_factory=dict)

    @property
    def best_uplift(self) -> Ranking:
        return max(
            (r for k, r in self.rankings.items() if k.startswith("uplift")), key=lambda r: r.incremental
        )

    @property
    def ratio(self) -> float:
        base = self.rankings["propensity"].incremental
        return self.best_uplift.incremental / base if base > 0 else float("inf")


def province(root: Path, subscribers: int, days: int, seed: int) -> tuple[Path, Path]:
    """Simulate and ingest a province under ``root``; returns (export, warehouse)."""
    from tagcloud.data.ingest import IngestOptions, ingest
    from tagcloud.sim.simulate import simulate

    export, wh = root / "export", root / "warehouse"
    simulate(export, subscribers, days, seed=seed, start=dt.date(2026, 9, 15), quiet=True)
    ingest(export, wh, IngestOptions(quiet=True, now=dt.datetime(2030, 1, 1)))
    return export, wh


def run(export: Path, wh: Path, seed: int = 0, offer: str = OFFER) -> Result:
    import pyarrow as pa
    import pyarrow.compute as pc

    from tagcloud.data.warehouse import Warehouse
    from tagcloud.models.customer import attributes
    from tagcloud.models.propensity import score, train
    from tagcloud.models.uplift import qini_coefficient, score_uplift, train_uplift
    from tagcloud.sim.truth import GroundTruth

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    truth = GroundTruth.load(export)
    con = Warehouse(wh).connect()
    con.execute("SET threads = 2")
    attrs = attributes(con)
    seconds["attributes"] = time.perf_counter() - t0
    ms = np.array(attrs.column("msisdn").to_pylist(), dtype=object)
    rng = np.random.default_rng(seed)
    half = rng.random(len(ms)) < 0.5  # past campaign's audience vs the next one's
    past = truth.past_campaign(ms[half], offer, "outbound", control_share=0.5, seed=seed)
    train_t = (
        attrs.filter(pa.array(half))
        .append_column("treated", past.column("treated"))
        .append_column("took", past.column("took"))
    )
    nxt = attrs.filter(pa.array(~half))
    nxt_ms = ms[~half]
    tau = truth.treatment_effect(nxt_ms, offer, "outbound")
    second = truth.past_campaign(nxt_ms, offer, "outbound", control_share=0.5, seed=seed + 1)
    y2 = second.column("took").to_numpy(zero_copy_only=False).astype(float)
    t2 = second.column("treated").to_numpy(zero_copy_only=False).astype(float)
    k = max(1, round(len(nxt_ms) * TOP))

    def ranking(name: str, s: np.ndarray) -> Ranking:
        top = np.argsort(-s, kind="stable")[:k]
        return Ranking(name, float(tau[top].sum()), float((tau[top] < 0).mean()), qini_coefficient(s, y2, t2))

    result = Result(
        len(ms),
        len(nxt_ms),
        train_t.num_rows,
        float(
            np.mean(
                past.column("took").to_numpy(zero_copy_only=False)[
                    past.column("treated").to_numpy(zero_copy_only=False)
                ]
            )
        ),
        float(
            np.mean(
                past.column("took").to_numpy(zero_copy_only=False)[
                    ~past.column("treated").to_numpy(zero_copy_only=False)
                ]
            )
        ),
        seconds,
    )
    t0 = time.perf_counter()
    contacted = train_t.filter(pc.field("treated")).drop_columns(["treated"])
    resp = train(contacted, "took", name="response", folds=3, seed=seed, max_depth=3, min_samples_leaf=100,
                 learning_rate=0.05, max_iter=150)  # fmt: skip
    result.rankings["propensity"] = ranking("propensity", score(resp, nxt))
    seconds["propensity"] = time.perf_counter() - t0
    for learner in ("two_model", "class_transformation"):
        t0 = time.perf_counter()
        up = train_uplift(
            train_t, "treated", "took", name=f"uplift_{offer}", learner=learner, folds=3, seed=seed
        )
        result.rankings[f"uplift {learner}"] = ranking(f"uplift {learner}", score_uplift(up, nxt))
        seconds[f"uplift {learner}"] = time.perf_counter() - t0
    result.rankings["random"] = ranking("random", rng.random(len(nxt_ms)))
    result.rankings["planted (oracle)"] = ranking("planted (oracle)", tau)
    return result


def report(r: Result) -> str:
    lines = [
        f"province {r.subscribers:,} subscribers; past campaign {r.train_rows:,} members "
        f"(contacted took {r.train_action_rate:.2%}, control {r.train_control_rate:.2%}); "
        f"next campaign's audience {r.audience:,}, top {TOP:.0%} = {round(r.audience * TOP):,}",
        f"{'ranking':28} {'incremental take-ups (planted)':>31} {'sleeping dogs':>14} {'Qini (2nd campaign)':>20}",
    ]
    for x in r.rankings.values():
        lines.append(f"{x.name:28} {x.incremental:31.1f} {x.sleeping_dogs:14.1%} {x.qini:20.3f}")
    b = r.best_uplift
    lines.append(
        f"uplift ({b.name}) vs propensity, top {TOP:.0%}: {b.incremental:.1f} / "
        f"{r.rankings['propensity'].incremental:.1f} incremental take-ups = {r.ratio:.2f}x (target >= 1.3x)"
    )
    lines.append(
        "seconds (shared 2-core machine): " + ", ".join(f"{k} {v:.1f}" for k, v in r.seconds.items())
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Result:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3,000 subscribers × 7 days")
    p.add_argument("--subscribers", type=int, default=20_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--export", type=Path, help="an existing simulator export (with --warehouse)")
    p.add_argument("--warehouse", type=Path, help="its ingested warehouse")
    p.add_argument("--offer", default=OFFER)
    a = p.parse_args(argv)
    if (a.export is None) != (a.warehouse is None):
        p.error("--export and --warehouse go together")
    if a.export:
        r = run(a.export, a.warehouse, offer=a.offer)
    else:
        n, days = (3_000, 7) if a.quick else (a.subscribers, a.days)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            export, wh = province(Path(tmp), n, days, a.seed)
            made = time.perf_counter() - t0
            r = run(export, wh, offer=a.offer)
            r.seconds = {"simulate+ingest": made, **r.seconds}
    print(report(r))
    return r


if __name__ == "__main__":
    main()
