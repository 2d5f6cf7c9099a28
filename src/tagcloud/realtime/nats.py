"""NATS JetStream as the event bus (nats-py), behind the same :class:`~tagcloud.realtime.bus.Bus`.

Two file-backed streams: ``<prefix>_EVENTS`` (subject ``<prefix>.events``) and ``<prefix>_DEAD``
(subject ``<prefix>.dead``, reason and detail in headers). The worker reads events through one
durable pull consumer with explicit acknowledgement; a message fetched and not acknowledged within
``ack_wait`` seconds is delivered again (after a crash: to the restarted worker). A dead letter
carries ``Nats-Msg-Id: dead-<source sequence>`` so the stream's duplicate window drops a second
copy when a bad event is redelivered.

nats-py is asynchronous; this class owns one event loop and runs each call to completion on it, so
the worker stays a plain loop. Start a server with ``nats-server -js`` (Debian's package).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from tagcloud.realtime.bus import Bus, BusError, Letter, Message

T = TypeVar("T")


def _stream_seq(m: Any) -> int:
    """The stream sequence from the ack subject, without building the whole metadata object (a
    third of the fetch cost): ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.…`` (9 tokens) or
    ``$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.…`` (12)."""
    t = m.reply.split(".")
    if len(t) == 9:
        return int(t[5])
    if len(t) >= 12:
        return int(t[7])
    return int(m.metadata.sequence.stream)


class JetStreamBus(Bus):
    name = "nats"

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        consumer: str = "decider",
        prefix: str = "TAGCLOUD",
        ack_wait: float = 30.0,
        connect_timeout: float = 2.0,
    ) -> None:
        import nats
        from nats.js import api

        self.url, self.consumer, self.prefix = url, consumer, prefix
        self.subject, self.dead_subject = f"{prefix.lower()}.events", f"{prefix.lower()}.dead"
        self.stream, self.dead_stream = f"{prefix}_EVENTS", f"{prefix}_DEAD"
        self._loop = asyncio.new_event_loop()
        try:
            self.nc = self._run(
                nats.connect(
                    url, connect_timeout=connect_timeout, max_reconnect_attempts=2, allow_reconnect=False
                )
            )
        except Exception as e:
            self._loop.close()
            raise BusError(f"cannot reach NATS at {url}: {e}") from e
        self.js = self.nc.jetstream(timeout=10)
        for name, subject in ((self.stream, self.subject), (self.dead_stream, self.dead_subject)):
            try:
                self._run(self.js.stream_info(name))
            except Exception:
                try:
                    self._run(
                        self.js.add_stream(
                            api.StreamConfig(name=name, subjects=[subject], storage=api.StorageType.FILE)
                        )
                    )
                except Exception as e:
                    self.close()
                    raise BusError(f"NATS at {url} has no JetStream (start it with -js): {e}") from e
        config = api.ConsumerConfig(
            durable_name=consumer,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            max_ack_pending=-1,
            deliver_policy=api.DeliverPolicy.ALL,
        )
        self.sub = self._run(
            self.js.pull_subscribe(self.subject, durable=consumer, stream=self.stream, config=config)
        )

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coro)

    def publish(self, payloads: Sequence[bytes]) -> None:
        async def go() -> None:
            # pipelined: up to a window of publishes in flight, each confirmed by the stream
            window = 2000
            for i in range(0, len(payloads), window):
                futs = [await self.js.publish_async(self.subject, bytes(p)) for p in payloads[i : i + window]]
                await asyncio.gather(*futs)

        self._run(go())

    def fetch(self, max_messages: int = 1000, timeout: float = 0.5) -> list[Message]:
        import nats.errors

        async def go() -> list[Message]:
            try:
                msgs = await self.sub.fetch(max_messages, timeout=max(timeout, 0.01))
            except (TimeoutError, nats.errors.TimeoutError):  # nothing arrived in time
                return []
            return [Message(_stream_seq(m), m.data, m) for m in msgs]

        return self._run(go())

    def ack(self, messages: Sequence[Message]) -> None:
        async def go() -> None:
            for m in messages:
                await m.handle.ack()
            await self.nc.flush()  # the acks have reached the server when this returns

        if messages:
            self._run(go())

    def dead_letter(self, letters: Sequence[Letter]) -> None:
        async def go() -> None:
            futs = []
            for x in letters:
                headers = {"Tagcloud-Reason": x.reason, "Tagcloud-Detail": x.detail[:1000].replace("\n", " ")}
                if x.event_id:
                    headers["Tagcloud-Event-Id"] = x.event_id
                if x.source_seq is not None:
                    headers["Nats-Msg-Id"] = f"dead-{x.source_seq}"
                futs.append(await self.js.publish_async(self.dead_subject, bytes(x.payload), headers=headers))
            await asyncio.gather(*futs)

        if letters:
            self._run(go())

    def dead_letters(self) -> list[dict[str, Any]]:
        async def go() -> list[dict[str, Any]]:
            info = await self.js.stream_info(self.dead_stream)
            out: list[dict[str, Any]] = []
            if info.state.messages == 0:
                return out
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                m = await self.js.get_msg(self.dead_stream, seq)
                h = m.headers or {}
                src = h.get("Nats-Msg-Id", "")
                out.append(
                    {
                        "source_seq": int(src.removeprefix("dead-")) if src.startswith("dead-") else None,
                        "event_id": h.get("Tagcloud-Event-Id"),
                        "payload": m.data or b"",
                        "reason": h.get("Tagcloud-Reason", ""),
                        "detail": h.get("Tagcloud-Detail", ""),
                    }
                )
            return out

        return self._run(go())

    def pending(self) -> int:
        info = self._run(self.js.consumer_info(self.stream, self.consumer))
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    def delete_streams(self) -> None:
        """Remove both streams (tests and benchmarks use a prefix of their own)."""
        for name in (self.stream, self.dead_stream):
            with contextlib.suppress(Exception):  # already gone
                self._run(self.js.delete_stream(name))

    def close(self) -> None:
        if getattr(self, "nc", None) is not None and not self._loop.is_closed():
            with contextlib.suppress(Exception):  # closing a dead connection
                self._run(self.nc.close())
        if not self._loop.is_closed():
            self._loop.close()
