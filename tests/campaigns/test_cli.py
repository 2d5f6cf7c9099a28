"""The campaign commands end to end: create, approve, run over SMPP, status, call results, report."""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from tagcloud.campaigns.channels.smsc import LocalSmsc
from tagcloud.campaigns.execute import split_target
from tagcloud.campaigns.workflow import Actor, ApprovalPolicy, CampaignStore
from tagcloud.cli import app

from .helpers import NOON, demo_design


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_campaign_commands(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    d = demo_design(capacity={"outbound": 50})
    (tmp_path / "d.json").write_text(d.model_dump_json(), encoding="utf-8")
    r = CliRunner().invoke(
        app, ["campaign", "create", str(tmp_path / "d.json"), "--db", db, "--user", "li", "--region", "C01"]
    )
    assert r.exit_code == 0, r.output
    with CampaignStore(db, ApprovalPolicy(chains={"county": ("city",)})) as s:
        s.submit("CMP1", Actor("li", "county", "C01"))
        s.approve("CMP1", Actor("chen", "city", "C01", can_approve=True))
    ms = np.array([f"138{i:08d}" for i in range(300)], dtype=object)
    snaps = tmp_path / "snaps"
    split_target(d, ms, np.array(["low"] * 300, dtype=object)).save(snaps / "CMP1.target.parquet")
    with LocalSmsc(port=free_port(), rate=5000, receipt_delay=0.01) as smsc:
        args = [
            "--db",
            db,
            "--snapshots",
            str(snaps),
            "--smsc",
            f"127.0.0.1:{smsc.port}",
            "--calls",
            str(tmp_path / "calls"),
        ]
        r = CliRunner().invoke(app, ["campaign", "run", "CMP1", *args, "--now", NOON.isoformat()])
        assert r.exit_code == 0, r.output
        assert "wave 0: {'reserved': 270}" in r.output
        later = NOON.replace(day=13).isoformat()
        r = CliRunner().invoke(app, ["campaign", "run", "CMP1", *args, "--now", later])
        assert r.exit_code == 0, r.output
        assert "wave 1: 50 calls" in r.output
    calls = next((tmp_path / "calls").glob("*.csv"))
    rows = list(csv.DictReader(calls.open(encoding="utf-8")))
    res = tmp_path / "res.csv"
    with res.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["contact_id", "result"])
        w.writerows([[x["contact_id"], "accepted"] for x in rows])
    # the results come back the day after the calls, inside the 14-day response window (without
    # --now they would be dated today, which drifts out of the window as the calendar moves on)
    results_at = NOON.replace(day=14).isoformat()
    r = CliRunner().invoke(app, ["campaign", "call-results", str(res), "--db", db, "--now", results_at])
    assert r.exit_code == 0 and "'accepted': 50" in r.output, r.output
    r = CliRunner().invoke(app, ["campaign", "status", "CMP1", "--db", db])
    assert "delivered" in r.output and "control" in r.output
    md, xlsx = tmp_path / "report.md", tmp_path / "report.xlsx"
    r = CliRunner().invoke(
        app,
        ["campaign", "report", "CMP1", "--db", db, "--snapshots", str(snaps), "--markdown", str(md), "--xlsx", str(xlsx),
         "--outcomes", str(tmp_path / "outcomes.parquet")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    # 50 of 270 against none of a 30-member control: counts printed, and no ratio over so small a control
    assert "18.52% of 270 action (50)" in r.output and "too few to conclude" in r.output
    assert "shape:" not in r.output
    assert "18.52% of 270 action (50)" in md.read_text(encoding="utf-8") and xlsx.stat().st_size > 0
    # each member's group and success, for an uplift model (tagcloud models uplift --campaign)
    import pyarrow.parquet as pq

    out = pq.read_table(tmp_path / "outcomes.parquet").to_pydict()
    assert len(out["msisdn"]) == 300 and sum(out["treated"]) == 270
    assert sum(t and k for t, k in zip(out["treated"], out["took"], strict=True)) == 50
