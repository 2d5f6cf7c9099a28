"""Demo accounts: one user per role, placed in one city → county → township chain of the loaded
region hierarchy, each with a fresh random password (returned so the CLI can print it)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction

from tagcloud.web.accounts.models import Profile, Role
from tagcloud.web.accounts.roles import ROLES, ensure_roles
from tagcloud.web.reference.models import Region


@dataclass(frozen=True)
class DemoAccount:
    role: str
    role_name: str
    username: str
    password: str
    region_id: str
    region_name: str


def _busiest_township() -> Region | None:
    """The township with the most subscribers in the warehouse the pages read (None without one),
    so that every regional demo account lands where there are customers and alerts to act on."""
    from django.conf import settings

    from tagcloud.data.warehouse import Warehouse

    wh = Warehouse(settings.WAREHOUSE_DIR)
    if not wh.table_files("subscribers"):
        return None
    rows = wh.connect().execute(
        "SELECT home_region_id FROM subscribers WHERE home_region_id IS NOT NULL "
        "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 20"
    )
    for (rid,) in rows.fetchall():
        t = Region.objects.filter(region_id=rid, level="township").first()
        if t is not None:
            return t
    return None


def _chain() -> dict[str, Region]:
    """The province and a city → county → township chain: the busiest township's (most
    subscribers in the warehouse) when there is one, else the first below each other by id."""
    province = Region.objects.filter(level="province").order_by("region_id").first()
    if province is None:
        raise ValueError(
            "no regions loaded: run `tagcloud web load-reference` (after `tagcloud ingest`) first"
        )
    town = _busiest_township()
    if town is not None and town.parent is not None and town.parent.parent is not None:
        return {"province": province, "city": town.parent.parent, "county": town.parent, "township": town}
    chain = {"province": province}
    parent = province
    for level in ("city", "county", "township"):
        child = Region.objects.filter(parent=parent, level=level).order_by("region_id").first()
        if child is None:
            raise ValueError(f"region {parent.region_id} has no {level} below it")
        chain[level] = child
        parent = child
    return chain


def demo_password() -> str:
    """A fresh random password that satisfies the platform's own policy (AUTH_PASSWORD_VALIDATORS),
    so a demo user can sign in and later change it like anyone else."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    while True:
        password = secrets.token_urlsafe(9)
        try:
            validate_password(password)
        except ValidationError:
            continue
        return password


@transaction.atomic
def create_demo_users(prefix: str = "demo_") -> list[DemoAccount]:
    """Create (or reset) one account per role; returns their logins and new passwords."""
    ensure_roles()
    chain = _chain()
    out = []
    # Approval runs county → city → province, so the demo needs an approver at each level of the chain.
    extra = [(d, level) for d in ROLES if d.code == "approver" for level in ("county", "city")]
    for d, level in [(d, d.scope_level) for d in ROLES] + extra:
        region = chain[level]
        password = demo_password()
        suffix = "" if level == d.scope_level else f"_{level}"
        user, _ = User.objects.get_or_create(username=f"{prefix}{d.code}{suffix}")
        user.first_name = d.name
        user.is_staff = d.maintains_reference  # the Django admin is for the reference-data maintainers
        user.set_password(password)
        user.save()
        Profile.objects.update_or_create(
            user=user, defaults={"role": Role.objects.get(code=d.code), "region": region}
        )
        out.append(
            DemoAccount(d.code + suffix, d.name, user.username, password, region.region_id, region.name)
        )
    return out
