"""A campaign's design (营销活动设计): target, tiered sub-campaigns, offers, channels and waves.

A design is a pydantic model so that every saved version is plain JSON and bad input is refused
with the field that is wrong. The approval workflow (``workflow.py``) keeps the versions.
"""

from __future__ import annotations

import datetime as dt
import re
import string

from pydantic import BaseModel, Field, field_validator, model_validator

from tagcloud.campaigns.policy import Channel

_ID = re.compile(r"^[A-Za-z0-9_\-.]{1,60}$")


class SubCampaign(BaseModel):
    """子活动: one offer for one tier of the target (e.g. ARPU ≥ 100), with a script per channel."""

    name: str
    offer_id: str
    condition: str = ""  # ANDed with the campaign's target; empty: the whole target
    scripts: dict[str, str] = Field(default_factory=dict)  # channel → text with {personal_fields}

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"sub-campaign name {v!r}: letters, digits, '_', '-', '.' only")
        return v

    @field_validator("scripts")
    @classmethod
    def _scripts(cls, v: dict[str, str]) -> dict[str, str]:
        for ch, text in v.items():
            Channel(ch)  # ValueError names the channel
            try:
                list(string.Formatter().parse(text))
            except ValueError as e:
                raise ValueError(f"script for {ch}: {e} in {text!r}") from e
        return v


class Wave(BaseModel):
    """接触波次: e.g. SMS on day 0, an outbound call on day 3 to those who did not respond."""

    channel: Channel
    after_days: int = 0
    only_non_responders: bool = True  # later waves skip whoever already responded


class CampaignDesign(BaseModel):
    campaign_id: str
    name: str
    region_id: str  # the designer's region: scopes the target and chooses the approval chain
    region_level: str = "county"  # province | city | county
    target: str  # a condition in the one condition language, or in_group('saved group')
    sub_campaigns: list[SubCampaign]
    waves: list[Wave]
    start: dt.datetime
    priority: int = 0
    control_share: float = 0.1
    capacity: dict[str, int] = Field(default_factory=dict)  # channel → contacts per day (call centre)
    response_window_days: int = 14  # an order within this many days of a contact is credited
    sender: str = "10658000"

    @field_validator("campaign_id")
    @classmethod
    def _cid(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"campaign id {v!r}: 1-60 letters, digits, '_', '-', '.'")
        return v

    @field_validator("control_share")
    @classmethod
    def _share(cls, v: float) -> float:
        if not 0 <= v < 1:
            raise ValueError(f"control share {v} must be in [0, 1)")
        return v

    @field_validator("region_level")
    @classmethod
    def _level(cls, v: str) -> str:
        if v not in ("province", "city", "county"):
            raise ValueError(f"region level {v!r}: province, city or county")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> CampaignDesign:
        if not self.sub_campaigns:
            raise ValueError(f"campaign {self.campaign_id}: at least one sub-campaign")
        if not self.waves:
            raise ValueError(f"campaign {self.campaign_id}: at least one wave")
        names = [s.name for s in self.sub_campaigns]
        if len(set(names)) != len(names):
            raise ValueError(f"campaign {self.campaign_id}: sub-campaign names repeat: {names}")
        for ch, n in self.capacity.items():
            Channel(ch)
            if n < 0:
                raise ValueError(f"capacity of {ch} must be 0 or more, not {n}")
        days = [w.after_days for w in self.waves]
        if days != sorted(days) or days[0] < 0:
            raise ValueError(f"campaign {self.campaign_id}: waves must be in time order, got days {days}")
        for s in self.sub_campaigns:
            for w in self.waves:
                if w.channel not in s.scripts:
                    raise ValueError(f"sub-campaign {s.name}: no script for the {w.channel.value} wave")
        return self

    def wave_time(self, wave: int) -> dt.datetime:
        return self.start + dt.timedelta(days=self.waves[wave].after_days)

    def sub(self, name: str) -> SubCampaign:
        for s in self.sub_campaigns:
            if s.name == name:
                return s
        raise KeyError(f"campaign {self.campaign_id} has no sub-campaign {name!r}")


class _Fields(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return ""  # a missing personal field renders empty rather than failing a whole wave


def render(script: str, fields: dict[str, object]) -> str:
    """Fill a script's {personal_fields} (业务对白 with personal fields); unknown fields render empty."""
    return script.format_map(_Fields(fields))
