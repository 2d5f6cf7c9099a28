"""``tagcloud touchpoint decide / feedback`` over a ledger, a memory and a published wide table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from typer.testing import CliRunner

from tagcloud.cli import app


def test_decide_and_feedback(tmp_path: Path) -> None:
    from tagcloud.audience.synth import WideSpec, write_wide
    from tagcloud.campaigns.design import CampaignDesign, SubCampaign, Wave
    from tagcloud.campaigns.policy import ContactLedger, ContactRequest
    from tagcloud.campaigns.workflow import CampaignStore

    wh = tmp_path / "wh"
    write_wide(wh, WideSpec(rows=300, flags=4), quiet=True)
    db = f"sqlite:///{tmp_path / 'rt.db'}"
    now = dt.datetime.now()
    d = CampaignDesign(
        campaign_id="C388", name="388", region_id="P", target="TRUE", start=now - dt.timedelta(days=1),
        sub_campaigns=[SubCampaign(name="all", offer_id="PL_388", scripts={"10086": "388套餐, 尾号{msisdn_tail}"})],
        waves=[Wave(channel="10086")], control_share=0.0,
    )  # fmt: skip
    with CampaignStore(db) as s:
        s.create(d, __import__("tagcloud.campaigns.workflow", fromlist=["Actor"]).Actor("a", "province", "P"))
    n = "13000000009"
    with ContactLedger(db) as led:
        led.reserve(
            ContactRequest(
                "C388", n, "10086", now - dt.timedelta(hours=1), offer_id="PL_388", sub_campaign="all"
            )
        )
    common = ["--db", db, "--warehouse", str(wh), "--memory", f"sqlite:///{tmp_path / 'm.db'}"]
    r = CliRunner().invoke(app, ["touchpoint", "decide", n, "--channel", "10086", *common])
    assert r.exit_code == 0, r.output
    assert "PL_388" in r.output and "尾号0009" in r.output and "decided 1 offers" in r.output
    r = CliRunner().invoke(
        app,
        [
            "touchpoint",
            "feedback",
            n,
            "PL_388",
            "accepted",
            "--channel",
            "hall",
            "--source-id",
            "C388",
            *common,
        ],
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["touchpoint", "decide", n, "--channel", "10086", *common])
    # the acceptance cancelled the campaign's pending touchpoint contact: nothing left to offer
    assert "decided 0 offers" in r.output and "response hall C388 PL_388 accepted" in r.output
