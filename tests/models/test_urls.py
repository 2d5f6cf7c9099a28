"""URL/app translation: label-boundary matching, content ids, server rules, rule validation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagcloud.models.urls import (
    RuleError,
    interests_sql,
    load_rules,
    parse_rules,
    registrable_domain,
    translate,
    usage_sql,
)

RULES = {
    "version": "t1",
    "categories": {"social": "社交", "music": "音乐", "game": "游戏"},
    "sites": [
        {"site": "qq", "app": "QQ", "category": "social", "domains": ["qq.com"]},
        {
            "site": "qqmusic",
            "app": "QQ音乐",
            "category": "music",
            "domains": ["y.qq.com"],
            "paths": [
                {"pattern": "^/song/([0-9]+)", "content_type": "song"},
                {"pattern": "^/singer/([a-z]+)", "content_type": "artist"},
            ],
        },
        {"site": "mail", "app": "邮箱", "category": "social", "hosts": ["mail.qq.com"]},
    ],
    "servers": [
        {"app": "王者荣耀", "site": "hok", "category": "game", "cidr": "10.1.0.0/16"},
        {"app": "微信", "site": "wechat", "category": "social", "cidr": "10.1.2.0/24", "ports": [443]},
    ],
}


def _records(rows: list[tuple[str, str, str, int]]) -> pa.Table:
    n = len(rows)
    return pa.table(
        {
            "record_id": pa.array(range(n), pa.int64()),
            "msisdn": ["13800000001"] * n,
            "start_time": pa.array([datetime(2026, 11, 1 + i % 5) for i in range(n)], pa.timestamp("us")),
            "duration_s": pa.array([10] * n, pa.int32()),
            "host": [r[0] for r in rows],
            "uri_path": [r[1] for r in rows],
            "server_ip": [r[2] for r in rows],
            "server_port": pa.array([r[3] for r in rows], pa.int32()),
            "bytes_up": pa.array([100] * n, pa.int64()),
            "bytes_down": pa.array([900] * n, pa.int64()),
        }
    )


def _translate(rows: list[tuple[str, str, str, int]], doc: dict[str, Any] = RULES) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    con.register("data_xdr", _records(rows))
    assert translate(con, "data_xdr", parse_rules(doc)) == len(rows)
    return con.execute(
        "SELECT site, app, category, content_type, content_id, matched_by FROM xdr_translated ORDER BY record_id"
    ).fetchall()


def test_label_boundaries_no_substring_false_positives() -> None:
    got = _translate(
        [
            ("qq.com", "/", "1.1.1.1", 80),
            ("www.qq.com", "/", "1.1.1.1", 80),
            ("notqq.com", "/", "1.1.1.1", 80),
            ("qq.com.evil.cn", "/", "1.1.1.1", 80),
            ("qq.co", "/", "1.1.1.1", 80),
            ("WWW.QQ.COM:8080", "/", "1.1.1.1", 80),
            ("qq.com.", "/", "1.1.1.1", 80),
        ]
    )
    assert [g[0] for g in got] == ["qq", "qq", "notqq.com", "evil.cn", "qq.co", "qq", "qq"]
    assert [g[5] for g in got] == [
        "domain",
        "domain",
        "registrable",
        "registrable",
        "registrable",
        "domain",
        "domain",
    ]


def test_most_specific_rule_and_exact_hosts() -> None:
    got = _translate(
        [
            ("y.qq.com", "/song/42", "1.1.1.1", 80),
            ("a.y.qq.com", "/singer/jay", "1.1.1.1", 80),
            ("mail.qq.com", "/", "1.1.1.1", 80),
            ("x.mail.qq.com", "/", "1.1.1.1", 80),  # exact-host rule does not cover subdomains
            ("y.qq.com", "/playlist/1", "1.1.1.1", 80),
            ("www.qq.com", "/song/42", "1.1.1.1", 80),  # path rules belong to their own site only
        ]
    )
    assert got[0] == ("qqmusic", "QQ音乐", "music", "song", "42", "domain")
    assert got[1] == ("qqmusic", "QQ音乐", "music", "artist", "jay", "domain")
    assert got[2][:3] == ("mail", "邮箱", "social") and got[2][5] == "host"
    assert got[3][0] == "qq"
    assert got[4][3:5] == (None, None)
    assert got[5][0] == "qq" and got[5][4] is None


def test_server_rules_by_cidr_and_port() -> None:
    got = _translate(
        [
            ("", "", "10.1.2.7", 443),  # inside both blocks: the /24 with a matching port wins
            ("", "", "10.1.2.7", 80),  # port not listed for the /24: falls back to the /16
            ("", "", "10.1.200.1", 9000),
            ("", "", "10.2.0.1", 443),  # outside every block
            ("unknown.example.org", "/", "10.1.2.7", 443),  # unknown host: address decides
            ("qq.com", "/", "10.1.2.7", 443),  # a known host beats the address
        ]
    )
    assert [(g[0], g[5]) for g in got] == [
        ("wechat", "server"),
        ("hok", "server"),
        ("hok", "server"),
        (None, "none"),
        ("wechat", "server"),
        ("qq", "domain"),
    ]


LABEL = st.text(alphabet="abcq.-o", min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(LABEL, min_size=1, max_size=20))
def test_matching_equals_label_suffix_oracle(hosts: list[str]) -> None:
    hosts = [h for h in hosts if h.strip(".") and ".." not in h]
    if not hosts:
        return
    got = _translate([(h, "/", "1.1.1.1", 80) for h in hosts])

    def oracle(h: str) -> str | None:
        h = h.lower().rstrip(".")
        if h == "mail.qq.com":
            return "mail"
        labels = h.split(".")
        for k in range(len(labels)):
            suffix = ".".join(labels[k:])
            if suffix == "y.qq.com":
                return "qqmusic"
            if suffix == "qq.com":
                return "qq"
        return None

    for h, g in zip(hosts, got, strict=True):
        assert (g[0] if g[5] in ("host", "domain") else None) == oracle(h), h


def test_usage_and_interests() -> None:
    con = duckdb.connect()
    rows = [("y.qq.com", f"/song/{i % 2}", "1.1.1.1", 80) for i in range(10)] + [
        ("qq.com", "/", "1.1.1.1", 80)
    ]
    con.register("data_xdr", _records(rows))
    translate(con, "data_xdr", parse_rules(RULES))
    con.execute(f"CREATE TABLE internet_usage AS {usage_sql()}")
    usage = dict(
        ((lv, k), (s, b, d))
        for lv, k, s, b, d in con.execute(
            "SELECT level, key, sessions, bytes, days FROM internet_usage"
        ).fetchall()
    )
    assert usage[("category", "music")] == (10, 10_000, 5)
    assert usage[("song", "0")][0] == 5
    assert usage[("site", "qq")][0] == 1
    row = con.execute(
        f"SELECT top_category, top_app, interest_music, interest_social FROM ({interests_sql()})"
    ).fetchall()
    assert row == [("music", "QQ音乐", True, False)]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"domains": ["com.cn"]}, "public suffix"),
        ({"domains": ["github.io"]}, "public suffix"),
        ({"domains": ["bad host"]}, "not a valid host"),
        ({"category": "nope"}, "category 'nope'"),
        ({"paths": [{"pattern": "^/song/[0-9]+", "content_type": "song"}]}, "no capture group"),
        ({"paths": [{"pattern": "^/song/(", "content_type": "song"}]}, "does not compile"),
        ({"paths": [{"pattern": "^/(?=a)(x)", "content_type": "song"}]}, "look-around"),
        ({"paths": [{"pattern": "^/(x)", "content_type": "poem"}]}, "content_type 'poem'"),
        ({"domains": [], "hosts": []}, "at least one domain or host"),
        ({"colour": "red"}, "unknown fields"),
    ],
)
def test_bad_rules_named(patch: dict[str, Any], message: str) -> None:
    site = {"site": "s", "app": "A", "category": "social", "domains": ["example.com"], **patch}
    with pytest.raises(RuleError, match=message):
        parse_rules({"version": "1", "categories": RULES["categories"], "sites": [site]}, "test.yaml")


def test_bad_server_rules_and_duplicates() -> None:
    base = {"version": "1", "sites": [{"site": "a", "app": "A", "category": "c", "domains": ["a.com"]}]}
    with pytest.raises(RuleError, match="not an IPv4 network"):
        parse_rules({**base, "servers": [{"app": "x", "category": "c", "cidr": "10.1.2.3/16"}]})
    with pytest.raises(RuleError, match="ports"):
        parse_rules(
            {**base, "servers": [{"app": "x", "category": "c", "cidr": "10.1.0.0/16", "ports": [70000]}]}
        )
    dup = {"site": "b", "app": "B", "category": "c", "domains": ["a.com"]}
    with pytest.raises(RuleError, match="already claimed by site 'a'"):
        parse_rules({**base, "sites": [*base["sites"], dup]})


def test_bundled_library_is_valid_and_registrable_domains() -> None:
    lib = load_rules()
    assert lib.version and len(lib.sites) > 40 and lib.servers
    assert registrable_domain("a.b.example.com.cn") == "example.com.cn"
    assert registrable_domain("foo.github.io") == "foo.github.io"
    assert registrable_domain("com.cn") is None
    with pytest.raises(RuleError, match="does not exist"):
        load_rules("/nonexistent/urls.yaml")


def test_bundled_library_covers_the_simulated_internet() -> None:
    """Every endpoint of the simulator's universe translates to its app and content id; no look-alike matches."""
    internet = pytest.importorskip("tagcloud.sim.internet")
    e = internet.endpoints()
    rows, want = [], []
    for app_id, kind, host, path, content, ip_range, port in zip(*e.values(), strict=True):
        ip = ip_range.split("/")[0].rsplit(".", 1)[0] + ".77"
        cid = str(internet.CONTENT_KINDS[content][0] + 42) if content else "0"
        p = str(path).replace("{id}", cid).replace("{n}", "3") if path else ""
        rows.append((host or "", p, ip, port))
        want.append((app_id, kind, content, cid if content else None))
    con = duckdb.connect()
    con.register("data_xdr", _records(rows))
    translate(con, "data_xdr", load_rules())
    got = con.execute(
        "SELECT site, content_type, content_id, matched_by FROM xdr_translated ORDER BY record_id"
    ).fetchall()
    for (app_id, kind, content, cid), (site, ctype, gid, how) in zip(want, got, strict=True):
        if app_id == "lookalike":
            assert how not in ("host", "domain"), (app_id, site)
        elif app_id != "other_web":
            assert site == app_id, (app_id, kind, site)
            assert how == ("server" if kind == "ip" else how)
            if content:
                assert (ctype, gid) == (content, cid), (app_id, kind)
