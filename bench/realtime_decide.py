"""Touchpoint decisions benchmark: ``decide`` in process and over HTTP, with the embedded (SQLite)
and the Redis contact memory, each against a baseline measured in the same run.

    uv run python bench/realtime_decide.py --quick     # 20k subscribers (run by tests/bench)
    uv run python bench/realtime_decide.py --subscribers 200000 --duration 20

Set-up: a synthetic wide table (``bench/web.py``'s), a fresh platform database, a campaign with
a hall/10086 touchpoint wave reserved for a third of one county, an active rule on touchpoint
visits (matched live at every decision), model offers on two columns, and a contact memory with a
few touches for a third of the subscribers.

1. In process: ``Decider.decide`` (campaign + rule + model offers, policy, memory, ranking) for
   random subscribers of the county; baseline: ``campaigns.execute.touchpoint_offers`` (today's
   touchpoint answer: campaign offers and the ledger's history), the same subscribers.
2. Over HTTP from a second process (Debian's ``wrk``, closed loop, ``--connections``): the real
   ``POST /api/touchpoints/decide`` with a channel system's API key, through waitress; baseline:
   ``POST /api/touchpoints/offers`` with the same key and bodies. wrk has no fixed-rate mode: the
   rate printed is what the connections achieved.
Targets (issue 15): in process p50 < 1 ms, p99 < 5 ms; HTTP p99 < 15 ms at 1,000 req/s.
Figures are printed with ratios, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Figures:
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    rate: float = 0.0  # requests per second (HTTP), decisions per second (in process)
    requests: int = 0
    errors: int = 0


@dataclass
class Result:
    subscribers: int
    county_subscribers: int = 0
    backends: list[str] = field(default_factory=list)
    in_process: dict[str, Figures] = field(default_factory=dict)  # backend → decide
    in_process_baseline: Figures = field(default_factory=Figures)  # touchpoint_offers
    http: dict[str, Figures] = field(default_factory=dict)
    http_baseline: dict[str, Figures] = field(default_factory=dict)
    offers_per_decision: float = 0.0
    fallbacks: int = 0
    skipped: list[str] = field(default_factory=list)


def _helpers() -> Any:
    spec = importlib.util.spec_from_file_location("bench_web_helpers", Path(__file__).with_name("web.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _pcts(ms: list[float]) -> tuple[float, float]:
    a = np.asarray(ms)
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def _redis_ok() -> str | None:
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=0.5).ping()
    except Exception as e:  # no server: the Redis figures are skipped, and the report says why
        return f"redis: no server at 127.0.0.1:6379 ({type(e).__name__})"
    return None


def _seed(wh: Path, county: str, numbers: list[str], now: dt.datetime) -> None:
    """A touchpoint campaign for a third of the county, an active visit rule, model columns."""
    from tagcloud.campaigns.design import CampaignDesign, SubCampaign, Wave
    from tagcloud.campaigns.workflow import Actor
    from tagcloud.realtime.rulestore import RuleDesign
    from tagcloud.web.campaigns import service
    from tagcloud.web.realtime.views import open_rules

    d = CampaignDesign(
        campaign_id="HALL388", name="388套餐", region_id=county, target="arpu >= 0", start=now - dt.timedelta(days=1),
        sub_campaigns=[SubCampaign(name="all", offer_id="PL_388",
                                   scripts={"hall": "推荐388套餐, 尾号{msisdn_tail}", "10086": "388套餐, 尾号{msisdn_tail}"})],
        waves=[Wave(channel="10086")], priority=3, control_share=0.0,
    )  # fmt: skip
    who = Actor("bench", "county", county)
    boss = Actor("boss", "city", county[:3], can_approve=True)
    with service.open_store() as store, service.open_ledger() as ledger:
        store.create(d, who)
        store.submit("HALL388", who)
        store.approve("HALL388", boss)
        some = numbers[::3]
        ledger.reserve_list(["HALL388"] * len(some), some, ["PL_388"] * len(some), [3] * len(some), "10086",
                            now - dt.timedelta(hours=1), sub_campaigns=["all"] * len(some))  # fmt: skip
    rule = RuleDesign(
        rule_id="visit_up", name="visit upsell", event_type="touchpoint_visit",
        condition="event.channel = '10086' AND arpu >= 50", offer_id="DP_10G", script="10G流量包, 尾号{msisdn_tail}",
        channels=["10086", "hall"], priority=2, valid_from=now.date() - dt.timedelta(days=1),
        valid_until=now.date() + dt.timedelta(days=30), region_id=county, region_level="county", control_share=0.0,
    )  # fmt: skip
    with open_rules() as rules:
        rules.create(rule, who)
        rules.submit("visit_up", who)
        rules.approve("visit_up", boss)
        rules.activate("visit_up", who)


def _memory_seed(memory: Any, numbers: list[str], now: dt.datetime) -> None:
    from tagcloud.realtime.memory import MemoryOutcome, Recollection

    for k, n in enumerate(numbers[1::3]):
        memory.record(n, [
            Recollection("PL_388", "hall", MemoryOutcome.OFFERED, now - dt.timedelta(days=2), "HALL388"),
            Recollection("PL_388", "hall", MemoryOutcome.CONSIDERING, now - dt.timedelta(days=2), "HALL388"),
            Recollection("DP_10G", "web_hall", MemoryOutcome.REFUSED if k % 2 else MemoryOutcome.OFFERED,
                         now - dt.timedelta(days=1), "rule:visit_up"),
        ])  # fmt: skip


def _wrk(
    port: int, path: str, key: str, bodies: list[str], seconds: int, connections: int, tmp: Path
) -> Figures:
    lua = tmp / f"wrk-{path.strip('/').replace('/', '-')}.lua"
    lua.write_text(
        "local bodies = " + "{" + ",".join(json.dumps(b) for b in bodies) + "}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #bodies + 1\n"
        f'  return wrk.format("POST", "{path}", {{["Content-Type"] = "application/json", ["X-API-Key"] = "{key}"}}, bodies[i])\n'
        "end\n"
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("JSON {\\"p50\\": %d, \\"p99\\": %d, \\"n\\": %d, \\"non2xx\\": %d, \\"errors\\": %d}\\n",\n'
        "    latency:percentile(50), latency:percentile(99), summary.requests, summary.errors.status,\n"
        "    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))\n"
        "end\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(lua), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("JSON "))
    got = json.loads(line[5:])
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out.stdout).group(1))  # type: ignore[union-attr]
    return Figures(got["p50"] / 1000, got["p99"] / 1000, rate, got["n"], got["non2xx"] + got["errors"])


def main(argv: list[str] | None = None) -> Result:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="20k subscribers, 2 s of HTTP per figure")
    p.add_argument("--subscribers", type=int, default=None)
    p.add_argument("--decisions", type=int, default=None, help="in-process decisions per backend")
    p.add_argument("--duration", type=int, default=None, help="seconds of wrk per HTTP figure")
    p.add_argument("--connections", type=int, default=4, help="wrk connections (closed loop)")
    p.add_argument("--no-http", action="store_true")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rows = args.subscribers or (20_000 if args.quick else 200_000)
    n_dec = args.decisions or (2_000 if args.quick else 20_000)
    seconds = args.duration or (2 if args.quick else 10)
    helpers = _helpers()
    cache = Path("var/bench/realtime_decide")
    cache.mkdir(parents=True, exist_ok=True)
    wh = helpers._warehouse(rows, cache)
    res = Result(rows)
    now = dt.datetime.now().replace(microsecond=0)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        _client, county = helpers._django(wh, tmp)
        from django.conf import settings
        from django.db import connection
        from django.db.backends.signals import connection_created

        # the platform database as a deployment runs SQLite: WAL, fsync at checkpoints (every call
        # writes its audit row; PostgreSQL is the choice at scale)
        connection.cursor().execute("PRAGMA journal_mode=WAL")
        connection_created.connect(
            lambda connection, **_: connection.cursor().execute("PRAGMA synchronous=NORMAL"), weak=False
        )

        from tagcloud.audience.query import AudienceEngine
        from tagcloud.campaigns.execute import touchpoint_offers
        from tagcloud.realtime.decide import ModelOffer
        from tagcloud.web.campaigns import service as campaigns
        from tagcloud.web.realtime import service
        from tagcloud.web.realtime.models import ApiKey
        from tagcloud.web.reference.models import Region

        settings.CAMPAIGN_DB = f"sqlite:///{tmp / 'campaigns.db'}"
        settings.CAMPAIGN_APPROVAL_CHAINS = {"county": ["city"]}
        settings.TOUCHPOINT_MODEL_OFFERS = (
            ModelOffer("PROD_0003", "prod 3", "prod_0003", "推荐产品3, 尾号{msisdn_tail}"),
            ModelOffer("NUM_PACK", "measure pack", "num_000", "推荐, 尾号{msisdn_tail}", min_score=0.2),
        )
        eng = AudienceEngine.open(wh, can_unmask=True)
        numbers = [str(x) for x in eng.list_members(f"county_id = '{county}'", limit=100_000)["msisdn"]]
        res.county_subscribers = len(numbers)
        _seed(wh, county, numbers, now)
        rng = np.random.default_rng(7)
        picks = [numbers[i] for i in rng.integers(0, len(numbers), n_dec)]
        backends = ["sqlite"]
        why = _redis_ok()
        if why is None:
            backends.append("redis")
        else:
            res.skipped.append(why)
        res.backends = backends
        key_obj, key = ApiKey.issue(
            "bench 10086", ["10086", "hall"], Region.objects.get(region_id=county), None
        )
        _ = key_obj
        for backend in backends:
            if backend == "sqlite":
                settings.TOUCHPOINT_MEMORY = f"sqlite:///{tmp / 'memory.db'}"
            else:
                settings.TOUCHPOINT_MEMORY = "redis://127.0.0.1:6379/0"
            service.forget()
            d = service.decider()
            for n in numbers:  # a fresh memory per run (Redis keeps keys between runs)
                d.memory.forget(n)
            _memory_seed(d.memory, numbers, now)
            d.decide(picks[0], "10086")  # load rules and the subscriber columns once
            ms, offers = [], 0
            for n in picks:
                t0 = time.perf_counter()
                out = d.decide(n, "10086")
                ms.append((time.perf_counter() - t0) * 1000)
                offers += len(out.offers)
                res.fallbacks += int(out.fallback)
            p50, p99 = _pcts(ms)
            res.in_process[backend] = Figures(p50, p99, len(ms) / (sum(ms) / 1000), len(ms))
            res.offers_per_decision = offers / len(picks)
        # the baseline: today's touchpoint answer over the same ledger and subscribers
        with campaigns.open_ledger() as ledger, campaigns.open_store() as store:
            designs = {"HALL388": store.design("HALL388")}
            touchpoint_offers(ledger, designs, picks[0], "10086", now)
            ms = []
            for n in picks:
                t0 = time.perf_counter()
                touchpoint_offers(ledger, designs, n, "10086", now)
                ms.append((time.perf_counter() - t0) * 1000)
        p50, p99 = _pcts(ms)
        res.in_process_baseline = Figures(p50, p99, len(ms) / (sum(ms) / 1000), len(ms))

        if not args.no_http:
            if shutil.which("wrk") is None:
                res.skipped.append("http: wrk is not installed (apt-get install wrk)")
            else:
                bodies = [json.dumps({"msisdn": n, "channel": "10086"}) for n in picks[:500]]
                for backend in backends:
                    settings.TOUCHPOINT_MEMORY = (
                        f"sqlite:///{tmp / 'memory.db'}"
                        if backend == "sqlite"
                        else "redis://127.0.0.1:6379/0"
                    )
                    service.forget()
                    server, port = helpers._serve()
                    try:
                        _wrk(port, "/api/touchpoints/decide", key, bodies, 1, 1, tmp)  # warm up
                        res.http[backend] = _wrk(
                            port, "/api/touchpoints/decide", key, bodies, seconds, args.connections, tmp
                        )
                        res.http_baseline[backend] = _wrk(
                            port, "/api/touchpoints/offers", key, bodies, seconds, args.connections, tmp
                        )
                    finally:
                        server.close()
        service.forget()
        if "redis" in backends:
            with contextlib.suppress(Exception):
                import redis

                r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
                for n in numbers:
                    r.delete(f"tagcloud:memory:{n}")
    _report(res, os.cpu_count() or 0)
    if args.json:
        print(json.dumps(res, default=lambda o: o.__dict__))
    return res


def _report(r: Result, cpus: int) -> None:
    b = r.in_process_baseline
    print(
        f"realtime decide: {r.subscribers:,} subscribers, {r.county_subscribers:,} in the county; {cpus} cores (shared)"
    )
    print(f"  in process, baseline touchpoint_offers: p50 {b.p50_ms:.3f} ms, p99 {b.p99_ms:.3f} ms")
    for k, f in r.in_process.items():
        print(f"  in process, decide ({k} memory): p50 {f.p50_ms:.3f} ms, p99 {f.p99_ms:.3f} ms, "
              f"{f.rate:,.0f}/s; {f.p50_ms / b.p50_ms:.2f}× the baseline's p50 (targets p50 < 1, p99 < 5 ms)")  # fmt: skip
    print(f"  {r.offers_per_decision:.2f} offers per decision, {r.fallbacks} fallbacks")
    for k, f in r.http.items():
        base = r.http_baseline[k]
        print(f"  HTTP decide ({k}): p50 {f.p50_ms:.2f} ms, p99 {f.p99_ms:.2f} ms at {f.rate:,.0f} req/s "
              f"({f.requests:,} requests, {f.errors} errors); baseline /offers p50 {base.p50_ms:.2f}, "
              f"p99 {base.p99_ms:.2f} ms at {base.rate:,.0f} req/s; p99 ratio {f.p99_ms / max(base.p99_ms, 1e-9):.2f}× "
              f"(target p99 < 15 ms at 1,000 req/s)")  # fmt: skip
    for s in r.skipped:
        print(f"  skipped: {s}")


if __name__ == "__main__":
    main()
