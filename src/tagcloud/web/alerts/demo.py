"""The demo's alerts: mobile numbers for the demo accounts and the city's rule on the township
manager's district (the seed's example, 两方新增市场占有率 below a threshold: 50% here, as the simulated share runs
about 65% on a normal day), with its chain
township manager → county marketer → city marketer."""

from __future__ import annotations

from django.contrib.auth.models import User

from tagcloud.regions.alerts import ThresholdKind
from tagcloud.web.accounts.models import Profile
from tagcloud.web.alerts.models import AlertRule, StaffContact
from tagcloud.web.alerts.service import RuleInput, save_rule

DEMO_MOBILE_PREFIX = "1390000"  # + 4 digits per account: the demo's staff phones (LocalSmsc receives them)


def demo_rules(prefix: str = "demo_") -> list[AlertRule]:
    """Give each demo account a mobile number and set the demo rule (once); returns the rules."""
    users = {u.username: u for u in User.objects.filter(username__startswith=prefix).order_by("username")}
    if not users:
        raise ValueError("no demo accounts: run `tagcloud web create-demo-users` first")
    for i, u in enumerate(users.values()):
        StaffContact.objects.update_or_create(user=u, defaults={"mobile": f"{DEMO_MOBILE_PREFIX}{i + 1:04d}"})
    town, county, city = (
        users.get(f"{prefix}{r}") for r in ("township_manager", "county_marketer", "city_marketer")
    )
    if town is None or county is None or city is None:
        raise ValueError("the demo accounts lack a township manager, county or city marketer")
    region = Profile.objects.get(user=town).region
    name = f"{region.name}两方新增市场占有率低于50%"
    existing = AlertRule.objects.filter(name=name).first()
    if existing is not None:
        return [existing]
    rule = save_rule(
        RuleInput(
            name=name, kpi="two_party_share", region_id=region.region_id, level="township",
            kind=ThresholdKind.ABSOLUTE.value, operator="<", threshold=50.0, reporter_id=town.pk,
            reviewer_ids=[county.pk], owner_id=city.pk, min_volume=3, due_days=2, tracking_days=3,
            report_url="/alerts/history/",
        ),
        city,
    )  # fmt: skip
    return [rule]
