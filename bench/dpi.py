"""Benchmark: URL/app translation of mobile-internet records (tagcloud.models.urls).

Generates xDR-like records over the bundled rule library's universe plus look-alike hosts that a
substring matcher gets wrong (``notqq.com``, ``qq.com.evil.cn``), unknown sites and address-only
client traffic. Measures the DuckDB translation on ONE thread (records per second per core) and,
in the same run, a naive per-record Python matcher (substring ``in`` + ``re``) as the baseline.
Checks every engine result against an independent oracle computed on the distinct hosts, paths and
addresses: substring false positives must be zero.

    uv run python bench/dpi.py            # 5M records
    uv run python bench/dpi.py --quick    # 200k records (run by tests/bench/test_bench_quick.py)
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class Result:
    records: int
    engine_seconds: float
    engine_rate: float
    baseline_rate: float
    engine_cpu_rate: float
    baseline_cpu_rate: float
    wrong_site: int
    wrong_content: int
    false_positives_engine: int
    false_positives_baseline: int


def build_pools(rules, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """Hosts (with the site an oracle expects), per-site path pools and server addresses."""
    hosts: list[str] = []
    lookalike: list[bool] = []
    path_rule_site: list[int] = []  # index into rules.sites, or -1
    for i, s in enumerate(rules.sites):
        for d in s.domains:
            for prefix in ("", "www.", "api.", "img1.", "m.", "cdn.static."):
                hosts.append(prefix + d)
                lookalike.append(False)
                path_rule_site.append(i if s.paths else -1)
            # Substring traps: same letters, different registrable domain.
            for trap in ("not" + d, d + ".evil.cn", "x" + d.replace(".", "-") + ".com", d + "s.net"):
                if oracle_site(rules, trap) is not None:
                    continue  # "noty.qq.com" is a real subdomain of qq.com, not a trap
                hosts.append(trap)
                lookalike.append(True)
                path_rule_site.append(-1)
        for h in s.hosts:
            hosts.append(h)
            lookalike.append(False)
            path_rule_site.append(i if s.paths else -1)
    for k in range(300):  # sites no rule knows
        hosts.append(f"www.site{k}.com.cn" if k % 2 else f"cdn{k}.example{k}.org")
        lookalike.append(False)
        path_rule_site.append(-1)
    hosts.append("")  # address-only client traffic
    lookalike.append(False)
    path_rule_site.append(-1)

    generic = ["/", "/index.html", "/api/v1/feed", "/static/app.js"]
    paths: list[str] = list(generic)
    path_off: list[int] = []
    path_len: list[int] = []
    site_pool: dict[int, tuple[int, int]] = {}
    for i, s in enumerate(rules.sites):
        if not s.paths:
            continue
        start = len(paths)
        for p in s.paths:
            for _ in range(60):
                paths.append(_example_path(p.pattern, rng))
        paths.extend(generic)
        site_pool[i] = (start, len(paths) - start)
    for ps in path_rule_site:
        off, n = site_pool.get(ps, (0, len(generic)))
        path_off.append(off)
        path_len.append(n)

    ips: list[tuple[str, int]] = []
    for r in rules.servers:
        net = ipaddress.IPv4Network((r.network, r.prefix))
        for _ in range(20):
            addr = str(net.network_address + int(rng.integers(0, net.num_addresses)))
            ports = r.ports or (443, 8080)
            ips.append((addr, int(ports[int(rng.integers(0, len(ports)))])))
            ips.append((addr, 9999))  # wrong port for a port-limited block
    for _ in range(200):
        ips.append((f"10.{rng.integers(0, 256)}.{rng.integers(0, 256)}.{rng.integers(1, 255)}", 443))
    return hosts, np.array(lookalike), np.array(path_off), np.array(path_len), paths, ips


def _example_path(pattern: str, rng: np.random.Generator) -> str:
    """A path the pattern matches, with a random id in its capture group (for the bench universe)."""
    body = pattern.lstrip("^")
    ident = str(int(rng.integers(1, 10**6)))
    group = re.search(r"\((?!\?:)[^)]*\)(?:\{[0-9,]+\}|[+*])?", body)
    assert group is not None
    if "BV" in group.group(0):
        ident = "BV" + ident.rjust(10, "1")
    out = body[: group.start()] + ident + body[group.end() :]
    out = re.sub(r"\(\?:([^|)]+)\|[^)]*\)", r"\1", out)  # (?:web|m) → web
    out = out.replace("\\", "")
    return out


def oracle_site(rules, host: str) -> int | None:  # type: ignore[no-untyped-def]
    """Independent reference: walk the host's label-boundary suffixes from most specific."""
    h = host.lower().split(":")[0].rstrip(".")
    labels = h.split(".")
    exact = {x: i for i, s in enumerate(rules.sites) for x in s.hosts}
    dom = {x: i for i, s in enumerate(rules.sites) for x in s.domains}
    if h in exact:
        return exact[h]
    for k in range(len(labels)):
        suffix = ".".join(labels[k:])
        if suffix in dom:
            return dom[suffix]
    return None


def oracle_server(rules, ip: str, port: int) -> int | None:  # type: ignore[no-untyped-def]
    best, best_rank = None, -1
    a = int(ipaddress.IPv4Address(ip))
    for i, r in enumerate(rules.servers):
        if a >> (32 - r.prefix) == r.network >> (32 - r.prefix) and (not r.ports or port in r.ports):
            rank = r.prefix * 2 + (1 if r.ports else 0)
            if rank > best_rank:
                best, best_rank = i, rank
    return best


def naive_translate(rules, hosts: list[str], paths: list[str]) -> list[tuple[str | None, str | None]]:  # type: ignore[no-untyped-def]
    """The baseline: per record, the first rule whose domain is a substring of the host; ``re`` for paths."""
    compiled = [
        (d, s.site, [(re.compile(p.pattern), p.content_type) for p in s.paths])
        for s in rules.sites
        for d in (*s.hosts, *s.domains)
    ]
    out: list[tuple[str | None, str | None]] = []
    for host, path in zip(hosts, paths, strict=True):
        site, content = None, None
        for d, name, pats in compiled:
            if d in host:
                site = name
                for rx, _ in pats:
                    m = rx.search(path)
                    if m:
                        content = m.group(1)
                        break
                break
        out.append((site, content))
    return out


def run(n: int, baseline_n: int, seed: int = 7) -> Result:
    import duckdb
    import pyarrow as pa

    from tagcloud.models.urls import load_rules, translate

    rules = load_rules()
    rng = np.random.default_rng(seed)
    hosts, lookalike, path_off, path_len, paths, ips = build_pools(rules, rng)

    # Zipf-ish popularity over hosts, as real traffic is.
    # (in random order, so the baseline's rule order gives it no head start)
    weights = rng.permutation(1.0 / np.arange(1, len(hosts) + 1) ** 0.8)
    weights[-1] = weights.sum() * 0.08  # ~8% address-only sessions
    hi = rng.choice(len(hosts), size=n, p=weights / weights.sum())
    pi = path_off[hi] + rng.integers(0, 1 << 30, size=n) % path_len[hi]
    ii = rng.integers(0, len(ips), size=n)
    subs = rng.integers(0, 100_000, size=n)
    host_arr = pa.DictionaryArray.from_arrays(pa.array(hi, pa.int32()), pa.array(hosts)).cast(pa.string())
    path_arr = pa.DictionaryArray.from_arrays(pa.array(pi, pa.int32()), pa.array(paths)).cast(pa.string())
    ip_arr = pa.DictionaryArray.from_arrays(pa.array(ii, pa.int32()), pa.array([a for a, _ in ips])).cast(
        pa.string()
    )
    port_arr = pa.array(np.array([p for _, p in ips], dtype=np.int32)[ii])
    msisdn = pa.array(np.char.add("138", np.char.zfill(subs.astype(str), 8)))
    table = pa.table(
        {
            "record_id": pa.array(np.arange(n, dtype=np.int64)),
            "msisdn": msisdn,
            "start_time": pa.array(
                np.datetime64("2026-11-01") + rng.integers(0, 30 * 86400, size=n).astype("timedelta64[s]")
            ).cast(pa.timestamp("us")),
            "duration_s": pa.array(rng.integers(1, 600, size=n, dtype=np.int32)),
            "host": host_arr,
            "uri_path": path_arr,
            "server_ip": ip_arr,
            "server_port": port_arr,
            "bytes_up": pa.array(rng.integers(100, 10_000, size=n)),
            "bytes_down": pa.array(rng.integers(1_000, 1_000_000, size=n)),
        }
    )

    con = duckdb.connect()
    con.execute("SET threads = 1")  # per-core figure
    con.register("_arrow", table)
    con.execute("CREATE TABLE data_xdr AS SELECT * FROM _arrow")
    con.unregister("_arrow")
    del table

    t0, c0 = time.perf_counter(), time.process_time()
    translate(con, "data_xdr", rules)
    engine_s = time.perf_counter() - t0
    # CPU seconds of the process (DuckDB's one worker included): the per-core figure on a busy machine.
    engine_cpu = time.process_time() - c0

    # Oracle on distinct keys, then compare per record in SQL.
    exp_site = [rules.sites[i].site if (i := oracle_site(rules, h)) is not None else None for h in hosts]
    srv = [oracle_server(rules, a, p) for a, p in ips]
    con.register(
        "_oracle_host",
        pa.table({"hi": pa.array(range(len(hosts)), pa.int32()), "site": exp_site, "lookalike": lookalike}),
    )
    con.register(
        "_oracle_ip",
        pa.table(
            {
                "ii": pa.array(range(len(ips)), pa.int32()),
                "site": [rules.servers[i].site if i is not None else None for i in srv],
            }
        ),
    )
    # Expected content id: the host's own site rules applied to the path (distinct pairs only).
    c_site, c_pi, c_id = [], [], []
    for s in rules.sites:
        for j, p in enumerate(paths):
            for r in s.paths:
                mt = re.search(r.pattern, p)
                if mt:
                    c_site.append(s.site)
                    c_pi.append(j)
                    c_id.append(mt.group(1))
                    break
    con.register("_content", pa.table({"site": c_site, "pi": pa.array(c_pi, pa.int32()), "content": c_id}))
    con.register(
        "_keys",
        pa.table(
            {
                "record_id": np.arange(n),
                "hi": hi.astype(np.int32),
                "ii": ii.astype(np.int32),
                "pi": pi.astype(np.int32),
            }
        ),
    )
    wrong_site, fp_engine, wrong_content = con.execute(
        """
        WITH e AS (
            SELECT CASE WHEN t.matched_by IN ('host', 'domain', 'server') THEN t.site END AS got,
                   COALESCE(oh.site, oi.site) AS want, t.matched_by, oh.lookalike,
                   t.content_id, oc.content AS want_content
            FROM xdr_translated t JOIN _keys k USING (record_id)
            JOIN _oracle_host oh ON oh.hi = k.hi JOIN _oracle_ip oi ON oi.ii = k.ii
            LEFT JOIN _content oc ON oc.site = oh.site AND oc.pi = k.pi
        )
        SELECT count(*) FILTER (WHERE got IS DISTINCT FROM want),
               count(*) FILTER (WHERE lookalike AND matched_by IN ('host', 'domain')),
               count(*) FILTER (WHERE content_id IS DISTINCT FROM want_content)
        FROM e
        """
    ).fetchall()[0]

    m = min(baseline_n, n)
    b_hosts = [hosts[i] for i in hi[:m]]
    b_paths = [paths[i] for i in pi[:m]]
    t0, c0 = time.perf_counter(), time.process_time()
    naive = naive_translate(rules, b_hosts, b_paths)
    base_s = time.perf_counter() - t0
    base_cpu = time.process_time() - c0
    fp_base = sum(1 for (site, _), i in zip(naive, hi[:m], strict=True) if lookalike[i] and site is not None)
    return Result(
        n,
        engine_s,
        n / engine_s,
        m / base_s,
        n / max(engine_cpu, 1e-9),
        m / max(base_cpu, 1e-9),
        int(wrong_site),
        int(wrong_content),
        int(fp_engine),
        fp_base,
    )


def main(argv: list[str] | None = None) -> Result:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200k records (for the test suite)")
    ap.add_argument("--records", type=int, default=None)
    args = ap.parse_args(argv)
    n = args.records or (200_000 if args.quick else 5_000_000)
    r = run(n, baseline_n=20_000 if args.quick else 200_000)
    print(f"records                       {r.records:,}")
    print(f"engine (DuckDB, 1 thread)     {r.engine_seconds:.2f} s  {r.engine_rate:,.0f} records/s per core")
    print(f"baseline (Python per record)  {r.baseline_rate:,.0f} records/s")
    print(f"speed-up vs baseline          {r.engine_rate / r.baseline_rate:.1f}x")
    print(
        f"per CPU-second (busy machine) engine {r.engine_cpu_rate:,.0f}, baseline {r.baseline_cpu_rate:,.0f} records"
    )
    print(f"site mismatches vs oracle     {r.wrong_site}")
    print(f"content-id mismatches         {r.wrong_content}")
    print(
        f"substring false positives     engine {r.false_positives_engine}, baseline {r.false_positives_baseline}"
    )
    return r


if __name__ == "__main__":
    res = main()
    sys.exit(1 if res.false_positives_engine or res.wrong_site or res.wrong_content else 0)
