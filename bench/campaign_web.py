"""Campaign pages benchmark (issue 6): a campaign run and its evaluation through the web platform
against the same calls straight to the campaign library, measured side by side in one run.

    uv run python bench/campaign_web.py            # 200k synthetic subscribers (cached in var/bench/campaign_web/)
    uv run python bench/campaign_web.py --quick    # 20k subscribers, a few seconds (run by the test suite)

A county marketer designs a campaign (two tiers by ARPU, SMS, 10% control) through the design
form; an approver approves it; "run" sends the SMS wave over SMPP to a local SMSC in the page's
background thread. The baseline is the same design created and run with the library alone
(``CampaignStore`` + ``target_from_audience`` + ``run_due``) against the same SMSC and rate.
Then the evaluation page (request → rendered charts) against ``evaluate`` itself. Figures are
printed with ratios, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START = dt.datetime(2026, 11, 2, 10, 0)


@dataclass
class Result:
    subscribers: int
    target: int = 0
    sms_web: int = 0
    sms_library: int = 0
    run_web_s: float = 0.0
    run_library_s: float = 0.0
    evaluation_page_ms: float = 0.0
    evaluate_ms: float = 0.0


def _bench_web() -> Any:
    """bench/web.py's helpers (synthetic warehouse, a fresh platform database, logged-in client)."""
    spec = importlib.util.spec_from_file_location("bench_web_helpers", Path(__file__).with_name("web.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _design(cid: str) -> dict[str, str]:
    return {
        "campaign_id": cid,
        "name": "bench",
        "condition": "arpu >= 0",
        "tier_attribute": "arpu",
        "tier_threshold": "80",
        "offer_high": "G5_UP",
        "offer_rest": "DP_10G",
        "sms_script": "尊敬的客户(尾号{msisdn_tail}): 专属优惠, 回复KT办理",
        "control_pct": "10",
        "start": START.strftime("%Y-%m-%dT%H:%M"),
        "submit": "1",
    }


def main(argv: list[str] | None = None) -> Result:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="20k subscribers, fewer repetitions")
    p.add_argument("--subscribers", type=int, default=None)
    p.add_argument("--rate", type=float, default=5000.0, help="SMS per second contracted with the SMSC")
    p.add_argument("--json", action="store_true", help="also print the result as one JSON line")
    args = p.parse_args(argv)
    rows = args.subscribers or (20_000 if args.quick else 200_000)
    reps = 3 if args.quick else 10

    helpers = _bench_web()
    cache = Path("var/bench/campaign_web")
    cache.mkdir(parents=True, exist_ok=True)
    wh = helpers._warehouse(rows, cache)
    from tagcloud.audience.groups import release_holdout

    for cid in ("WEBRUN", "LIBRUN"):  # a previous run's holdouts would shrink this run's targets
        with contextlib.suppress(KeyError):  # none registered yet: a fresh cache
            release_holdout(wh, cid)
    out = Result(rows)
    with tempfile.TemporaryDirectory() as tmp:
        client, county = helpers._django(wh, Path(tmp))
        from django.conf import settings
        from django.contrib.auth.models import User
        from django.test import Client

        from tagcloud.audience.query import AudienceEngine
        from tagcloud.campaigns.channels.smsc import LocalSmsc
        from tagcloud.campaigns.demo import _free_port
        from tagcloud.campaigns.evaluate import evaluate
        from tagcloud.campaigns.execute import Target, run_due, target_from_audience
        from tagcloud.campaigns.workflow import Actor
        from tagcloud.web.accounts.models import Profile, Role
        from tagcloud.web.campaigns import service

        settings.CAMPAIGN_DB = f"sqlite:///{Path(tmp) / 'campaigns.db'}"
        settings.CAMPAIGN_DIR = str(Path(tmp) / "campaigns")
        settings.CAMPAIGN_APPROVAL_CHAINS = {"county": ["city"]}
        settings.CAMPAIGN_SMS_RATE = args.rate
        u = User.objects.create_user("bench_approver", password="pw-bench-1234")
        Profile.objects.create(user=u, role=Role.objects.get(code="approver"), region_id=county[:3])
        approver = Client()
        approver.force_login(u)
        with LocalSmsc(port=_free_port(), rate=int(args.rate * 2), receipt_delay=0.01) as smsc:
            settings.CAMPAIGN_SMSC = f"127.0.0.1:{smsc.port}"
            # --- through the web: design form, approval, run button, wait for the background pass
            t0 = time.perf_counter()
            client.post("/campaigns/design/", _design("WEBRUN"))
            approver.post("/campaigns/WEBRUN/review/", {"decision": "approve", "comment": "ok"})
            from tagcloud.jobs.worker import InProcessWorker

            worker = InProcessWorker()  # the run is a job, as `serve --with-worker` runs it
            worker.start()
            try:
                client.post("/campaigns/WEBRUN/run/", {"now": START.isoformat()})
                while service.run_state("WEBRUN").running:
                    time.sleep(0.02)
            finally:
                worker.stop()
            out.run_web_s = time.perf_counter() - t0
            state = service.run_state("WEBRUN")
            if state.error:
                raise RuntimeError(state.error)
            with service.open_ledger() as led:
                out.sms_web = led.db.q(
                    "SELECT count(*) FROM contacts WHERE campaign_id='WEBRUN' AND status IN ('submitted','delivered')"
                )[0][0]
            # --- the library alone: the same design, store, target, run_due
            t0 = time.perf_counter()
            engine = AudienceEngine.open(wh, scope=f"county_id = '{county}'")
            with service.open_store() as store, service.open_ledger() as led:
                d = store.design("WEBRUN").model_copy(update={"campaign_id": "LIBRUN"})
                who = Actor("lib", "county", county)
                store.create(d, who)
                store.submit("LIBRUN", who)
                store.approve("LIBRUN", Actor("boss", "city", county[:3], can_approve=True))
                store.start("LIBRUN")
                target = target_from_audience(engine, d)
                run_due(
                    led, d, target, Path(tmp) / "lib", START, smsc=("127.0.0.1", smsc.port),
                    sms_rate=args.rate,
                )  # fmt: skip
                out.sms_library = led.db.q(
                    "SELECT count(*) FROM contacts WHERE campaign_id='LIBRUN' AND status IN ('submitted','delivered')"
                )[0][0]
            out.run_library_s = time.perf_counter() - t0
        out.target = len(Target.load(service.work_dir() / "targets" / "WEBRUN.target.parquet"))
        # --- the evaluation page against evaluate() itself
        page, lib = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            r = client.get("/campaigns/WEBRUN/evaluation/")
            page.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.status_code
            t0 = time.perf_counter()
            with service.open_store() as store, service.open_ledger() as led:
                d = store.design("WEBRUN")
                evaluate(led, d, Target.load(service.work_dir() / "targets" / "WEBRUN.target.parquet"), None)
            lib.append(time.perf_counter() - t0)
        out.evaluation_page_ms = 1000 * statistics.median(page)
        out.evaluate_ms = 1000 * statistics.median(lib)
    print(f"{rows:,} subscribers; county target {out.target:,} (10% control); SMS at {args.rate:,.0f}/s")
    print(
        f"run, web (form → approve → background run_due): {out.run_web_s:.2f} s, {out.sms_web:,} SMS; "
        f"library alone: {out.run_library_s:.2f} s, {out.sms_library:,} SMS "
        f"→ {out.run_web_s / out.run_library_s:.2f}× the time; "
        f"{out.sms_web / out.run_web_s:,.0f} vs {out.sms_library / out.run_library_s:,.0f} SMS/s "
        f"({(out.sms_web / out.run_web_s) / (out.sms_library / out.run_library_s):.2f}×)"
    )
    # The library's second campaign gets fewer members: control groups never overlap another
    # campaign's holdout, so the web campaign's 10% are left out of the baseline's target.
    print(
        f"evaluation page p50 {out.evaluation_page_ms:.1f} ms vs evaluate() {out.evaluate_ms:.1f} ms "
        f"→ {out.evaluation_page_ms / out.evaluate_ms:.2f}×"
    )
    if args.json:
        import dataclasses
        import json

        print(json.dumps(dataclasses.asdict(out)))
    return out


if __name__ == "__main__":
    main()
