"""A demo campaign design shared by the campaign tests."""

from __future__ import annotations

import datetime as dt

from tagcloud.campaigns.design import CampaignDesign, SubCampaign, Wave

NOON = dt.datetime(2026, 11, 10, 12, 0)

SCRIPTS = {
    "sms": "尊敬的客户(尾号{msisdn_tail})：5G畅享包每月30元含30GB，回复KT办理。",
    "outbound": "您好，我是10086客户经理，看到您最近流量用得多……",
    "10086": "客户近期流量超套，推荐5G畅享包",
    "hall": "推荐5G畅享包，办理即送视频会员",
}


def demo_design(
    waves: tuple[str, ...] = ("sms", "outbound"), campaign_id: str = "CMP1", **kw: object
) -> CampaignDesign:
    base: dict[str, object] = {
        "campaign_id": campaign_id,
        "name": "5G流量包推荐",
        "region_id": "C01K01",
        "region_level": "county",
        "target": "arpu >= 50",
        "sub_campaigns": [
            SubCampaign(name="high", offer_id="5G_PACK_50", condition="arpu >= 100", scripts=SCRIPTS),
            SubCampaign(name="low", offer_id="5G_PACK_30", condition="", scripts=SCRIPTS),
        ],
        "waves": [Wave(channel=w, after_days=3 * i) for i, w in enumerate(waves)],
        "start": NOON,
        "control_share": 0.1,
    }
    base.update(kw)
    return CampaignDesign(**base)  # type: ignore[arg-type]
