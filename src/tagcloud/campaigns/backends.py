"""The two databases that hold the contact ledger, as data: SQLite (embedded) and PostgreSQL.

The ledger's SQL is written once with ``?`` placeholders; a backend says how to connect, how to
spell a few types, and how to make a reservation atomic. SQLite serialises writers with
``BEGIN IMMEDIATE`` (one writer at a time, across threads and processes); PostgreSQL takes a
per-subscriber advisory lock for a single reservation and a table lock for a bulk one, so a bulk
list and single reservations never interleave on the same subscriber.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar


class LedgerUrlError(ValueError):
    """A ledger URL that names no known backend or cannot be opened."""


@dataclass
class Backend:
    """A connection to one ledger database plus the facts that differ between engines."""

    name: ClassVar[str]
    placeholder: ClassVar[str]  # how the driver spells a parameter
    id_column: ClassVar[str]  # an auto-increment primary key
    begin_single: ClassVar[tuple[str, ...]]  # statements that open a single-reservation transaction
    begin_bulk: ClassVar[tuple[str, ...]]  # … and a bulk-reservation transaction
    begin_plain: ClassVar[tuple[str, ...]]  # … and any other (workflow) transaction
    subscriber_lock: ClassVar[str | None]  # statement locking one subscriber (None: begin already did)
    temp_table: ClassVar[str]  # CREATE … for a transaction-scoped scratch table
    analyze: ClassVar[str | None]  # gather statistics on a fresh scratch table (the planner needs them)

    url: str
    conn: Any = None

    def sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def q(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; return its rows (empty for statements without a result)."""
        cur = self.conn.execute(self.sql(text), tuple(params))
        return list(cur.fetchall()) if cur.description is not None else []

    def count(self, text: str, params: Sequence[Any] = ()) -> int:
        """Run one INSERT/UPDATE/DELETE; return how many rows it changed (no rows shipped back)."""
        return int(self.conn.execute(self.sql(text), tuple(params)).rowcount)

    def many(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def script(self, statements: Sequence[str]) -> None:
        for s in statements:
            self.conn.execute(s)

    @contextmanager
    def transaction(self, bulk: bool = False, plain: bool = False) -> Iterator[None]:
        """Atomic unit: commit on success, roll back on any error."""
        self.script(self.begin_plain if plain else self.begin_bulk if bulk else self.begin_single)
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def analyze_table(self, table: str) -> None:
        if self.analyze is not None:
            self.conn.execute(self.analyze.format(table))

    def lock_subscriber(self, msisdn: str) -> None:
        if self.subscriber_lock is not None:
            self.q(self.subscriber_lock, (msisdn,))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class SQLiteBackend(Backend):
    name = "sqlite"
    placeholder = "?"
    id_column = "INTEGER PRIMARY KEY AUTOINCREMENT"
    # IMMEDIATE takes the database's write lock before the cap is read: no two reservations interleave.
    begin_single = ("BEGIN IMMEDIATE",)
    begin_bulk = ("BEGIN IMMEDIATE",)
    begin_plain = ("BEGIN IMMEDIATE",)
    subscriber_lock = None
    temp_table = "CREATE TEMP TABLE"
    analyze = None

    def __init__(self, url: str) -> None:
        import sqlite3

        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        if not path:
            raise LedgerUrlError(f"ledger URL {url!r} has no file path (sqlite:///path/to/ledger.db)")
        super().__init__(url)
        try:
            self.conn = sqlite3.connect(path, timeout=120, isolation_level=None, check_same_thread=False)
        except sqlite3.OperationalError as e:
            raise LedgerUrlError(f"cannot open SQLite ledger {path!r}: {e}") from e
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=120000")
        # a million-row list seeks the ledger's indexes at random: the default 2 MB page cache thrashes
        self.conn.execute("PRAGMA cache_size=-262144")
        self.conn.execute("PRAGMA temp_store=MEMORY")

    def many(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(self.sql(text), rows)


class PostgresBackend(Backend):
    name = "postgresql"
    placeholder = "%s"
    id_column = "BIGSERIAL PRIMARY KEY"
    begin_single = ("BEGIN", "LOCK TABLE contacts IN ROW EXCLUSIVE MODE")
    # SHARE ROW EXCLUSIVE conflicts with ROW EXCLUSIVE and with itself: a bulk list runs alone.
    begin_bulk = ("BEGIN", "LOCK TABLE contacts IN SHARE ROW EXCLUSIVE MODE")
    begin_plain = ("BEGIN",)
    subscriber_lock = "SELECT pg_advisory_xact_lock(hashtextextended(?, 7))"
    temp_table = "CREATE TEMP TABLE"
    # without statistics a temp table looks empty and a million-row join becomes a nested loop
    analyze = "ANALYZE {}"

    def __init__(self, url: str, schema: str | None = None) -> None:
        import psycopg

        super().__init__(url)
        m = re.search(r"[?&]schema=([A-Za-z_][A-Za-z0-9_]*)", url)
        schema = schema or (m.group(1) if m else None)
        dsn = re.sub(r"[?&]schema=[^&]*", "", url)
        try:
            self.conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as e:
            raise LedgerUrlError(f"cannot reach the PostgreSQL ledger at {dsn!r}: {e}") from e
        if schema:
            self.conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self.conn.execute(f'SET search_path TO "{schema}"')

    def many(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(self.sql(text), rows)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Bulk load through COPY (far faster than INSERTs for a million-row list)."""
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)


BACKENDS: dict[str, type[Backend]] = {"sqlite": SQLiteBackend, "postgresql": PostgresBackend}


def open_backend(url: str) -> Backend:
    """Open ``sqlite:///path`` or ``postgresql://user@host:port/db[?schema=name]``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "postgres":
        scheme = "postgresql"
    cls = BACKENDS.get(scheme)
    if cls is None:
        raise LedgerUrlError(f"ledger URL {url!r}: unknown backend {scheme!r}; known: {', '.join(BACKENDS)}")
    return cls(url)
