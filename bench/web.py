"""Web benchmark (issue 5): an audience count through the web — request → rendered htmx fragment —
against the same count through the audience library, measured side by side in one run.

    uv run python bench/web.py            # the demo province: 100k subscribers (cached in var/bench/web/)
    uv run python bench/web.py --quick    # 20k subscribers, a few seconds (run by the test suite)

The web path is measured twice: in process through Django's full stack (middleware, session,
CSRF, permission and region checks, condition parsing, template rendering) and over loopback HTTP
to a waitress server on 127.0.0.1, the way ``tagcloud serve`` runs. The user is a county marketer,
so every count carries the region scope. Figures are printed with ratios, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONDITIONS = (
    ["arpu >= 50", "brand = 'gotone'", "NOT tag_0001"],
    ["dou_mb > 2048", "age_band IN ('18-24', '25-34')", "tag_0003"],
    ["tenure_months >= 24", "arpu BETWEEN 30 AND 120", "NOT prod_0000"],
    ["mou >= 100", "brand <> 'easyown'", "tag_0002 OR tag_0004"],
)


@dataclass
class Result:
    subscribers: int
    requests: int
    library_p50_ms: float = 0.0
    web_p50_ms: float = 0.0
    web_p95_ms: float = 0.0
    http_p50_ms: float = 0.0
    http_p95_ms: float = 0.0
    counts_agree: bool = True
    counts: list[int] = field(default_factory=list)


def _pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[int(q) - 1] if len(xs) > 1 else xs[0]


def _warehouse(rows: int, root: Path) -> Path:
    from tagcloud.audience.indexer import build_index
    from tagcloud.audience.synth import WideSpec, write_wide

    wh = root / f"wh-{rows}"
    if not (wh / "index" / "CURRENT").exists():
        write_wide(wh, WideSpec(rows=rows, flags=40))
        build_index(wh)
    return wh


def _django(wh: Path, var: Path) -> tuple[Any, str]:
    """A fresh platform database with the synthetic regions and a county marketer logged in."""
    os.environ["TAGCLOUD_WAREHOUSE"] = str(wh)
    os.environ["TAGCLOUD_VAR_DIR"] = str(var)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagcloud.web.settings")
    from tagcloud.web import setup_django

    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ALLOWED_HOSTS = ["*"]
    setup_test_environment()
    call_command("migrate", interactive=False, verbosity=0)
    from tagcloud.audience.synth import _region_ids
    from tagcloud.web.accounts.demo import create_demo_users
    from tagcloud.web.reference.load import load_regions

    cities, counties, towns = _region_ids()
    rows: list[dict[str, Any]] = [
        {"region_id": "P", "name": "示范省", "level": "province", "parent_id": None}
    ]
    rows += [{"region_id": c, "name": c, "level": "city", "parent_id": "P"} for c in sorted(set(cities))]
    rows += [
        {"region_id": k, "name": k, "level": "county", "parent_id": k[:3]} for k in sorted(set(counties))
    ]
    rows += [{"region_id": t, "name": t, "level": "township", "parent_id": t[:6]} for t in towns]
    load_regions(rows)
    account = {a.role: a for a in create_demo_users()}["county_marketer"]
    from django.contrib.auth.models import User

    client = Client()
    # the sign-in form (lockout, audit) is tested on its own; the benchmark times counts
    client.force_login(User.objects.get(username=account.username))
    client.get("/audience/")
    return client, account.region_id


def main(argv: list[str] | None = None) -> Result:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="20k subscribers, fewer repetitions")
    p.add_argument("--subscribers", type=int, default=None)
    p.add_argument("--reps", type=int, default=None, help="requests per condition")
    p.add_argument("--json", action="store_true", help="also print the result as one JSON line")
    args = p.parse_args(argv)
    rows = args.subscribers or (20_000 if args.quick else 100_000)
    reps = args.reps or (5 if args.quick else 50)

    from tagcloud.progress import job

    cache = Path("var/bench/web")
    cache.mkdir(parents=True, exist_ok=True)
    wh = _warehouse(rows, cache)
    with tempfile.TemporaryDirectory() as tmp:
        client, county = _django(wh, Path(tmp))
        from tagcloud.audience.query import AudienceEngine
        from tagcloud.web.audiences.builder import combine_rows

        lib = AudienceEngine.open(wh, scope=f"county_id = '{county}'")
        csrf = client.cookies["csrftoken"].value
        res = Result(subscribers=rows, requests=reps * len(CONDITIONS))
        lib_ms: list[float] = []
        web_ms: list[float] = []
        http_ms: list[float] = []

        import re

        server, port = _serve()
        import http.client

        cookie = f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with job("audience count: library vs web vs http", total=res.requests) as j:
            for cond in CONDITIONS:
                text = combine_rows(cond)
                body = "&".join(f"cond={_q(c)}" for c in cond)
                for _ in range(reps):
                    t = time.perf_counter()
                    n_lib = lib.count(text)
                    lib_ms.append((time.perf_counter() - t) * 1000)

                    t = time.perf_counter()
                    r = client.post(
                        "/audience/count/", {"cond": cond}, HTTP_X_CSRFTOKEN=csrf, HTTP_HX_REQUEST="true"
                    )
                    web_ms.append((time.perf_counter() - t) * 1000)
                    m = re.search(rb'data-count="(\d+)"', r.content)
                    n_web = int(m.group(1)) if m else -1

                    t = time.perf_counter()
                    conn.request(
                        "POST",
                        "/audience/count/",
                        body=body,
                        headers={
                            "Cookie": cookie,
                            "X-CSRFToken": csrf,
                            "HX-Request": "true",
                            "Content-Type": "application/x-www-form-urlencoded",
                            "Referer": f"http://127.0.0.1:{port}/audience/",
                        },
                    )
                    html = conn.getresponse().read()
                    http_ms.append((time.perf_counter() - t) * 1000)
                    m = re.search(rb'data-count="(\d+)"', html)
                    n_http = int(m.group(1)) if m else -1
                    res.counts_agree &= n_lib == n_web == n_http
                    j.advance(1, rows=1)
                res.counts.append(n_lib)
        conn.close()
        server.close()
    res.library_p50_ms = statistics.median(lib_ms)
    res.web_p50_ms, res.web_p95_ms = statistics.median(web_ms), _pct(web_ms, 95)
    res.http_p50_ms, res.http_p95_ms = statistics.median(http_ms), _pct(http_ms, 95)
    print(f"subscribers {rows:,}; county marketer ({county}); {res.requests} requests per path")
    print(f"  library count          p50 {res.library_p50_ms:8.2f} ms   (baseline)")
    print(
        f"  web, in process        p50 {res.web_p50_ms:8.2f} ms   p95 {res.web_p95_ms:8.2f} ms   "
        f"{res.web_p50_ms / res.library_p50_ms:6.1f}x the library"
    )
    print(
        f"  web, HTTP (waitress)   p50 {res.http_p50_ms:8.2f} ms   p95 {res.http_p95_ms:8.2f} ms   "
        f"{res.http_p50_ms / res.library_p50_ms:6.1f}x the library"
    )
    print(f"  counts agree: {res.counts_agree} {res.counts}")
    if args.json:
        import dataclasses
        import json

        print(json.dumps(dataclasses.asdict(res)))
    return res


def _q(s: str) -> str:
    from urllib.parse import quote_plus

    return quote_plus(s)


def _serve() -> tuple[Any, int]:
    """waitress on a free loopback port in a thread (stopped by ``close()``)."""
    from waitress.server import create_server

    from tagcloud.web.wsgi import application

    server = create_server(application, host="127.0.0.1", port=0, threads=2)
    threading.Thread(target=server.run, daemon=True).start()
    return server, int(server.effective_port)  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
