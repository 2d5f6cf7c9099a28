"""Contact memory shared by every touchpoint (接触记忆, seed 001 scenes 1–4): what each subscriber
was offered, considered, accepted or refused, at which channel and when, so the service hall sees
"considered at 10086 yesterday" and the web hall no longer offers what the hall sold.

One small interface (``MemoryStore``: record, recall, forget, close) with two backends chosen by URL:

- ``sqlite:///path.db`` — embedded default, nothing to install; one atomic transaction per record;
- ``redis://host:port/db`` — at scale; one MULTI/EXEC per record (ZADD + trim of a sorted set per
  subscriber, scored by time), so concurrent writers never see a half-written entry.

The memory is the hot-path view; the contact ledger (``campaigns.policy.ContactLedger``) stays the one
contact history and the one cap: ``feedback`` in ``realtime.decide`` writes the ledger first, then the
memory, and ``rebuild`` reloads a memory from the ledger (after a Redis flush, or to a new backend).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tagcloud.campaigns.policy import TOUCHPOINT_CHANNELS, Channel, epoch, from_epoch

if TYPE_CHECKING:
    from tagcloud.campaigns.policy import ContactLedger

KEEP = 200  # entries kept per subscriber: months of touchpoint visits, bounded memory per key


class MemoryOutcome(StrEnum):
    """What happened to one offer at one touchpoint."""

    OFFERED = "offered"  # shown / read out to the subscriber
    CONSIDERING = "considering"  # 考虑办理中: the subscriber will think about it
    ACCEPTED = "accepted"  # 成功: stops the offer in every channel (through the ledger)
    REFUSED = "refused"  # declined


RESPONSES = frozenset({MemoryOutcome.CONSIDERING, MemoryOutcome.ACCEPTED, MemoryOutcome.REFUSED})


class MemoryError_(ValueError):
    """A memory URL or entry that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Recollection:
    """One remembered touch: an offer, the channel, the outcome, when, and which campaign or rule."""

    offer_id: str
    channel: str
    outcome: MemoryOutcome
    at: dt.datetime
    source_id: str | None = None  # the campaign or rule that made the offer

    def __post_init__(self) -> None:
        if not self.offer_id:
            raise MemoryError_("a remembered touch needs an offer id")
        if self.channel not in _CHANNELS:
            raise MemoryError_(f"unknown channel {self.channel!r}; channels: {', '.join(sorted(_CHANNELS))}")
        MemoryOutcome(self.outcome)  # ValueError names the bad outcome

    def as_json(self) -> str:
        return json.dumps(
            [self.offer_id, self.channel, str(self.outcome), epoch(self.at), self.source_id],
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Recollection:
        o, ch, out, at, src = json.loads(text)
        return cls(o, ch, MemoryOutcome(out), from_epoch(at), src)

    def phrase(self, now: dt.datetime, lang: str = "en") -> str:
        """ "considered at 10086 yesterday" / "昨天在10086表示考虑" — what an agent reads."""
        days = (now.date() - self.at.date()).days
        if lang.startswith("zh"):
            when = "今天" if days <= 0 else "昨天" if days == 1 else f"{days}天前"
            verb = {"offered": "推荐过", "considering": "表示考虑", "accepted": "已办理", "refused": "已拒绝"}
            return f"{when}在{_CHANNEL_ZH.get(self.channel, self.channel)}{verb[self.outcome]}"
        when = "today" if days <= 0 else "yesterday" if days == 1 else f"{days} days ago"
        verb_en = {
            "offered": "offered",
            "considering": "considered",
            "accepted": "accepted",
            "refused": "refused",
        }
        return f"{verb_en[self.outcome]} at {_CHANNEL_EN.get(self.channel, self.channel)} {when}"


_CHANNELS = frozenset(c.value for c in Channel)
_CHANNEL_ZH = {
    "10086": "10086",
    "hall": "营业厅",
    "web_hall": "网上营业厅",
    "sms_hall": "短信营业厅",
    "app": "手机客户端",
    "self_terminal": "自助终端",
    "sms": "短信",
    "outbound": "外呼",
}
_CHANNEL_EN = {
    "10086": "10086",
    "hall": "the service hall",
    "web_hall": "the web hall",
    "sms_hall": "the SMS hall",
    "app": "the app",
    "self_terminal": "a self-service terminal",
    "sms": "SMS",
    "outbound": "an outbound call",
}


class MemoryStore(ABC):
    """Where the contact memory lives. Implementations are safe to share between threads."""

    name: ClassVar[str]

    @abstractmethod
    def record(self, msisdn: str, entries: Sequence[Recollection]) -> None:
        """Append entries to the subscriber's memory, all or none (atomic)."""

    @abstractmethod
    def recall(self, msisdn: str, limit: int = 50) -> list[Recollection]:
        """The subscriber's newest ``limit`` entries, newest first, across every channel."""

    @abstractmethod
    def forget(self, msisdn: str) -> None:
        """Drop the subscriber's memory (the ledger keeps the history)."""

    def close(self) -> None:  # noqa: B027 - a backend without resources has nothing to close
        """Release connections."""

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- what every caller wants from a recall -------------------------------------------------
    def latest(self, msisdn: str, limit: int = 50) -> dict[str, Recollection]:
        """Per offer, the latest touch in any channel (the cross-channel state of each offer)."""
        out: dict[str, Recollection] = {}
        for r in self.recall(msisdn, limit):
            out.setdefault(r.offer_id, r)
        return out


class SqliteMemory(MemoryStore):
    """The embedded default: one SQLite file in WAL mode, one transaction per record."""

    name = "sqlite"

    def __init__(self, path: str | Path, keep: int = KEEP) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self._local = threading.local()
        with self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
        c = self._conn()
        c.execute(
            "CREATE TABLE IF NOT EXISTS memory (seq INTEGER PRIMARY KEY AUTOINCREMENT, msisdn TEXT NOT NULL, "
            "at INTEGER NOT NULL, entry TEXT NOT NULL)"
        )
        c.execute("CREATE INDEX IF NOT EXISTS memory_by_subscriber ON memory (msisdn, at, seq)")

    def _conn(self) -> sqlite3.Connection:
        # one connection per thread: SQLite connections are not shared, the file serialises writers
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = c
        return c

    def record(self, msisdn: str, entries: Sequence[Recollection]) -> None:
        if not entries:
            return
        c = self._conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            c.executemany(
                "INSERT INTO memory (msisdn, at, entry) VALUES (?, ?, ?)",
                [(msisdn, epoch(e.at), e.as_json()) for e in entries],
            )
            c.execute(
                "DELETE FROM memory WHERE msisdn = ? AND seq NOT IN "
                "(SELECT seq FROM memory WHERE msisdn = ? ORDER BY at DESC, seq DESC LIMIT ?)",
                (msisdn, msisdn, self.keep),
            )
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def recall(self, msisdn: str, limit: int = 50) -> list[Recollection]:
        rows = (
            self._conn()
            .execute(
                "SELECT entry FROM memory WHERE msisdn = ? ORDER BY at DESC, seq DESC LIMIT ?",
                (msisdn, limit),
            )
            .fetchall()
        )
        return [Recollection.from_json(r[0]) for r in rows]

    def forget(self, msisdn: str) -> None:
        self._conn().execute("DELETE FROM memory WHERE msisdn = ?", (msisdn,))

    def close(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None


class RedisMemory(MemoryStore):
    """Redis at scale: a sorted set per subscriber (``<prefix><msisdn>``, scored by time), trimmed to ``keep``."""

    name = "redis"

    def __init__(self, url: str, prefix: str = "tagcloud:memory:", keep: int = KEEP, timeout_s: float = 1.0):
        import redis

        self.url, self.prefix, self.keep = url, prefix, keep
        # the client pools connections per thread; a short timeout so a dead server fails a decision
        # (which then falls back) rather than hanging it
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)

    def record(self, msisdn: str, entries: Sequence[Recollection]) -> None:
        if not entries:
            return
        key = self.prefix + msisdn
        # score = time, so a back-dated entry (late feedback, a rebuild) sorts where it belongs; the
        # member starts with the insertion time in ns, so touches at the same second keep the order
        # they were recorded in (a sorted set orders ties by member) and two identical ones stay two
        t = time.time_ns()
        members = {f"{t + k:020d}|{e.as_json()}": epoch(e.at) for k, e in enumerate(entries)}
        with self.client.pipeline(transaction=True) as p:
            p.zadd(key, members)
            p.zremrangebyrank(key, 0, -self.keep - 1)
            p.execute()

    def recall(self, msisdn: str, limit: int = 50) -> list[Recollection]:
        raw: list[bytes] = self.client.zrevrange(self.prefix + msisdn, 0, limit - 1)  # type: ignore[assignment]
        return [Recollection.from_json(r.split(b"|", 1)[1]) for r in raw]

    def forget(self, msisdn: str) -> None:
        self.client.delete(self.prefix + msisdn)

    def close(self) -> None:
        self.client.close()


BACKENDS: dict[str, type[MemoryStore]] = {"sqlite": SqliteMemory, "redis": RedisMemory}


def open_memory(url: str, **options: Any) -> MemoryStore:
    """A memory store from its URL: ``sqlite:///path.db`` or ``redis://host:port/db``."""
    if url.startswith("sqlite:///"):
        return SqliteMemory(url.removeprefix("sqlite:///"), **options)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisMemory(url, **options)
    raise MemoryError_(f"contact memory URL {url!r}: use sqlite:///path.db or redis://host:port/db")


def rebuild(memory: MemoryStore, ledger: ContactLedger, msisdns: Sequence[str] | None = None) -> int:
    """Reload the memory from the ledger's responses and touchpoint contacts; return entries written.

    The ledger is the record: a memory that was flushed (or a new backend) is rebuilt from it, so
    the two never disagree for long. Each subscriber's memory is replaced, not appended to.
    """
    sql = (
        "SELECT msisdn, offer_id, channel, outcome, responded_at, campaign_id FROM responses "
        "WHERE offer_id IS NOT NULL"
    )
    shown = (
        "SELECT msisdn, offer_id, channel, 'offered', contact_at, campaign_id FROM contacts "
        "WHERE offer_id IS NOT NULL AND status = 'delivered' AND channel IN ("
        + ",".join(f"'{c.value}'" for c in sorted(TOUCHPOINT_CHANNELS))
        + ")"
    )
    params: tuple[str, ...] = ()
    if msisdns is not None:
        marks = ",".join("?" for _ in msisdns)
        sql += f" AND msisdn IN ({marks})"
        shown += f" AND msisdn IN ({marks})"
        params = tuple(msisdns)
    rows = ledger.db.q(sql, params) + ledger.db.q(shown, params)
    rows.sort(key=lambda r: r[4])
    by: dict[str, list[Recollection]] = {m: [] for m in (msisdns or ())}
    for m, offer, ch, outcome, at, src in rows:
        if ch in _CHANNELS:
            by.setdefault(m, []).append(Recollection(offer, ch, MemoryOutcome(outcome), from_epoch(at), src))
    n = 0
    for m, entries in by.items():
        memory.forget(m)
        memory.record(m, entries)
        n += len(entries)
    return n
