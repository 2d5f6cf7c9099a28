"""Per-subscriber mobile-internet usage and interest tags from the URL/app translation (seed 004 §2).

Two models: ``internet_usage`` (long: msisdn, level, key, sessions, bytes, seconds, days; level is
site / app / category / song / artist / book / game / video / …) and ``internet_interest`` (one row
per subscriber: top category, app, site and content, number of apps, ``interest_<category>``
flags). Parameter ``rules``: a rule-library YAML (default: the bundled one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tagcloud.models.urls import interests_sql, load_rules, translate, usage_sql

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


def usage(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Translate ``data_xdr`` and aggregate per subscriber and site / app / category / content."""
    rules = load_rules((params or {}).get("rules"))
    translate(con, "data_xdr", rules, into="xdr_translated")
    out = con.sql(usage_sql("xdr_translated")).to_arrow_table()
    return out.replace_schema_metadata({"rules_version": rules.version})


def interests(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Interest tags per subscriber; translates first unless ``model_internet_usage`` exists."""
    p = dict(params or {})
    rules = load_rules(p.get("rules"))
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    source = "model_internet_usage"
    if source not in views:
        con.register("_internet_usage", usage(con, p))
        source = "_internet_usage"
    return con.sql(
        interests_sql(source, min_sessions=int(p.get("min_sessions", 5)), min_days=int(p.get("min_days", 3)),
                      version=rules.version)
    ).to_arrow_table()  # fmt: skip
