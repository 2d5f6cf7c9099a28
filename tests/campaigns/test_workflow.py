"""Approval workflow: versions, chain by region level, return with comment, lock, inbox, OA webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tagcloud.campaigns.workflow import (
    EDITABLE_STATES,
    LOCKED_STATES,
    OPEN_STATES,
    Actor,
    ApprovalPolicy,
    CampaignState,
    CampaignStore,
    WorkflowError,
)

from .helpers import demo_design

DESIGNER = Actor("li.county", "county", "C01K01")
COUNTY = Actor("wang.county", "county", "C01K01", can_approve=True)
OTHER_COUNTY = Actor("zhao.county", "county", "C01K02", can_approve=True)
CITY = Actor("chen.city", "city", "C01", can_approve=True)
PROVINCE = Actor("sun.prov", "province", "", can_approve=True)


def test_states_are_grouped() -> None:
    assert EDITABLE_STATES < OPEN_STATES and LOCKED_STATES < OPEN_STATES
    assert not EDITABLE_STATES & LOCKED_STATES


def test_county_campaign_through_county_city_province_with_one_return(ledger_url: str) -> None:
    with CampaignStore(ledger_url) as store:
        store.create(demo_design(), DESIGNER)
        c = store.submit("CMP1", DESIGNER)
        assert c["state"] == CampaignState.IN_REVIEW and c["waiting_for"] == "county"
        # locked while in review
        with pytest.raises(WorkflowError, match="locked"):
            store.edit(demo_design(priority=5), DESIGNER)
        # the inbox shows it to the right approver only
        assert [x["campaign_id"] for x in store.inbox(COUNTY)] == ["CMP1"]
        assert store.inbox(OTHER_COUNTY) == [] and store.inbox(CITY) == []
        with pytest.raises(WorkflowError, match="waits for a county approver"):
            store.approve("CMP1", CITY)
        store.approve("CMP1", COUNTY, "ok")
        assert [x["campaign_id"] for x in store.inbox(CITY)] == ["CMP1"]
        with pytest.raises(WorkflowError, match="needs a comment"):
            store.return_("CMP1", CITY, " ")
        c = store.return_("CMP1", CITY, "control share too small; use 10%")
        assert c["state"] == CampaignState.RETURNED
        # the designer edits (a new version) and resubmits; the chain restarts
        store.edit(demo_design(control_share=0.1, priority=3), DESIGNER, note="10% control")
        store.submit("CMP1", DESIGNER)
        store.approve("CMP1", COUNTY)
        store.approve("CMP1", CITY, "approved")
        assert store.get("CMP1")["waiting_for"] == "province"
        c = store.approve("CMP1", PROVINCE)
        assert c["state"] == CampaignState.APPROVED
        assert [v["version"] for v in store.versions("CMP1")] == [1, 2]
        assert store.design("CMP1", 1).priority == 0 and store.design("CMP1").priority == 3
        trail = [(a["level"], a["decision"]) for a in store.approvals("CMP1")]
        assert ("city", "returned") in trail and trail[-1] == ("province", "approved")
        assert store.start("CMP1")["state"] == CampaignState.RUNNING
        with pytest.raises(WorkflowError, match="locked"):
            store.edit(demo_design(), DESIGNER)


def test_configurable_chain_and_bad_actions(ledger_url: str) -> None:
    with CampaignStore(ledger_url, ApprovalPolicy(chains={"county": ("city",)})) as store:
        store.create(demo_design(), DESIGNER)
        with pytest.raises(WorkflowError, match="not in review"):
            store.approve("CMP1", CITY)
        store.submit("CMP1", DESIGNER)
        with pytest.raises(WorkflowError, match="no approver role"):
            store.approve("CMP1", Actor("x", "city", "C01"))
        assert store.approve("CMP1", CITY)["state"] == CampaignState.APPROVED
        with pytest.raises(WorkflowError, match="exists already"):
            store.create(demo_design(), DESIGNER)
        with pytest.raises(WorkflowError, match="may not design"):
            store.create(demo_design(campaign_id="CMP2", region_id="C02K01"), DESIGNER)


def test_oa_webhook_notifies_and_accepts_the_decision(ledger_url: str) -> None:
    got: list[dict] = []

    class OA(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a: object) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", 0), OA)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        pol = ApprovalPolicy(
            chains={"county": ("city", "province")}, oa_url=f"http://127.0.0.1:{srv.server_port}/hook"
        )
        with CampaignStore(ledger_url, pol) as store:
            store.create(demo_design(), DESIGNER)
            store.submit("CMP1", DESIGNER)
            assert got[-1]["level"] == "city"
            with pytest.raises(WorkflowError, match="token does not match"):
                store.oa_decision("CMP1", "forged", "approve")
            store.oa_decision("CMP1", got[-1]["token"], "approve")
            assert got[-1]["level"] == "province"
            # a token of an earlier step is refused
            with pytest.raises(WorkflowError, match="token"):
                store.oa_decision("CMP1", got[0]["token"], "approve")
            assert store.oa_decision("CMP1", got[-1]["token"], "approve")["state"] == CampaignState.APPROVED
    finally:
        srv.shutdown()
