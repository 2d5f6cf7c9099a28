"""Our SMPP 3.4 client against smpp34's server (an implementation we did not write)."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from pathlib import Path

import pytest

from tagcloud.campaigns.channels.smpp import (
    DELIVER_SM,
    SmppClient,
    SmppError,
    parse_deliver_sm,
    submit_sm_body,
)
from tagcloud.campaigns.channels.smsc import LocalSmsc, read_journal
from tagcloud.campaigns.policy import ContactLedger, ContactStatus

NOON = dt.datetime(2026, 11, 10, 12)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smsc(tmp_path: Path):
    with LocalSmsc(port=free_port(), rate=2000, receipt_delay=0.01, journal=tmp_path / "smsc.jsonl") as s:
        yield s


def test_submit_and_receipts(smsc: LocalSmsc) -> None:
    got = []
    lock = threading.Lock()

    def on_receipt(r):
        with lock:
            got.append(r)

    with SmppClient("127.0.0.1", smsc.port, window=5, rate=1000, on_receipt=on_receipt) as c:
        msgs = [
            (i, f"1380000{i:04d}", "您好，5G畅享包本月特惠，回复1办理" if i % 2 else "hello")
            for i in range(1, 41)
        ]
        msgs.append((99, "13800009000", "x" * 200))  # long text: message_payload TLV
        res = c.submit_many(msgs)
        assert [r.ref for r in res] == [m[0] for m in msgs]
        assert all(r.status == ContactStatus.SUBMITTED and r.message_id for r in res)
        assert len({r.message_id for r in res}) == len(msgs)
        for _ in range(100):
            if len(got) == len(msgs):
                break
            threading.Event().wait(0.02)
    assert {r.message_id for r in got} == {r.message_id for r in res}
    # the one number ending in 000 is undeliverable
    assert {r.stat for r in got if r.message_id == res[-1].message_id} == {"UNDELIV"}
    journal = read_journal(smsc.journal)  # type: ignore[arg-type]
    assert len(journal) == len(msgs)
    assert {j["data_coding"] for j in journal} == {0, 8}


def test_throttling_to_the_smsc_rate(tmp_path: Path) -> None:
    # the SMSC takes 200/s; we push at 5,000/s: it throttles, we back off and lose nothing
    with LocalSmsc(port=free_port(), rate=200, journal=tmp_path / "j.jsonl") as s:
        with SmppClient("127.0.0.1", s.port, window=20, rate=5000) as c:
            res = c.submit_many([(i, f"1390000{i:04d}", "hi") for i in range(300)])
        assert all(r.status == ContactStatus.SUBMITTED for r in res)
        assert c.throttled > 0 and s.stats.throttled == c.throttled
        assert len(read_journal(tmp_path / "j.jsonl")) == 300  # each accepted exactly once


def test_reconnect_after_the_smsc_drops_the_bind(smsc: LocalSmsc) -> None:
    with SmppClient("127.0.0.1", smsc.port, window=4, rate=2000) as c:
        first = c.submit_many([(i, f"1370000{i:04d}", "a") for i in range(10)])
        smsc.drop_sessions()
        threading.Event().wait(0.2)
        second = c.submit_many([(i, f"1370000{i:04d}", "b") for i in range(10, 30)])
    assert c.reconnects >= 1
    assert all(r.status == ContactStatus.SUBMITTED for r in first + second)
    assert len(read_journal(smsc.journal)) == 30  # type: ignore[arg-type]


def test_bind_refused_names_the_smsc() -> None:
    with pytest.raises(SmppError, match=r"cannot reach the SMSC at 127\.0\.0\.1"):
        SmppClient("127.0.0.1", free_port()).connect()


def test_receipt_parsing_text_and_non_receipt() -> None:
    body = submit_sm_body("10658000", "13800000001", "id:abc sub:001 dlvrd:001 stat:DELIVRD err:000")
    # same layout as deliver_sm; set esm_class 0x04 (receipt)
    i = body.index(b"13800000001\0") + len("13800000001") + 1
    receipt = body[:i] + b"\x04" + body[i + 1 :]
    r = parse_deliver_sm(receipt)
    assert r is not None and (r.message_id, r.stat) == ("abc", "DELIVRD")
    assert parse_deliver_sm(body) is None  # a mobile-originated SMS is not a receipt
    assert DELIVER_SM == 5


def test_send_wave_updates_contact_statuses(smsc: LocalSmsc, tmp_path: Path) -> None:
    from tagcloud.campaigns.channels.smpp import send_wave
    from tagcloud.campaigns.policy import ContactRequest

    with ContactLedger(f"sqlite:///{tmp_path / 'l.db'}") as led:
        for i in range(25):
            led.reserve(ContactRequest("C1", f"1360000{i:04d}", "sms", NOON, "5G_PACK_30"))
        with SmppClient("127.0.0.1", smsc.port, window=8, rate=2000) as c:
            run = send_wave(led, c, "C1", 0, lambda m, o, s: f"offer {o}", now=NOON, batch=7)
        assert run.submitted == 25 and run.receipts == 25
        st = dict(led.db.q("SELECT status, count(*) FROM contacts GROUP BY status"))
        assert st == {"delivered": 24, "failed": 1}  # 13600000000 ends in 000
        # nothing is sent twice
        with SmppClient("127.0.0.1", smsc.port) as c:
            again = send_wave(led, c, "C1", 0, lambda m, o, s: "x", now=NOON)
        assert again.submitted == 0
    assert len(read_journal(smsc.journal)) == 25  # type: ignore[arg-type]


def test_unknowns_are_settled_from_the_smsc_records_and_only_the_untaken_resent(
    smsc: LocalSmsc, tmp_path: Path
) -> None:
    """A sender died with 6 claimed: the SMSC took 3 (its journal has them, the ledger no id), never
    saw 3. The next pass settles the 3 as submitted and sends the other 3 once: 0 missed, 0 twice."""
    from tagcloud.campaigns.channels.smpp import journal_records, send_wave
    from tagcloud.campaigns.policy import ContactRequest, SmscRecord

    journal = smsc.journal
    assert journal is not None
    with ContactLedger(f"sqlite:///{tmp_path / 'l.db'}") as led:
        for i in range(1, 21):
            led.reserve(ContactRequest("C1", f"1360000{i:04d}", "sms", NOON, "5G_PACK_30"))
        claimed = led.claim_due("C1", 0, "sms", NOON, 6)  # the dead sender's window
        # it had written 3 of them to the SMSC before it died, and read no answer
        with SmppClient("127.0.0.1", smsc.port) as c:
            c.submit_many([(int(cid), m, "offer") for cid, m, _, _ in claimed[:3]])
        # another system's SMS to one of the never-sent numbers, from another short code
        with SmppClient("127.0.0.1", smsc.port, source_addr="10086") as c:
            c.submit_many([(0, claimed[4][1], "bill")])
        before = len(read_journal(journal))
        with SmppClient("127.0.0.1", smsc.port, window=8) as c:
            run = send_wave(
                led,
                c,
                "C1",
                0,
                lambda m, o, s: "offer",
                now=NOON,
                smsc_records=lambda: journal_records(journal),
            )
        assert run.recovered_unknown == 6 and run.settled_unknown == 3 and run.resent_unknown == 3
        assert run.submitted == 20 - 3
        st = dict(led.db.q("SELECT status, count(*) FROM contacts GROUP BY status"))
        assert st.get("unknown", 0) == 0 and sum(st.values()) == 20
        ours = [j["to"] for j in read_journal(journal) if j["from"] == "10658000"]
        assert sorted(ours) == sorted(f"1360000{i:04d}" for i in range(1, 21))  # each once
        assert len(read_journal(journal)) == before + 17
        # the settled ones carry the SMSC's message id, so later receipts reach them
        ids = {j["message_id"] for j in read_journal(journal)}
        settled = led.db.q(
            "SELECT external_id FROM contacts WHERE contact_id IN (?, ?, ?)", [r[0] for r in claimed[:3]]
        )
        assert all(e in ids for (e,) in settled)
        # records that do not pair with the unknown contacts are left unknown, never resent
        led.db.q(
            "UPDATE contacts SET status='unknown', external_id=NULL WHERE contact_id=?", (claimed[0][0],)
        )
        twice = [SmscRecord(claimed[0][1], "x1"), SmscRecord(claimed[0][1], "x2")]
        r = led.resolve_unknown(twice, NOON)
        assert (r.unknown, r.sent, r.resend, r.ambiguous) == (1, 0, 0, 1)
        # records older than the killed run are not its sends: then the SMSC never took it
        r = led.resolve_unknown([SmscRecord(claimed[0][1], "x1", at=100.0)], NOON, since=200.0)
        assert (r.sent, r.resend) == (0, 1)
