"""A local SMSC for the demo and the tests, on the smpp34 SMPP 3.4 server (installed from PyPI).

The protocol side (binds, framing, windowing, timers, PDU codec) is smpp34's Rust server, written
by others; this module only gives it an SMSC's behaviour: a submit rate above which it answers
``ESME_RTHROTTLED``, a message id per accepted ``submit_sm``, a delivery receipt (``deliver_sm``
with esm_class 0x04) after a short delay, and a journal of every accepted message (JSON lines) so
a test can count what really reached the network (and a sender that died can settle what it had
in flight from it: ``smpp.journal_records``). Numbers ending in ``UNDELIVERABLE_SUFFIX``
get an ``UNDELIV`` receipt, so failure paths are exercised too.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UNDELIVERABLE_SUFFIX = "000"


@dataclass
class SmscStats:
    accepted: int = 0
    throttled: int = 0
    receipts: int = 0
    binds: int = 0


@dataclass
class LocalSmsc:
    """Run with ``start()`` (background thread) or ``serve()`` (foreground); stop with ``stop()``."""

    host: str = "127.0.0.1"
    port: int = 2775
    rate: float = 500.0  # submit_sm accepted per second, across all binds
    receipt_delay: float = 0.05  # seconds between accepting a message and its delivery receipt
    journal: Path | None = None
    stats: SmscStats = field(default_factory=SmscStats)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stop: asyncio.Event | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None

    def start(self) -> LocalSmsc:
        """Start in a background thread; return once the port accepts binds."""
        self._thread = threading.Thread(target=self._run, name="local-smsc", daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError(f"local SMSC did not start on {self.host}:{self.port}")
        if self._error is not None:
            raise RuntimeError(f"local SMSC could not start on {self.host}:{self.port}: {self._error}")
        return self

    def serve(self) -> None:
        """Run in the foreground until interrupted."""
        self._run()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)

    def drop_sessions(self) -> None:
        """Unbind every ESME (to test reconnects): as an SMSC does when it restarts."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._drop(), self._loop).result(10)

    def __enter__(self) -> LocalSmsc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:  # surfaced to start()
            self._error = e
            self._ready.set()

    async def _drop(self) -> None:
        for esme in list(self._sessions.values()):
            with contextlib.suppress(Exception):  # already gone, or it did not answer
                await asyncio.wait_for(esme.unbind(), 3)
        self._sessions.clear()

    async def _main(self) -> None:
        import smpp34

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._sessions: dict[str, Any] = {}
        server = smpp34.Server(self.host, self.port, system_id="TAGCLOUD-SMSC")
        await server.start()
        self._ready.set()
        journal = self.journal.open("a", encoding="utf-8") if self.journal else None
        tokens, last = self.rate, time.monotonic()
        seq = 0
        pending: set[asyncio.Task[None]] = set()
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                nxt = asyncio.ensure_future(server.next())
                done, _ = await asyncio.wait({nxt, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if stopper in done:
                    nxt.cancel()
                    break
                ev = nxt.result()
                if isinstance(ev, smpp34.Esme):
                    self._sessions[ev.session_id] = ev
                    self.stats.binds += 1
                elif isinstance(ev, smpp34.Unbound):
                    self._sessions.pop(ev.session_id, None)
                elif isinstance(ev, smpp34.SubmitSmEvent):
                    now = time.monotonic()
                    tokens = min(self.rate, tokens + (now - last) * self.rate)
                    last = now
                    if tokens < 1.0:
                        self.stats.throttled += 1
                        ev.reject(smpp34._smpp34.ESME_RTHROTTLED)
                        continue
                    tokens -= 1.0
                    seq += 1
                    mid = f"{int(time.time() * 1000):x}{seq:06x}"
                    ev.accept(mid)
                    self.stats.accepted += 1
                    if journal is not None:
                        journal.write(
                            json.dumps(
                                {
                                    "message_id": mid,
                                    "to": ev.destination_addr,
                                    "from": ev.source_addr,
                                    "data_coding": ev.data_coding,
                                    "bytes": len(ev.short_message),
                                    "at": round(time.time(), 3),
                                }
                            )
                            + "\n"
                        )
                        journal.flush()
                    if ev.registered_delivery & 0x01:
                        t = asyncio.create_task(
                            self._receipt(ev.session_id, mid, ev.destination_addr, ev.source_addr)
                        )
                        pending.add(t)
                        t.add_done_callback(pending.discard)
        finally:
            stopper.cancel()
            for t in pending:
                t.cancel()
            if journal is not None:
                journal.close()
            await server.stop()

    async def _receipt(self, session_id: str, mid: str, dest: str, src: str) -> None:
        await asyncio.sleep(self.receipt_delay)
        esme = self._sessions.get(session_id)
        if esme is None:  # the ESME went away: like an SMSC, route it to another bind (the restarted sender)
            esme = next(iter(self._sessions.values()), None)
        if esme is None:
            return  # nobody bound: a real SMSC would queue it; the demo drops it
        stat = "UNDELIV" if dest.endswith(UNDELIVERABLE_SUFFIX) else "DELIVRD"
        stamp = dt.datetime.now().strftime("%y%m%d%H%M")
        text = f"id:{mid} sub:001 dlvrd:{'000' if stat != 'DELIVRD' else '001'} submit date:{stamp} done date:{stamp} stat:{stat} err:000 text:"
        try:
            await esme.deliver_sm(dest, text.encode("ascii"), source_addr=src, esm_class=0x04)
            self.stats.receipts += 1
        except Exception:  # session closed meanwhile
            pass


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every message the SMSC accepted, in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
