"""SMS over SMPP 3.4: an ESME client and the SMS channel that drains the contact ledger through it.

The client binds as a transceiver, submits with at most ``window`` unacknowledged ``submit_sm``
and at most ``rate`` per second (a token bucket, the SMSC's contracted rate), backs off and
resends when the SMSC answers ``ESME_RTHROTTLED`` (the message was not taken), answers
``enquire_link`` and ``deliver_sm``, turns delivery receipts into contact statuses, and
reconnects when the connection drops. A message that was written to a connection that then
died without an answer is never resent: its outcome is unknown, and a duplicate marketing SMS
is worse than a missing one.

The codec is ours (a few PDUs, plain ``struct``) so that the test against smpp34's server — an
implementation written by others — checks real interoperability, not one library against itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tagcloud.campaigns.policy import ContactLedger, ContactStatus, SmscRecord

BIND_TRANSCEIVER = 0x00000009
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
ENQUIRE_LINK = 0x00000015
GENERIC_NACK = 0x80000000
RESP = 0x80000000

ESME_ROK = 0x00
ESME_RTHROTTLED = 0x58
ESME_RMSGQFUL = 0x14
RETRYABLE = frozenset({ESME_RTHROTTLED, ESME_RMSGQFUL})  # the SMSC did not take the message

TLV_MESSAGE_PAYLOAD = 0x0424
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
MESSAGE_STATES = {2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 8: "REJECTD"}


class SmppError(RuntimeError):
    """The SMSC refused a bind, or the connection could not be (re)established."""


def _cstr(s: str) -> bytes:
    return s.encode("ascii") + b"\0"


def _read_cstr(b: bytes, i: int) -> tuple[str, int]:
    j = b.index(b"\0", i)
    return b[i:j].decode("latin-1"), j + 1


def encode_pdu(command_id: int, seq: int, body: bytes = b"", status: int = 0) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


def encode_text(text: str) -> tuple[int, bytes]:
    """(data_coding, bytes): GSM-safe ASCII as default alphabet, anything else (Chinese) as UCS-2."""
    if text.isascii():
        return 0x00, text.encode("ascii")
    return 0x08, text.encode("utf-16-be")


def submit_sm_body(source: str, dest: str, text: str, receipt: bool = True) -> bytes:
    coding, payload = encode_text(text)
    head = (
        _cstr("")  # service_type
        + bytes([5, 0])  # source TON alphanumeric/short code, NPI unknown
        + _cstr(source)
        + bytes([1, 1])  # destination TON international, NPI E.164
        + _cstr(dest)
        + bytes([0, 0, 0])  # esm_class, protocol_id, priority_flag
        + _cstr("")  # schedule_delivery_time: now
        + _cstr("")  # validity_period: SMSC default
        + bytes([1 if receipt else 0, 0, coding, 0])
    )
    if len(payload) <= 140:
        return head + bytes([len(payload)]) + payload
    # long text: message_payload TLV instead of short_message
    return head + bytes([0]) + struct.pack(">HH", TLV_MESSAGE_PAYLOAD, len(payload)) + payload


@dataclass(frozen=True)
class Receipt:
    message_id: str
    stat: str  # DELIVRD, UNDELIV, EXPIRED, …
    destination: str | None = None  # the subscriber (the receipt's source address)

    @property
    def contact_status(self) -> ContactStatus:
        return ContactStatus.DELIVERED if self.stat == "DELIVRD" else ContactStatus.FAILED


_RECEIPT = re.compile(r"id:(\S+).*?stat:(\w+)", re.S)


def parse_deliver_sm(body: bytes) -> Receipt | None:
    """A delivery receipt from a deliver_sm body (text form or TLVs), or None for a mobile-originated SMS."""
    i = 0
    _, i = _read_cstr(body, i)  # service_type
    i += 2
    subscriber, i = _read_cstr(body, i)  # source: the subscriber the message went to
    i += 2
    _, i = _read_cstr(body, i)  # destination
    esm_class = body[i]
    i += 3
    _, i = _read_cstr(body, i)
    _, i = _read_cstr(body, i)
    i += 4
    sm_len = body[i]
    sm = body[i + 1 : i + 1 + sm_len]
    i += 1 + sm_len
    tlvs: dict[int, bytes] = {}
    while i + 4 <= len(body):
        tag, ln = struct.unpack(">HH", body[i : i + 4])
        tlvs[tag] = body[i + 4 : i + 4 + ln]
        i += 4 + ln
    if not esm_class & 0x04:
        return None
    if TLV_RECEIPTED_MESSAGE_ID in tlvs and TLV_MESSAGE_STATE in tlvs:
        mid = tlvs[TLV_RECEIPTED_MESSAGE_ID].rstrip(b"\0").decode("latin-1")
        return Receipt(mid, MESSAGE_STATES.get(tlvs[TLV_MESSAGE_STATE][0], "UNKNOWN"), subscriber or None)
    m = _RECEIPT.search(sm.decode("latin-1"))
    return Receipt(m.group(1), m.group(2), subscriber or None) if m else None


def journal_records(path: Path) -> list[SmscRecord]:
    """The SMSC's record of accepted messages, one JSON object a line (``to``, ``message_id``,
    optional ``from`` and ``at``): the LocalSmsc journal, or an SMSC's CDR export in that form."""
    out: list[SmscRecord] = []
    if not path.exists():
        return out
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                j = json.loads(line)
                out.append(SmscRecord(str(j["to"]), str(j["message_id"]), j.get("from"), j.get("at")))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path} line {n}: not an SMSC record ({e})") from e
    return out


@dataclass
class SubmitResult:
    ref: int  # the caller's reference (a contact id)
    status: ContactStatus  # SUBMITTED, FAILED or UNKNOWN
    message_id: str | None = None
    error: int | None = None


@dataclass
class SmppClient:
    """One transceiver bind to an SMSC. Not shared between threads except its own reader."""

    host: str
    port: int
    system_id: str = "tagcloud"
    password: str = "secret"
    source_addr: str = "10658000"  # the operator's marketing short code
    window: int = 10
    rate: float = 100.0
    max_reconnects: int = 5
    on_receipt: Callable[[Receipt], None] | None = None
    reconnects: int = 0
    throttled: int = 0
    _sock: socket.socket | None = None
    _seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cv: threading.Condition = field(default_factory=threading.Condition)
    _inflight: dict[int, int] = field(default_factory=dict)  # seq → ref
    _answers: dict[int, tuple[int, str | None]] = field(default_factory=dict)  # seq → (status, id)
    _alive: bool = False
    _reader: threading.Thread | None = None
    _tokens: float = 0.0
    _last: float = 0.0

    # ---- connection -------------------------------------------------------------------------
    def connect(self) -> None:
        """Open TCP and bind as a transceiver; raise ``SmppError`` when the SMSC says no."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=10)
        except OSError as e:
            raise SmppError(f"cannot reach the SMSC at {self.host}:{self.port}: {e}") from e
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = _cstr(self.system_id) + _cstr(self.password) + _cstr("") + bytes([0x34, 0, 0]) + _cstr("")
        seq = self._next_seq()
        sock.sendall(encode_pdu(BIND_TRANSCEIVER, seq, body))
        cid, status, _, _ = self._read_pdu(sock)
        if cid != BIND_TRANSCEIVER | RESP or status != ESME_ROK:
            sock.close()
            raise SmppError(
                f"SMSC {self.host}:{self.port} refused bind of {self.system_id!r}: status 0x{status:02x}"
            )
        sock.settimeout(None)
        self._sock = sock
        self._alive = True
        self._tokens, self._last = 1.0, time.monotonic()
        self._reader = threading.Thread(target=self._read_loop, args=(sock,), name="smpp-reader", daemon=True)
        self._reader.start()

    def close(self) -> None:
        """Unbind politely and close."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        try:
            if self._alive:
                sock.sendall(encode_pdu(UNBIND, self._next_seq()))
                time.sleep(0.05)
        except OSError:
            pass
        self._alive = False
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def __enter__(self) -> SmppClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_seq(self) -> int:
        with self._lock:
            self._seq = self._seq % 0x7FFFFFFF + 1
            return self._seq

    @staticmethod
    def _read_exact(sock: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("SMSC closed the connection")
            buf += chunk
        return buf

    def _read_pdu(self, sock: socket.socket) -> tuple[int, int, int, bytes]:
        length, cid, status, seq = struct.unpack(">IIII", self._read_exact(sock, 16))
        return cid, status, seq, self._read_exact(sock, length - 16) if length > 16 else b""

    def _send(self, pdu: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise ConnectionError("not bound")
        with self._lock:
            sock.sendall(pdu)

    def _read_loop(self, sock: socket.socket) -> None:
        try:
            while True:
                cid, status, seq, body = self._read_pdu(sock)
                if cid == SUBMIT_SM | RESP or cid == GENERIC_NACK:
                    mid = _read_cstr(body, 0)[0] if body and status == ESME_ROK else None
                    with self._cv:
                        if seq in self._inflight:
                            self._answers[seq] = (status, mid)
                            self._cv.notify_all()
                elif cid == DELIVER_SM:
                    self._send(encode_pdu(DELIVER_SM | RESP, seq, b"\0"))
                    r = parse_deliver_sm(body)
                    if r is not None and self.on_receipt is not None:
                        self.on_receipt(r)
                elif cid == ENQUIRE_LINK:
                    self._send(encode_pdu(ENQUIRE_LINK | RESP, seq))
                elif cid == UNBIND:
                    self._send(encode_pdu(UNBIND | RESP, seq))
                    break
                elif cid == UNBIND | RESP:
                    break
                elif not cid & RESP:
                    self._send(encode_pdu(GENERIC_NACK, seq, status=0x03))  # invalid command id
        except (OSError, ConnectionError, struct.error):
            pass
        finally:
            with self._cv:
                self._alive = False
                self._cv.notify_all()
            with contextlib.suppress(OSError):  # the SMSC waits for the close after an unbind
                sock.shutdown(socket.SHUT_RDWR)

    # ---- sending ----------------------------------------------------------------------------
    def _throttle(self) -> None:
        while True:
            now = time.monotonic()
            self._tokens = min(max(1.0, self.rate / 10), self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            time.sleep((1.0 - self._tokens) / self.rate)

    def _reconnect(self) -> None:
        for attempt in range(self.max_reconnects):
            self.close()
            time.sleep(min(0.2 * 2**attempt, 5.0))
            try:
                self.connect()
                self.reconnects += 1
                return
            except SmppError:
                continue
        raise SmppError(f"SMSC {self.host}:{self.port} unreachable after {self.max_reconnects} reconnects")

    def submit_many(self, messages: Sequence[tuple[int, str, str]]) -> list[SubmitResult]:
        """Submit (ref, destination, text) messages; return one result per message, in order.

        Within the window and rate; a throttled message is resent after a back-off; a message
        whose connection died unanswered is UNKNOWN and not resent.
        """
        results: dict[int, SubmitResult] = {}
        by_ref = {m[0]: m for m in messages}
        queue = list(messages)[::-1]  # pop from the end keeps the caller's order
        backoff = 0.0
        while queue or self._inflight:
            if not self._alive:
                with self._cv:
                    for ref in self._inflight.values():
                        results[ref] = SubmitResult(ref, ContactStatus.UNKNOWN, error=-1)
                    self._inflight.clear()
                    self._answers.clear()
                self._reconnect()
            while queue and len(self._inflight) < self.window and self._alive:
                ref, dest, text = queue.pop()
                self._throttle()
                seq = self._next_seq()
                with self._cv:
                    self._inflight[seq] = ref
                try:
                    self._send(encode_pdu(SUBMIT_SM, seq, submit_sm_body(self.source_addr, dest, text)))
                except (OSError, ConnectionError):
                    with self._cv:  # nothing was written for this one: safe to send again
                        self._inflight.pop(seq, None)
                        self._alive = False
                    queue.append((ref, dest, text))
                    break
            with self._cv:
                if self._inflight and not self._answers and self._alive:
                    self._cv.wait(timeout=5.0)
                answered = list(self._answers.items())
                self._answers.clear()
            retry_now = False
            for seq, (status, mid) in answered:
                ref = self._inflight.pop(seq)
                if status == ESME_ROK:
                    results[ref] = SubmitResult(ref, ContactStatus.SUBMITTED, mid)
                elif status in RETRYABLE:
                    self.throttled += 1
                    queue.append(by_ref[ref])
                    retry_now = True
                else:
                    results[ref] = SubmitResult(ref, ContactStatus.FAILED, error=status)
            if retry_now:
                backoff = min(max(backoff * 2, 0.01), 1.0)
                time.sleep(backoff)
            elif answered:
                backoff = 0.0
        return [results[m[0]] for m in messages]


@dataclass
class SmsRun:
    submitted: int = 0
    failed: int = 0
    unknown: int = 0
    recovered_unknown: int = 0
    settled_unknown: int = 0  # UNKNOWN contacts the SMSC's records or a late receipt showed it took
    resent_unknown: int = 0  # UNKNOWN contacts the SMSC's records showed it never took: sent now
    receipts: int = 0
    throttled: int = 0
    reconnects: int = 0


def submit_claimed(
    ledger: ContactLedger, client: SmppClient, messages: Sequence[tuple[int, str, str]], run: SmsRun
) -> list[SubmitResult]:
    """Submit claimed (SUBMITTING) contacts as (contact_id, msisdn, text); their statuses go to the
    ledger and the counts to ``run``. Used by campaign waves and by the real-time event worker."""
    results = client.submit_many(messages)
    ledger.set_status(
        [(r.ref, r.status.value, r.message_id) for r in results],
        dt.datetime.now(),
        only_from=[ContactStatus.SUBMITTING],
    )
    for r in results:
        if r.status == ContactStatus.SUBMITTED:
            run.submitted += 1
        elif r.status == ContactStatus.FAILED:
            run.failed += 1
        else:
            run.unknown += 1
    return results


def send_wave(
    ledger: ContactLedger,
    client: SmppClient,
    campaign_id: str,
    wave: int,
    render: Callable[[str, str | None, str | None], str],
    now: dt.datetime | None = None,
    batch: int | None = None,
    wait_receipts: float = 2.0,
    on_batch: Callable[[int], None] | None = None,
    smsc_records: Callable[[], Iterable[SmscRecord]] | None = None,
) -> SmsRun:
    """Send every due SMS contact of one campaign wave; statuses and receipts go to the ledger.

    ``render(msisdn, offer_id, sub_campaign)`` gives the message text. Safe to run again after a
    crash: contacts left mid-send are marked UNKNOWN first and never resent; late receipts for them
    settle them as sent, and ``ContactLedger.resolve_unknown`` with the SMSC's records settles the
    rest (those it never took are sent by the next pass). Contacts are claimed
    ``batch`` at a time (default: the client's window), which bounds how many can end UNKNOWN.
    ``smsc_records`` (the SMSC's journal or CDR export, read at the start) settles them at once.
    """
    now = now or dt.datetime.now()
    run = SmsRun()
    run.recovered_unknown = ledger.recover(campaign_id, wave, "sms", now)
    if smsc_records is not None:  # what the SMSC took is settled, what it never took is sent below
        settled = ledger.resolve_unknown(smsc_records(), now, sources=[client.source_addr])
        run.settled_unknown, run.resent_unknown = settled.sent, settled.resend
    # contacts a dead sender left UNKNOWN: a receipt that reaches this bind for a message id the
    # ledger does not hold may be one of theirs (an SMSC routes receipts to any bind of the account)
    open_unknown = ledger.db.q(
        "SELECT count(*) FROM contacts WHERE campaign_id=? AND wave=? AND channel='sms' AND status='unknown'",
        (campaign_id, wave),
    )[0][0]
    receipts: list[Receipt] = []
    strangers: list[SmscRecord] = []
    rlock = threading.Lock()

    def keep(r: Receipt) -> None:
        with rlock:
            receipts.append(r)

    def flush() -> None:
        with rlock:
            got = receipts[:]
            receipts.clear()
        if got:
            ledger.set_status_by_external(
                [(r.message_id, r.contact_status.value) for r in got], dt.datetime.now()
            )
            run.receipts += len(got)
            if open_unknown:
                strangers.extend(SmscRecord(r.destination, r.message_id) for r in got if r.destination)

    client.on_receipt = keep
    while True:
        rows = ledger.claim_due(campaign_id, wave, "sms", now, batch or client.window)
        if not rows:
            break
        submit_claimed(ledger, client, [(cid, m, render(m, offer, sub)) for cid, m, offer, sub in rows], run)
        flush()
        if on_batch is not None:
            on_batch(len(rows))
    deadline = time.monotonic() + wait_receipts
    while time.monotonic() < deadline and run.receipts < run.submitted:
        time.sleep(0.05)
        flush()
    flush()
    if strangers:
        run.settled_unknown += ledger.resolve_unknown(strangers, now, complete=False).sent
    run.throttled, run.reconnects = client.throttled, client.reconnects
    return run
