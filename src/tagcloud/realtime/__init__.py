"""Real-time marketing (实时营销): canonical events, the rule library, the event worker.

* :mod:`tagcloud.realtime.events` — the event model, validation and dead-letter reasons;
* :mod:`tagcloud.realtime.rulestore` — rules with every version, approval, on/off switch;
* :mod:`tagcloud.realtime.engine` — rule conditions compiled to vectorised predicates over a
  micro-batch of events joined with subscriber attributes;
* :mod:`tagcloud.realtime.bus` / :mod:`tagcloud.realtime.nats` — the transport (embedded SQLite
  log by default, NATS JetStream at scale);
* :mod:`tagcloud.realtime.worker` — consume → validate → match → decide → contact → ack.
"""
