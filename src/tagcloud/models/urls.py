"""URL and client-app translation of mobile-internet records (上网日志翻译, seed 004 §2).

A versioned rule library (``rules/urls.yaml`` or the business's own file) says which host, domain,
URI-path pattern and server address belongs to which site, app and category, and which path
segment is a content id (a song, an artist, a book, a game). Translation runs in DuckDB on whole
columns:

1. the distinct hosts of the records are cut into their label-boundary suffixes
   (``a.y.qq.com`` → ``a.y.qq.com``, ``y.qq.com``, ``qq.com``, ``com``) and joined to the rules on
   equality, so a rule for ``qq.com`` can never match ``notqq.com`` or ``qq.com.evil.cn``; the most
   specific rule wins;
2. records of sites with path rules get the content id by ``regexp_extract`` with the rule's pattern
   as a constant (one generated ``CASE`` per rule, evaluated vectorised);
3. records with no host, or a host no rule knows, are matched by server address: the distinct
   (address, port) pairs are joined to the CIDR rules on the masked network number, one equality
   join per prefix length.

Unknown hosts keep their registrable domain (Public Suffix List, from the ``publicsuffixlist``
package, no download) as the site, so usage by site covers the whole traffic.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import duckdb

DEFAULT_RULES = Path(__file__).parent / "rules" / "urls.yaml"
CONTENT_TYPES = (
    "song", "artist", "book", "game", "video", "article", "item", "stock", "car_series", "course", "ring", "page",
)  # fmt: skip

# Columns of the translated records (one row per input record).
TRANSLATED_COLUMNS = (
    "record_id",
    "msisdn",
    "start_time",
    "site",
    "app",
    "category",
    "content_type",
    "content_id",
    "matched_by",
    "bytes",
    "duration_s",
)


class RuleError(ValueError):
    """A rule library that cannot be used; the message names the rule and the problem."""


@dataclass(frozen=True)
class PathRule:
    pattern: str  # RE2; its first capture group is the content id
    content_type: str


@dataclass(frozen=True)
class SiteRule:
    site: str
    app: str
    category: str
    domains: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    paths: tuple[PathRule, ...] = ()


@dataclass(frozen=True)
class ServerRule:
    site: str
    app: str
    category: str
    network: int  # first address of the block, as an unsigned 32-bit integer
    prefix: int
    ports: tuple[int, ...] = ()  # empty = any port


@dataclass(frozen=True)
class RuleLibrary:
    """A validated rule library: what each host, path and server address means."""

    version: str
    categories: dict[str, str]
    sites: tuple[SiteRule, ...]
    servers: tuple[ServerRule, ...] = ()
    source: str = ""

    def site(self, name: str) -> SiteRule:
        for s in self.sites:
            if s.site == name:
                return s
        raise KeyError(f"no site rule {name!r}")


@cache
def _psl() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def normalise_host(host: str) -> str:
    """Lower case, no port, no trailing dot: the form rules and records are compared in."""
    h = host.strip().lower()
    if h.startswith("[") or h.count(":") > 1:  # IPv6 literal: leave as is
        return h
    return h.split(":", 1)[0].rstrip(".")


def registrable_domain(host: str) -> str | None:
    """The registrable domain (eTLD+1) of a host by the Public Suffix List, or None for a suffix."""
    return _psl().privatesuffix(normalise_host(host))


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _check_domain(where: str, d: str, *, exact: bool) -> str:
    norm = normalise_host(d)
    if norm != d.strip().lower().rstrip(".") or not norm or not all(_LABEL.match(x) for x in norm.split(".")):
        raise RuleError(f"{where}: {d!r} is not a valid host name (letters, digits, hyphens and dots only)")
    if not exact and _psl().is_public(norm):
        raise RuleError(
            f"{where}: {d!r} is a public suffix (Public Suffix List): a rule on it would match every "
            "site registered under it"
        )
    return norm


def _check_pattern(where: str, pattern: str) -> None:
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        raise RuleError(f"{where}: pattern {pattern!r} does not compile: {e}") from None
    if compiled.groups < 1:
        raise RuleError(f"{where}: pattern {pattern!r} has no capture group for the content id")
    if re.search(r"\(\?P?<[a-zA-Z]|\\[1-9]|\(\?[=!<]", pattern):
        # RE2 (DuckDB's engine) has no look-around or back-references.
        raise RuleError(f"{where}: pattern {pattern!r} uses look-around or back-references, which RE2 lacks")


def parse_rules(doc: dict[str, Any], source: str = "<dict>") -> RuleLibrary:
    """Validate a rule-library document (the YAML's content) and return the library."""
    if not isinstance(doc, dict) or "version" not in doc:
        raise RuleError(f"{source}: a rule library needs a 'version' and 'sites'")
    categories = {str(k): str(v) for k, v in (doc.get("categories") or {}).items()}
    sites: list[SiteRule] = []
    seen_keys: dict[tuple[str, str], str] = {}
    for i, raw in enumerate(doc.get("sites") or []):
        where = f"{source}: sites[{i}] ({raw.get('site', '?') if isinstance(raw, dict) else raw!r})"
        if not isinstance(raw, dict):
            raise RuleError(f"{where}: must be a mapping")
        unknown = set(raw) - {"site", "app", "category", "domains", "hosts", "paths"}
        if unknown:
            raise RuleError(f"{where}: unknown fields {sorted(unknown)}")
        for k in ("site", "app", "category"):
            if not raw.get(k):
                raise RuleError(f"{where}: missing {k!r}")
        if categories and raw["category"] not in categories:
            raise RuleError(f"{where}: category {raw['category']!r} is not in the library's categories")
        domains = tuple(_check_domain(where, d, exact=False) for d in raw.get("domains") or [])
        hosts = tuple(_check_domain(where, h, exact=True) for h in raw.get("hosts") or [])
        if not domains and not hosts:
            raise RuleError(f"{where}: needs at least one domain or host")
        for kind, names in (("domain", domains), ("host", hosts)):
            for n in names:
                if (kind, n) in seen_keys:
                    raise RuleError(
                        f"{where}: {kind} {n!r} is already claimed by site {seen_keys[(kind, n)]!r}"
                    )
                seen_keys[(kind, n)] = str(raw["site"])
        paths = []
        for j, p in enumerate(raw.get("paths") or []):
            pw = f"{where} paths[{j}]"
            if not isinstance(p, dict) or "pattern" not in p or "content_type" not in p:
                raise RuleError(f"{pw}: needs 'pattern' and 'content_type'")
            if p["content_type"] not in CONTENT_TYPES:
                raise RuleError(f"{pw}: content_type {p['content_type']!r} is not one of {CONTENT_TYPES}")
            _check_pattern(pw, str(p["pattern"]))
            paths.append(PathRule(str(p["pattern"]), str(p["content_type"])))
        sites.append(
            SiteRule(str(raw["site"]), str(raw["app"]), str(raw["category"]), domains, hosts, tuple(paths))
        )
    servers: list[ServerRule] = []
    for i, raw in enumerate(doc.get("servers") or []):
        where = f"{source}: servers[{i}]"
        if not isinstance(raw, dict):
            raise RuleError(f"{where}: must be a mapping")
        for k in ("app", "category", "cidr"):
            if not raw.get(k):
                raise RuleError(f"{where}: missing {k!r}")
        try:
            net = ipaddress.IPv4Network(str(raw["cidr"]), strict=True)
        except ValueError as e:
            raise RuleError(f"{where}: cidr {raw['cidr']!r} is not an IPv4 network: {e}") from None
        ports = tuple(int(p) for p in raw.get("ports") or [])
        if any(not 0 <= p <= 65535 for p in ports):
            raise RuleError(f"{where}: ports must be 0–65535, got {list(ports)}")
        if categories and raw["category"] not in categories:
            raise RuleError(f"{where}: category {raw['category']!r} is not in the library's categories")
        servers.append(
            ServerRule(
                str(raw.get("site") or raw["app"]),
                str(raw["app"]),
                str(raw["category"]),
                int(net.network_address),
                net.prefixlen,
                ports,
            )
        )
    if not sites:
        raise RuleError(f"{source}: the library has no site rules")
    return RuleLibrary(str(doc["version"]), categories, tuple(sites), tuple(servers), source)


def load_rules(path: str | Path | None = None) -> RuleLibrary:
    """Read and validate a rule library YAML (the bundled one by default)."""
    p = Path(path) if path is not None else DEFAULT_RULES
    if not p.exists():
        raise RuleError(f"rule library {p} does not exist")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise RuleError(f"rule library {p} is not valid YAML: {e}") from None
    return parse_rules(doc, str(p))


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _rule_tables(rules: RuleLibrary) -> tuple[Any, Any]:
    """The rules as Arrow tables: (domain/host keys → site index, server blocks → site fields)."""
    import pyarrow as pa

    keys: list[str] = []
    exact: list[bool] = []
    idx: list[int] = []
    for i, s in enumerate(rules.sites):
        for d in s.domains:
            keys.append(d)
            exact.append(False)
            idx.append(i)
        for h in s.hosts:
            keys.append(h)
            exact.append(True)
            idx.append(i)
    site_keys = pa.table(
        {
            "key": pa.array(keys, pa.string()),
            "exact": pa.array(exact, pa.bool_()),
            "labels": pa.array([k.count(".") + 1 for k in keys], pa.int32()),
            "rule": pa.array(idx, pa.int32()),
        }
    )
    net: list[int] = []
    prefix: list[int] = []
    port: list[int | None] = []
    srv: list[int] = []
    for i, r in enumerate(rules.servers):
        for p in r.ports or (None,):
            net.append(r.network)
            prefix.append(r.prefix)
            port.append(p)
            srv.append(i)
    servers = pa.table(
        {
            "network": pa.array(net, pa.int64()),
            "prefix": pa.array(prefix, pa.int32()),
            "port": pa.array(port, pa.int32()),
            "server_rule": pa.array(srv, pa.int32()),
        }
    )
    return site_keys, servers


def _site_fields(rules: RuleLibrary) -> Any:
    import pyarrow as pa

    return pa.table(
        {
            "rule": pa.array(range(len(rules.sites)), pa.int32()),
            "site": [s.site for s in rules.sites],
            "app": [s.app for s in rules.sites],
            "category": [s.category for s in rules.sites],
        }
    )


def _server_fields(rules: RuleLibrary) -> Any:
    import pyarrow as pa

    return pa.table(
        {
            "server_rule": pa.array(range(len(rules.servers)), pa.int32()),
            "site": [s.site for s in rules.servers],
            "app": [s.app for s in rules.servers],
            "category": [s.category for s in rules.servers],
        }
    )


def _content_sql(rules: RuleLibrary, rule_col: str, path_col: str) -> tuple[str, str]:
    """Two SQL expressions (content_type, content_id) generated from the path rules.

    Patterns become constants so DuckDB compiles each once and runs it over the column.
    """
    type_cases: list[str] = []
    id_cases: list[str] = []
    for i, s in enumerate(rules.sites):
        for p in s.paths:
            pat = _sql_str(p.pattern)
            cond = f"{rule_col} = {i} AND regexp_matches({path_col}, {pat})"
            type_cases.append(f"WHEN {cond} THEN {_sql_str(p.content_type)}")
            id_cases.append(f"WHEN {cond} THEN regexp_extract({path_col}, {pat}, 1)")
    if not type_cases:
        return "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)"
    return "CASE " + " ".join(type_cases) + " END", "CASE " + " ".join(id_cases) + " END"


def translate(
    con: duckdb.DuckDBPyConnection,
    source: str = "data_xdr",
    rules: RuleLibrary | None = None,
    *,
    into: str = "xdr_translated",
) -> int:
    """Translate every record of the relation ``source`` (data_xdr columns).

    Writes table ``<into>_ids`` (one row per record with an integer ``label``), table
    ``<into>_labels`` (label → site, app, category, matched_by) and view ``<into>`` with the
    columns of ``TRANSLATED_COLUMNS``: site, app and category of each record, the content type and
    id where a path rule matched, and ``matched_by`` (host, domain, server, registrable or none).
    Returns the number of records translated.
    """
    rules = rules or load_rules()
    site_keys, servers = _rule_tables(rules)
    con.register("_url_site_keys", site_keys)
    con.register("_url_site_fields", _site_fields(rules))
    con.register("_url_servers", servers)
    con.register("_url_server_fields", _server_fields(rules))
    src = source if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", source) else None
    if src is None:
        raise ValueError(f"source must be a table or view name, got {source!r}")

    # 1. Distinct hosts → most specific site rule, matched on whole labels only.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _url_distinct_hosts AS
            SELECT DISTINCT host FROM {src} WHERE host IS NOT NULL AND host <> ''"""
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _url_hosts AS
        WITH n AS (
            SELECT host, string_split(rtrim(split_part(lower(trim(host)), ':', 1), '.'), '.') AS parts
            FROM _url_distinct_hosts
        ), s AS (
            SELECT host, len(parts) AS n_labels,
                   unnest(list_transform(range(len(parts)),
                          lambda i: array_to_string(list_slice(parts, i + 1, len(parts)), '.'))) AS suffix
            FROM n
        ), m AS (
            SELECT s.host, k.rule,
                   -- more labels is more specific; an exact-host rule beats a domain rule of equal length
                   k.labels * 2 + CASE WHEN k.exact THEN 1 ELSE 0 END AS rank,
                   k.exact
            FROM s JOIN _url_site_keys k ON k.key = s.suffix
            WHERE NOT k.exact OR k.labels = s.n_labels
        )
        SELECT host, arg_max(rule, rank) AS rule, arg_max(exact, rank) AS exact
        FROM m GROUP BY host
        """
    )
    # Unknown hosts keep their registrable domain as the site (one PSL lookup per distinct host).
    unknown = [
        r[0]
        for r in con.execute(
            "SELECT host FROM _url_distinct_hosts WHERE host NOT IN (SELECT host FROM _url_hosts)"
        ).fetchall()
    ]
    import pyarrow as pa

    psl = _psl()
    unknown_hosts = pa.array(unknown, pa.string())
    # One PSL lookup per distinct unknown host, not per record.
    unknown_sites = pa.array([psl.privatesuffix(normalise_host(h)) for h in unknown], pa.string())
    # Every outcome is a small integer label (site rule × host/domain, server rule, registrable
    # domain) so the per-record table holds integers; names are joined after aggregation.
    n_sites, n_servers = len(rules.sites), len(rules.servers)
    con.register("_url_unknown_hosts", pa.table({"host": unknown_hosts, "site": unknown_sites}))
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {into}_labels AS
        SELECT rule * 2 + e AS label, site, app, category,
               CASE WHEN e = 1 THEN 'host' ELSE 'domain' END AS matched_by
        FROM _url_site_fields, (VALUES (0), (1)) v(e)
        UNION ALL
        SELECT {2 * n_sites} + server_rule, site, app, category, 'server' FROM _url_server_fields
        UNION ALL
        SELECT {2 * n_sites + n_servers} + CAST(row_number() OVER () AS INTEGER) - 1, site, NULL, NULL, 'registrable'
        FROM (SELECT DISTINCT site FROM _url_unknown_hosts WHERE site IS NOT NULL)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _url_host_lookup AS
        SELECT host, rule, rule * 2 + exact::INT AS label FROM _url_hosts
        UNION ALL
        SELECT u.host, NULL, l.label FROM _url_unknown_hosts u
        JOIN {into}_labels l ON l.site = u.site AND l.matched_by = 'registrable'
        """
    )
    # 2. Distinct (address, port) pairs → most specific server block (address parsed once per pair).
    prefixes = sorted({r.prefix for r in rules.servers})
    per_prefix = (
        " UNION ALL ".join(
            f"""SELECT a.server_ip, a.server_port, v.server_rule,
                   v.prefix * 2 + CASE WHEN v.port IS NULL THEN 0 ELSE 1 END AS rank
            FROM a JOIN _url_servers v
              ON v.prefix = {p} AND (a.ip >> {32 - p}) = (v.network >> {32 - p})
             AND (v.port IS NULL OR v.port = a.server_port)"""
            for p in prefixes
        )
        or "SELECT NULL::VARCHAR, NULL::INTEGER, NULL::INTEGER, 0 LIMIT 0"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _url_server_lookup AS
        WITH d AS (
            SELECT DISTINCT server_ip, server_port FROM {src}
        ), a AS (
            SELECT server_ip, server_port,
                   (CAST(split_part(server_ip, '.', 1) AS BIGINT) << 24)
                 + (CAST(split_part(server_ip, '.', 2) AS BIGINT) << 16)
                 + (CAST(split_part(server_ip, '.', 3) AS BIGINT) << 8)
                 +  CAST(split_part(server_ip, '.', 4) AS BIGINT) AS ip
            FROM d
        ), m AS ({per_prefix}), best AS (
            SELECT server_ip, server_port, arg_max(server_rule, rank) AS server_rule
            FROM m GROUP BY server_ip, server_port
        )
        SELECT server_ip, server_port, {2 * n_sites} + server_rule AS label FROM best
        """
    )
    # 3. Every record: two hash joins on small lookups; content ids with constant patterns.
    ctype, cid = _content_sql(rules, "h.rule", "x.uri_path")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {into}_ids AS
        SELECT x.record_id, x.msisdn, x.start_time,
               CASE WHEN h.rule IS NOT NULL THEN h.label ELSE coalesce(sv.label, h.label) END AS label,
               {ctype} AS content_type,
               {cid} AS content_id,
               x.bytes_up + x.bytes_down AS bytes,
               x.duration_s
        FROM {src} x
        LEFT JOIN _url_host_lookup h ON h.host = x.host
        LEFT JOIN _url_server_lookup sv ON sv.server_ip = x.server_ip AND sv.server_port = x.server_port
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE VIEW {into} AS
        SELECT i.record_id, i.msisdn, i.start_time, l.site, l.app, l.category, i.content_type, i.content_id,
               coalesce(l.matched_by, 'none') AS matched_by, i.bytes, i.duration_s
        FROM {into}_ids i LEFT JOIN {into}_labels l USING (label)
        """
    )
    n = con.execute(f"SELECT count(*) FROM {into}_ids").fetchall()
    for t in (
        "_url_site_keys",
        "_url_site_fields",
        "_url_servers",
        "_url_server_fields",
        "_url_unknown_hosts",
    ):
        con.unregister(t)
    return int(n[0][0])


def usage_sql(translated: str = "xdr_translated") -> str:
    """Per-subscriber usage by site, app, category and content: long form, one row per pair.

    Reads ``<translated>_ids`` and ``<translated>_labels`` (written by :func:`translate`); groups
    the integer labels per subscriber and day first, so names are joined to a few rows, not to
    every record. Columns: msisdn, level (site/app/category/song/artist/book/game/video/…), key,
    sessions, bytes, seconds, days.
    """
    ids, labels = f"{translated}_ids", f"{translated}_labels"
    per_level = " UNION ALL ".join(
        f"""SELECT msisdn, '{col}' AS level, {col} AS key, sum(n) AS sessions, sum(b) AS bytes,
                   sum(s) AS seconds, count(DISTINCT day) AS days
            FROM j WHERE {col} IS NOT NULL GROUP BY msisdn, {col}"""
        for col in ("site", "app", "category")
    )
    return f"""
        WITH d AS (
            SELECT msisdn, label, CAST(start_time AS DATE) AS day, count(*) AS n, sum(bytes) AS b,
                   sum(duration_s) AS s
            FROM {ids} WHERE label IS NOT NULL GROUP BY ALL
        ), j AS (SELECT d.*, l.site, l.app, l.category FROM d JOIN {labels} l USING (label))
        {per_level}
        UNION ALL
        SELECT msisdn, content_type, content_id, count(*), sum(bytes), sum(duration_s),
               count(DISTINCT CAST(start_time AS DATE))
        FROM {ids} WHERE content_id IS NOT NULL AND content_id <> ''
        GROUP BY msisdn, content_type, content_id
    """


# Interest categories that become tags (兴趣偏好): a subscriber is interested when the category has
# at least this many sessions on at least this many distinct days of the period.
INTEREST_CATEGORIES: Sequence[str] = (
    "video", "music", "novel", "game", "news", "maps", "payment", "shopping", "social", "stock", "car",
    "education", "live", "travel", "food",
)  # fmt: skip


def interests_sql(
    usage: str = "internet_usage", *, min_sessions: int = 5, min_days: int = 3, version: str = ""
) -> str:
    """One row per subscriber: top category/app/site by volume, favourite content, interest flags.

    ``usage`` is a relation with the columns of ``usage_sql``.
    """
    flags = ",\n".join(
        f"bool_or(level = 'category' AND key = '{c}' AND sessions >= {min_sessions} AND days >= {min_days})"
        f" AS interest_{c}"
        for c in INTEREST_CATEGORIES
    )
    tops = ",\n".join(
        f"arg_max(key, sessions * 1e12 + bytes) FILTER (WHERE level = '{lv}') AS top_{lv}"
        for lv in ("category", "app", "site", "song", "artist", "book", "game")
    )
    return f"""
        SELECT msisdn,
               {tops},
               count(*) FILTER (WHERE level = 'app') AS apps_used,
               {flags},
               {_sql_str(version)} AS rules_version
        FROM {usage} GROUP BY msisdn
    """
