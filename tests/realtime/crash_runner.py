"""Run the event worker until the bus stays empty (the crash test kill -9s it and runs it again)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tagcloud.campaigns.channels.smpp import SmppClient
from tagcloud.campaigns.policy import ContactLedger
from tagcloud.realtime.bus import open_bus
from tagcloud.realtime.events import Lateness
from tagcloud.realtime.rulestore import RuleStore
from tagcloud.realtime.worker import Worker, dumps
from tests.realtime.helpers import NAMES, subscribers


def main(bus_url: str, prefix: str, db_url: str, port: int, n_subs: int) -> None:
    kw = {"prefix": prefix, "ack_wait": 1.0} if bus_url.startswith("nats") else {}
    with (
        open_bus(bus_url, **kw) as bus,
        ContactLedger(db_url) as ledger,
        RuleStore(db_url, names=NAMES) as store,
        SmppClient("127.0.0.1", port, window=8, rate=3000) as smpp,
    ):
        w = Worker(
            bus,
            ledger,
            store,
            subscribers(n_subs),
            smpp=smpp,
            clock="event",
            batch=100,
            lateness=Lateness(max_future=dt.timedelta(hours=12)),
        )
        w.run(idle_timeout=2.5, poll=0.1)
        print(dumps(w.stats), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
