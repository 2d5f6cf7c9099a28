"""The real-time commands end to end on a simulated province: simulate, rules, backtest, worker, report."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tagcloud.campaigns.channels.smsc import LocalSmsc
from tagcloud.cli import app

from .helpers import free_port

RULE = {
    "rule_id": "quota_pack",
    "name": "Quota 80%: 10 GB pack",
    "event_type": "quota_80",
    "condition": "arpu >= 30 AND brand <> 'easyown'",
    "offer_id": "DP_10G",
    "script": "80% of {quota_mb} MB used: 10 GB for 20 yuan, reply Y",
    "valid_from": "2026-01-01",
    "valid_until": "2026-12-31",
    "region_id": "44",
    "control_share": 0.2,
}


def test_realtime_commands(small_province: Path, tmp_path: Path) -> None:
    cli = CliRunner()
    db = f"sqlite:///{tmp_path / 'c.db'}"
    bus = f"sqlite:///{tmp_path / 'events.db'}"
    events = tmp_path / "events.jsonl"

    def ok(*args: str) -> str:
        r = cli.invoke(app, ["realtime", *args])
        assert r.exit_code == 0, r.output
        return r.output

    out = ok(
        "simulate",
        str(small_province),
        "--day",
        "2026-09-16",
        "--out",
        str(events),
        "--scale",
        "2",
        "--bad-share",
        "0.01",
    )
    assert "quota_80" in out
    n = sum(1 for _ in events.open())
    (tmp_path / "rule.json").write_text(json.dumps(RULE), encoding="utf-8")
    assert "draft" in ok("rule-create", str(tmp_path / "rule.json"), "--db", db, "--user", "li")
    out = ok("backtest", "quota_pack", "--events", str(events), "--db", db, "--export", str(small_province))
    assert "would have fired" in out
    ok("rule", "submit", "quota_pack", "--db", db, "--user", "li")
    r = cli.invoke(app, ["realtime", "rule", "approve", "quota_pack", "--db", db, "--user", "zhao"])
    assert r.exit_code == 1 and "no approver role" in r.output
    ok("rule", "approve", "quota_pack", "--db", db, "--user", "zhao", "--approver")
    assert "active" in ok("rule", "activate", "quota_pack", "--db", db, "--user", "li")
    assert "quota_pack" in ok("rules", "--db", db)
    ok("publish", str(events), "--bus", bus)
    with LocalSmsc(port=free_port(), rate=5000, receipt_delay=0.01) as smsc:
        out = ok(
            "worker", "--bus", bus, "--db", db, "--export", str(small_province), "--smsc", f"127.0.0.1:{smsc.port}",
            "--rate", "2000", "--clock", "event", "--idle-timeout", "1", "--max-future-hours", "24",
        )  # fmt: skip
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["received"] == n == stats["decided"] + stats["dead"]
    assert stats["dead"] > 0 and stats["sms_submitted"] > 0
    out = ok("report", "quota_pack", "--db", db, "--orders", str(small_province / "orders"))
    assert "lift" in out and "control" in out
    assert "duplicate_id" in ok("dead-letters", "--bus", bus)
