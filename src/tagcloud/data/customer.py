"""One customer's recent behaviour (客户近期行为), keyed by number, straight from the warehouse.

Customer 360 shows tags from the wide table; this adds what the customer actually did in the last
``days`` days: calls (count, minutes, on-net share, the operators of the top contacts), SMS, data
volume by day, top apps and sites (the URL translation's ``models/detail/internet_usage``), roaming
days by destination, products currently held (from every order ever made) and recent service
contacts (客服接触).

Only the day partitions inside the window are read (file lists, not the whole table's glob) and
every scan filters on the number, so the cost is the window's files, not the warehouse's.

>>> s = recent_behaviour("var/demo/warehouse", "13612346297")
>>> s.calls["minutes"], s.top_apps[:3]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagcloud.data.warehouse import Warehouse

if TYPE_CHECKING:
    import duckdb

# Tables whose day partitions define "today" for the window (the newest day any of them holds).
_EVENT_TABLES = ("voice_cdr", "sms", "data_xdr", "roaming", "service_contacts")
TOP_CONTACTS = 5
TOP_APPS = 8
RECENT_CONTACTS = 10


@dataclass
class CustomerBehaviour:
    """What one subscriber did from ``since`` to ``until`` (both inclusive, the warehouse's days).

    Peer numbers in ``calls["top_contacts"]`` are masked unless asked for unmasked."""

    msisdn: str
    since: dt.date | None
    until: dt.date | None
    calls: dict[str, Any] = field(default_factory=dict)
    sms: dict[str, Any] = field(default_factory=dict)
    data_by_day: list[dict[str, Any]] = field(default_factory=list)  # day, mb, sessions
    top_apps: list[dict[str, Any]] = field(default_factory=list)  # level, key, mb, sessions, days
    roaming: list[dict[str, Any]] = field(default_factory=list)  # destination, days
    products: list[dict[str, Any]] = field(default_factory=list)  # product_id, name, name_en, kind, since
    service_contacts: list[dict[str, Any]] = field(default_factory=list)  # time, channel, reason, minutes
    missing: list[str] = field(default_factory=list)  # tables or outputs absent from the warehouse

    @property
    def data_mb(self) -> float:
        return float(sum(d["mb"] for d in self.data_by_day))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _window_files(wh: Warehouse, table: str, since: dt.date, until: dt.date) -> list[Path]:
    """Parquet files of ``table``'s day partitions inside [since, until] (partition pruning by name)."""
    files: list[Path] = []
    for p in wh.periods(table):
        if since.isoformat() <= p <= until.isoformat():
            files.extend(sorted(wh.partition_dir(table, p).glob("*.parquet")))
    return files


def _scan(files: list[Path]) -> str:
    return "read_parquet([" + ", ".join(_sql_str(str(f.resolve())) for f in files) + "])"


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def latest_day(wh: Warehouse) -> dt.date | None:
    """The newest day partition of any event table: the end of "recent" for this warehouse."""
    days = [p for t in _EVENT_TABLES for p in wh.periods(t)]
    return dt.date.fromisoformat(max(days)) if days else None


def recent_behaviour(
    warehouse: Warehouse | Path | str,
    msisdn: str,
    days: int = 30,
    until: dt.date | None = None,
    unmask_peers: bool = False,
) -> CustomerBehaviour:
    """Number (11 digits) → :class:`CustomerBehaviour` over the ``days`` days ending ``until``
    (default: the warehouse's newest day). Absent tables are listed in ``missing``, not errors."""
    import duckdb

    from tagcloud.audience.dictionary import parse_number

    number = str(int(parse_number(msisdn)))  # ValueError names a malformed number
    if days < 1:
        raise ValueError(f"days: must be at least 1, got {days}")
    wh = warehouse if isinstance(warehouse, Warehouse) else Warehouse(Path(warehouse))
    end = until or latest_day(wh)
    out = CustomerBehaviour(number, None, None)
    if end is None:
        out.missing = list(_EVENT_TABLES)
        return out
    start = end - dt.timedelta(days=days - 1)
    out.since, out.until = start, end
    con = duckdb.connect()
    try:
        files = {t: _window_files(wh, t, start, end) for t in _EVENT_TABLES}
        out.missing = [t for t, f in files.items() if not f]
        if files["voice_cdr"]:
            out.calls = _calls(con, _scan(files["voice_cdr"]), number, unmask_peers)
        if files["sms"]:
            out.sms = _sms(con, _scan(files["sms"]), number)
        if files["data_xdr"]:
            out.data_by_day = _rows(
                con,
                f"SELECT CAST(start_time AS DATE) AS day, "
                f"round(sum(coalesce(bytes_up, 0) + coalesce(bytes_down, 0)) / 1048576.0, 1) AS mb, "
                f"count(*) AS sessions FROM {_scan(files['data_xdr'])} WHERE msisdn = ? GROUP BY 1 ORDER BY 1",
                [number],
            )
        if files["roaming"]:
            out.roaming = _rows(
                con,
                # Domestic roaming carries the country 'CN': the province and city say where.
                "SELECT CASE WHEN coalesce(visited_country, '') IN ('', 'CN') "
                "THEN concat_ws(' ', visited_province, visited_city) ELSE visited_country END AS destination, count(DISTINCT record_date) AS days, max(record_date) AS last_day "
                f"FROM {_scan(files['roaming'])} WHERE msisdn = ? AND direction = 'out' "
                "GROUP BY 1 ORDER BY days DESC, destination",
                [number],
            )
        if files["service_contacts"]:
            out.service_contacts = _rows(
                con,
                "SELECT contact_time AS time, channel, reason, round(duration_s / 60.0, 1) AS minutes "
                f"FROM {_scan(files['service_contacts'])} WHERE msisdn = ? "
                f"ORDER BY contact_time DESC LIMIT {RECENT_CONTACTS}",
                [number],
            )
        out.top_apps = _top_apps(con, wh, number, out.missing)
        out.products = _products(con, wh, number, end, out.missing)
    finally:
        con.close()
    return out


def _calls(con: duckdb.DuckDBPyConnection, scan: str, number: str, unmask: bool) -> dict[str, Any]:
    """Calls: count, minutes, on-net share of minutes, minutes by peer operator, top contacts."""
    # Peers are masked in SQL so that whole peer numbers never reach Python unless allowed.
    peer = (
        "peer_number"
        if unmask
        else "CASE WHEN length(peer_number) >= 8 THEN left(peer_number, 3) || '****' || right(peer_number, 4) "
        "ELSE '****' END"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE my_calls AS SELECT peer_number, peer_operator, direction, "
        f"coalesce(duration_s, 0) AS s FROM {scan} WHERE msisdn = ?",
        [number],
    )
    total = con.execute(
        "SELECT count(*), coalesce(sum(s), 0) / 60.0, count(*) FILTER (WHERE direction = 'MO'), "
        "coalesce(sum(s) FILTER (WHERE peer_operator = 'CMCC'), 0) / 60.0 FROM my_calls"
    ).fetchone()
    assert total is not None
    n, minutes, originated, onnet = total
    return {
        "count": int(n),
        "minutes": round(float(minutes), 1),
        "originated": int(originated),
        "onnet_share": float(onnet) / float(minutes) if minutes else None,
        "by_operator": _rows(
            con,
            "SELECT peer_operator AS operator, count(*) AS calls, round(sum(s) / 60.0, 1) AS minutes "
            "FROM my_calls GROUP BY 1 ORDER BY minutes DESC",
            [],
        ),
        "top_contacts": _rows(
            con,
            f"SELECT {peer} AS peer, any_value(peer_operator) AS operator, count(*) AS calls, "
            f"round(sum(s) / 60.0, 1) AS minutes FROM my_calls GROUP BY peer_number "
            f"ORDER BY calls DESC, minutes DESC, peer_number LIMIT {TOP_CONTACTS}",
            [],
        ),
    }


def _sms(con: duckdb.DuckDBPyConnection, scan: str, number: str) -> dict[str, Any]:
    row = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE direction = 'MO'), count(*) FILTER (WHERE peer_operator = 'CMCC') "
        f"FROM {scan} WHERE msisdn = ?",
        [number],
    ).fetchone()
    assert row is not None
    n, sent, onnet = (int(x) for x in row)
    return {"count": n, "sent": sent, "received": n - sent, "onnet_share": onnet / n if n else None}


def _top_apps(
    con: duckdb.DuckDBPyConnection, wh: Warehouse, number: str, missing: list[str]
) -> list[dict[str, Any]]:
    """Top apps and sites by volume from the URL translation (its own window: the models' run)."""
    path = wh.root / "models" / "detail" / "internet_usage.parquet"
    if not path.exists():
        missing.append("models/detail/internet_usage")
        return []
    # Apps when the rules name one for the traffic, else sites: a site and its app are the same bytes.
    return _rows(
        con,
        "SELECT level, key, round(CAST(bytes AS DOUBLE) / 1048576.0, 1) AS mb, sessions, days "
        f"FROM read_parquet({_sql_str(str(path.resolve()))}) WHERE msisdn = ? AND level IN ('app', 'site') "
        "QUALIFY level = min(level) OVER () "  # 'app' < 'site'
        f"ORDER BY bytes DESC, key LIMIT {TOP_APPS}",
        [number],
    )


def _products(
    con: duckdb.DuckDBPyConnection, wh: Warehouse, number: str, until: dt.date, missing: list[str]
) -> list[dict[str, Any]]:
    """Products held on ``until``: the last order per product is not an unsubscribe; of main plans,
    only the newest (a plan change replaces the plan)."""
    months = [m for m in wh.periods("orders") if m <= until.strftime("%Y-%m")]
    files = [f for m in months for f in sorted(wh.partition_dir("orders", m).glob("*.parquet"))]
    if not files:
        missing.append("orders")
        return []
    cat = wh.table_files("products")
    join = (
        f"LEFT JOIN read_parquet({_sql_str(str(cat[0].parent.resolve() / '*.parquet'))}) AS p USING (product_id)"
        if cat
        else "LEFT JOIN (SELECT NULL::VARCHAR AS product_id, NULL::VARCHAR AS name, NULL::VARCHAR AS name_en, "
        "NULL::VARCHAR AS kind) AS p USING (product_id)"
    )
    return _rows(
        con,
        f"""
        WITH o AS (
            SELECT product_id, action, order_time FROM {_scan(files)}
            WHERE msisdn = ? AND CAST(order_time AS DATE) <= ?
        ), last AS (
            SELECT product_id, arg_max(action, order_time) AS action, max(order_time) AS at,
                   min(order_time) FILTER (WHERE action IN ('subscribe', 'change')) AS first_at
            FROM o GROUP BY 1
        ), held AS (
            SELECT l.product_id, p.name, p.name_en, p.kind, CAST(l.at AS DATE) AS since,
                   row_number() OVER (PARTITION BY p.kind = 'plan' ORDER BY l.at DESC) AS plan_rank
            FROM last AS l {join}
            WHERE l.action <> 'unsubscribe'
        )
        SELECT product_id, name, name_en, kind, since FROM held
        WHERE kind IS DISTINCT FROM 'plan' OR plan_rank = 1
        ORDER BY kind = 'plan' DESC, since DESC, product_id
        """,
        [number, until],
    )
