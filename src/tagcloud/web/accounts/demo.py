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


def _chain() -> dict[str, Region]:
    """The province, and the first city, county and township below each other (by region id)."""
    province = Region.objects.filter(level="province").order_by("region_id").first()
    if province is None:
        raise ValueError(
            "no regions loaded: run `tagcloud web load-reference` (after `tagcloud ingest`) first"
        )
    chain = {"province": province}
    parent = province
    for level in ("city", "county", "township"):
        child = Region.objects.filter(parent=parent, level=level).order_by("region_id").first()
        if child is None:
            raise ValueError(f"region {parent.region_id} has no {level} below it")
        chain[level] = child
        parent = child
    return chain


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
        password = secrets.token_urlsafe(9)
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
