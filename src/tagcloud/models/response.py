"""Contact response by channel (接触响应, seed 001): once campaigns have contacted people.

In: the campaign ledger's contacts (msisdn, channel) and responses (msisdn, channel, outcome).
Per subscriber and channel the response rate is smoothed towards the channel's overall rate
(``prior`` pseudo-contacts), so one lucky contact does not make a channel "best":
``rate = (accepted + prior × channel_rate) / (contacts + prior)``.
Out: msisdn, best_response_channel, best_response_rate, response_rate (all channels),
contacts. Subscribers never contacted are not in the output; ``channel_preference`` (service
behaviour) covers them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

DEFAULTS: dict[str, Any] = {
    "prior": 5.0,  # pseudo-contacts at the channel's overall rate
    "positive": ("accepted",),  # outcomes that count as a response
}


def contact_response(con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Smoothed response rate per subscriber and channel from views ``campaign_contacts`` and
    ``campaign_responses``; the best channel per subscriber."""
    p = {**DEFAULTS, **(params or {})}
    prior = float(p["prior"])
    if prior < 0:
        raise ValueError(f"prior must be ≥ 0, got {prior}")
    positive = ", ".join("'" + str(o).replace("'", "''") + "'" for o in p["positive"])
    return con.sql(
        f"""
        WITH c AS (SELECT msisdn, channel, count(*) AS contacts FROM campaign_contacts GROUP BY ALL
        ), r AS (
            SELECT msisdn, channel, count(*) AS accepted FROM campaign_responses
            WHERE outcome IN ({positive}) GROUP BY ALL
        ), j AS (
            SELECT c.msisdn, c.channel, c.contacts, least(coalesce(r.accepted, 0), c.contacts) AS accepted
            FROM c LEFT JOIN r USING (msisdn, channel)
        ), ch AS (SELECT channel, sum(accepted) / sum(contacts) AS rate FROM j GROUP BY channel
        ), s AS (
            SELECT j.*, (j.accepted + {prior} * ch.rate) / (j.contacts + {prior}) AS smoothed
            FROM j JOIN ch USING (channel)
        )
        SELECT msisdn, arg_max(channel, smoothed) AS best_response_channel,
               round(max(smoothed), 4) AS best_response_rate,
               round(sum(accepted) / sum(contacts), 4) AS response_rate, sum(contacts) AS contacts
        FROM s GROUP BY msisdn
        """
    ).to_arrow_table()


def attach_ledger(con: duckdb.DuckDBPyConnection, sqlite_path: str | Path) -> None:
    """Expose a SQLite campaign ledger's contacts and responses as ``campaign_contacts`` /
    ``campaign_responses`` on ``con`` (read with Polars; DuckDB's SQLite extension may be absent
    on an operator's offline machine)."""
    import sqlite3

    import polars as pl

    path = Path(sqlite_path)
    if not path.exists():
        raise FileNotFoundError(f"campaign ledger {path} does not exist")
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = {"contacts", "responses"} - tables
        if missing:
            raise ValueError(f"campaign ledger {path} has no table(s) {sorted(missing)}")
        contacts = pl.read_database("SELECT msisdn, channel FROM contacts", db).to_arrow()
        responses = pl.read_database("SELECT msisdn, channel, outcome FROM responses", db).to_arrow()
    con.register("campaign_contacts", contacts)
    con.register("campaign_responses", responses)
