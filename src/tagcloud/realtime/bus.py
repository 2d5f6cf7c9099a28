"""The event transport: one small interface, an embedded durable log by default, JetStream at scale.

A :class:`Bus` carries wire events (bytes) from publishers to one durable consumer:

* ``publish(payloads)`` — append, durably, before returning;
* ``fetch(max_messages, timeout)`` → :class:`Message` list, in order, not yet acknowledged;
* ``ack(messages)`` — the worker calls it only after the messages' decisions are stored; anything
  fetched and not acknowledged is delivered again after a crash (the worker is idempotent on
  event id, so a redelivery decides nothing twice);
* ``dead_letter(letters)`` / ``dead_letters()`` — the dead-letter stream, with a reason per event,
  idempotent on the source message (a redelivered bad event is not dead-lettered twice);
* ``pending()`` — messages published and not yet acknowledged.

``open_bus("sqlite:///var/events.db")`` gives :class:`SqliteBus` (needs nothing installed; several
processes may share the file), ``open_bus("nats://127.0.0.1:4222")`` gives
``tagcloud.realtime.nats.JetStreamBus``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Message:
    """One delivered message: its position in the stream (stable across redeliveries) and payload."""

    seq: int
    data: bytes
    handle: Any = field(default=None, compare=False, repr=False)  # the transport's own message


@dataclass(frozen=True)
class Letter:
    """A dead letter to publish: the source message (None if it never was one), reason, detail."""

    source_seq: int | None
    payload: bytes
    reason: str
    detail: str
    event_id: str | None = None


class BusError(RuntimeError):
    """The transport cannot be reached or refused an operation; says which and why."""


class Bus(ABC):
    name: ClassVar[str]

    @abstractmethod
    def publish(self, payloads: Sequence[bytes]) -> None: ...

    @abstractmethod
    def fetch(self, max_messages: int = 1000, timeout: float = 0.5) -> list[Message]: ...

    @abstractmethod
    def ack(self, messages: Sequence[Message]) -> None: ...

    @abstractmethod
    def dead_letter(self, letters: Sequence[Letter]) -> None: ...

    @abstractmethod
    def dead_letters(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def pending(self) -> int: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL, at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS consumers (name TEXT PRIMARY KEY, acked_upto INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS acked (name TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (name, seq))",
    "CREATE TABLE IF NOT EXISTS dead (dead_seq INTEGER PRIMARY KEY AUTOINCREMENT, source_seq INTEGER UNIQUE, "
    "event_id TEXT, data BLOB NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, at REAL NOT NULL)",
)


class SqliteBus(Bus):
    """A durable log in one SQLite file (WAL): survives a kill -9 of any process using it.

    The consumer's position is its highest contiguously acknowledged sequence; acknowledgements
    out of order wait in ``acked`` until the gap closes. A fetch continues after the last message
    this object delivered; a new object (a restarted worker) starts again after the acknowledged
    position, so whatever was in flight is delivered again.
    """

    name = "sqlite"

    def __init__(self, url: str, consumer: str = "decider") -> None:
        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        if not path:
            raise BusError(f"bus URL {url!r} has no file path (sqlite:///path/to/events.db)")
        try:
            self.conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        except sqlite3.OperationalError as e:
            raise BusError(f"cannot open the event log {path!r}: {e}") from e
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable against a process crash
        self.conn.execute("PRAGMA busy_timeout=60000")
        for s in _SCHEMA:
            self.conn.execute(s)
        self.consumer = consumer
        self.conn.execute("INSERT INTO consumers VALUES (?, 0) ON CONFLICT DO NOTHING", (consumer,))
        self._cursor = self._acked_upto()
        self._lock = threading.Condition()

    def _acked_upto(self) -> int:
        return int(
            self.conn.execute("SELECT acked_upto FROM consumers WHERE name=?", (self.consumer,)).fetchone()[0]
        )

    def publish(self, payloads: Sequence[bytes]) -> None:
        now = time.time()
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany(
                    "INSERT INTO log (data, at) VALUES (?, ?)", [(bytes(p), now) for p in payloads]
                )
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            self._lock.notify_all()

    def fetch(self, max_messages: int = 1000, timeout: float = 0.5) -> list[Message]:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                rows = self.conn.execute(
                    "SELECT seq, data FROM log WHERE seq > ? ORDER BY seq LIMIT ?",
                    (self._cursor, max_messages),
                ).fetchall()
                if rows:
                    self._cursor = int(rows[-1][0])
                    return [Message(int(s), bytes(d)) for s, d in rows]
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                # another process may publish: poll, and wake at once for a publisher in this one
                self._lock.wait(min(left, 0.005))

    def ack(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.executemany(
                    "INSERT INTO acked VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [(self.consumer, m.seq) for m in messages],
                )
                upto = int(
                    self.conn.execute(
                        "SELECT acked_upto FROM consumers WHERE name=?", (self.consumer,)
                    ).fetchone()[0]
                )
                # advance over the contiguous run of acknowledged sequences
                got = [
                    r[0]
                    for r in self.conn.execute(
                        "SELECT seq FROM acked WHERE name=? AND seq > ? ORDER BY seq", (self.consumer, upto)
                    )
                ]
                for s in got:
                    if s != upto + 1:
                        break
                    upto = s
                self.conn.execute("UPDATE consumers SET acked_upto=? WHERE name=?", (upto, self.consumer))
                self.conn.execute("DELETE FROM acked WHERE name=? AND seq <= ?", (self.consumer, upto))
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def dead_letter(self, letters: Sequence[Letter]) -> None:
        if not letters:
            return
        now = time.time()
        with self._lock:
            self.conn.executemany(
                "INSERT INTO dead (source_seq, event_id, data, reason, detail, at) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                [(x.source_seq, x.event_id, bytes(x.payload), x.reason, x.detail, now) for x in letters],
            )

    def dead_letters(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT source_seq, event_id, data, reason, detail FROM dead ORDER BY dead_seq"
        )
        keys = ("source_seq", "event_id", "payload", "reason", "detail")
        return [dict(zip(keys, (s, e, bytes(d), r, t), strict=True)) for s, e, d, r, t in rows]

    def pending(self) -> int:
        last = self.conn.execute("SELECT COALESCE(max(seq), 0) FROM log").fetchone()[0]
        done = self._acked_upto()
        extra = self.conn.execute("SELECT count(*) FROM acked WHERE name=?", (self.consumer,)).fetchone()[0]
        return int(last) - done - int(extra)

    def close(self) -> None:
        self.conn.close()


def open_bus(url: str, **kw: Any) -> Bus:
    """``sqlite:///path/events.db`` (embedded) or ``nats://host:4222`` (JetStream)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        return SqliteBus(url, **kw)
    if scheme in ("nats", "tls"):
        from tagcloud.realtime.nats import JetStreamBus

        return JetStreamBus(url, **kw)
    raise BusError(f"bus URL {url!r}: unknown transport {scheme!r}; known: sqlite, nats")
