"""One suite, every transport: the embedded SQLite log and NATS JetStream (skipped when no server)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from tagcloud.realtime.bus import Bus, BusError, Letter, SqliteBus, open_bus

NATS_URL = "nats://127.0.0.1:4222"


def nats_unavailable() -> str | None:
    try:
        import nats  # noqa: F401
    except ImportError:
        return "nats-py is not installed"
    try:
        from tagcloud.realtime.nats import JetStreamBus

        b = JetStreamBus(NATS_URL, prefix=f"PROBE{uuid.uuid4().hex[:8].upper()}", connect_timeout=1)
    except BusError as e:
        return f"no NATS JetStream at {NATS_URL} ({str(e).splitlines()[0]}); start one with `nats-server -js`"
    b.delete_streams()
    b.close()
    return None


BusFactory = Callable[[], Bus]


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("nats", marks=pytest.mark.nats)])
def bus_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BusFactory]:
    """Makes bus objects on one stream: a second call is a restarted consumer on the same durable log."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('bus') / 'events.db'}"
        yield lambda: open_bus(url)
        return
    reason = nats_unavailable()
    if reason:
        pytest.skip(reason)
    prefix = f"T{uuid.uuid4().hex[:10].upper()}"
    made: list[Bus] = []

    def make() -> Bus:
        b = open_bus(NATS_URL, prefix=prefix, ack_wait=1.0)
        made.append(b)
        return b

    yield make
    from tagcloud.realtime.nats import JetStreamBus

    last = JetStreamBus(NATS_URL, prefix=prefix)
    last.delete_streams()
    last.close()
    for b in made:
        b.close()


def drain(bus: Bus, want: int, timeout: float = 5.0) -> list:
    import time

    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        got += bus.fetch(100, timeout=0.2)
    return got


def settled_pending(bus: Bus, timeout: float = 5.0) -> int:
    """pending() once the server has processed the acks (JetStream applies them asynchronously)."""
    import time

    deadline = time.monotonic() + timeout
    while (n := bus.pending()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return n


def test_publish_fetch_ack_in_order(bus_factory: BusFactory) -> None:
    bus = bus_factory()
    bus.publish([f"e{i}".encode() for i in range(250)])
    got = drain(bus, 250)
    assert [m.data for m in got] == [f"e{i}".encode() for i in range(250)]
    assert len({m.seq for m in got}) == 250
    assert bus.pending() == 250  # delivered, not yet acknowledged
    bus.ack(got)
    assert settled_pending(bus) == 0
    assert bus.fetch(10, timeout=0.1) == []


def test_unacked_messages_are_delivered_again_to_a_restarted_consumer(bus_factory: BusFactory) -> None:
    first = bus_factory()
    first.publish([f"e{i}".encode() for i in range(20)])
    got = drain(first, 20)
    first.ack(got[:12])
    first.close()  # the worker died holding 8 unacknowledged messages
    import time

    time.sleep(1.2)  # past JetStream's ack_wait of 1 s (the SQLite log redelivers at once)
    second = bus_factory()
    again = drain(second, 8)
    assert [m.data for m in again] == [f"e{i}".encode() for i in range(12, 20)]
    assert [m.seq for m in again] == [m.seq for m in got[12:]]  # the same stream positions
    second.ack(again)
    assert settled_pending(second) == 0


def test_dead_letters_keep_reason_and_are_idempotent_on_the_source(bus_factory: BusFactory) -> None:
    bus = bus_factory()
    bus.publish([b"not json", b"{}"])
    got = drain(bus, 2)
    letters = [
        Letter(got[0].seq, got[0].data, "malformed", "not JSON"),
        Letter(got[1].seq, got[1].data, "malformed", "'id' missing", None),
    ]
    bus.dead_letter(letters)
    bus.dead_letter(letters[:1])  # redelivered bad event: not dead-lettered twice
    dead = bus.dead_letters()
    assert [(d["source_seq"], d["payload"], d["reason"]) for d in dead] == [
        (got[0].seq, b"not json", "malformed"),
        (got[1].seq, b"{}", "malformed"),
    ]
    assert dead[0]["detail"] == "not JSON"


def test_a_bad_url_says_what_is_wrong(tmp_path: pytest.TempPathFactory) -> None:
    with pytest.raises(BusError, match="unknown transport 'kafka'"):
        open_bus("kafka://x")
    with pytest.raises(BusError, match="no file path"):
        SqliteBus("sqlite://")
