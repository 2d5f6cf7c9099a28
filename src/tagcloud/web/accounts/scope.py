"""Region scoping, the one mechanism every query path goes through: a user's scope is the set of
home regions (区域) whose subscribers they may see, count, look up and export.

A province-level assignment (or a superuser) sees everything; a city marketer sees every county
and township under the city; a county marketer the townships of the county; a township manager
their township. A user without a role or region sees nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PARENTS_TTL_S = 60.0  # edits in the admin reach other processes within a minute
_parents_lock = threading.Lock()
_parents: dict[str, Any] = {}


@dataclass(frozen=True)
class RegionScope:
    """The home regions a user may see. ``everything`` means no restriction (province level);
    ``root``/``level`` is the region the user is assigned to (``None`` when they see nothing)."""

    everything: bool
    region_ids: frozenset[str]
    label: str = ""
    root: str | None = None
    level: str | None = None
    label_en: str = ""  # the region's English name, shown on English pages (falls back to label)

    @property
    def empty(self) -> bool:
        return not self.everything and not self.region_ids

    def allows(self, home_region_id: str | None) -> bool:
        """True when a subscriber with that home region (any level's id) is inside the scope."""
        return self.everything or (home_region_id is not None and home_region_id in self.region_ids)

    def as_condition(self) -> str | None:
        """The scope as a clause of the condition language over the wide table's region columns
        (``city_id`` / ``county_id`` / ``township_id``), which the audience engine ANDs into every
        query; ``None`` when unrestricted. Region ids are checked codes; quotes are doubled anyway."""
        if self.everything:
            return None
        if self.root is None or self.level not in ("city", "county", "township"):
            raise PermissionError("this account has no region: ask an administrator to assign one")
        return f"{self.level}_id = '" + self.root.replace("'", "''") + "'"

    def filter_queryset(self, qs: Any, field: str) -> Any:
        """A Django queryset limited to rows whose ``field`` (a region id) is in scope."""
        return qs if self.everything else qs.filter(**{f"{field}__in": self.region_ids})


NOTHING = RegionScope(False, frozenset(), "—")
EVERYTHING = RegionScope(True, frozenset(), "全省", level="province", label_en="whole province")


def descendants(root: str, parent_of: Mapping[str, str | None]) -> frozenset[str]:
    """``root`` and every region below it, given each region's parent."""
    children: dict[str, list[str]] = {}
    for rid, parent in parent_of.items():
        if parent:
            children.setdefault(parent, []).append(rid)
    out, stack = {root}, [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in out:  # a cycle in edited data must not hang the request
                out.add(child)
                stack.append(child)
    return frozenset(out)


def scope_for_region(
    region_id: str,
    level: str,
    parent_of: Mapping[str, str | None],
    name: str = "",
    name_en: str = "",
) -> RegionScope:
    """The scope of a user assigned to ``region_id`` at ``level`` (named ``name`` / ``name_en``)."""
    if level == "province":
        return RegionScope(
            True,
            frozenset(),
            name or EVERYTHING.label,
            region_id,
            level,
            name_en or ("" if name else EVERYTHING.label_en),
        )
    return RegionScope(False, descendants(region_id, parent_of), name, region_id, level, name_en)


def scope_for_user(user: Any) -> RegionScope:
    """The scope of a Django user: from their profile's region; everything for a superuser."""
    if not getattr(user, "is_authenticated", False):
        return NOTHING
    if user.is_superuser:
        return EVERYTHING
    from tagcloud.web.accounts.models import Profile

    try:
        profile = Profile.objects.select_related("region").get(user=user)
    except Profile.DoesNotExist:
        return NOTHING
    region = profile.region
    parent_of: Mapping[str, str | None] = {}
    if region.level != "province":
        parent_of = _parent_map()
    return scope_for_region(region.region_id, region.level, parent_of, region.name, region.name_en)


def _parent_map() -> Mapping[str, str | None]:
    """Each region's parent, cached per process for PARENTS_TTL_S (and dropped on local edits):
    every request needs it, and the hierarchy changes a few times a year."""
    from tagcloud.web.reference.models import Region

    with _parents_lock:
        if _parents.get("at", -1e9) + PARENTS_TTL_S < time.monotonic():
            _parents["map"] = dict(Region.objects.values_list("region_id", "parent_id"))
            _parents["at"] = time.monotonic()
        return _parents["map"]


def forget_parent_map(**_: Any) -> None:
    """Signal receiver: a region was saved or deleted in this process."""
    with _parents_lock:
        _parents.clear()


def region_names(ids: Iterable[str]) -> dict[str, str]:
    """Chinese names of the given region ids (for display)."""
    from tagcloud.web.reference.models import Region

    return dict(Region.objects.filter(region_id__in=list(ids)).values_list("region_id", "name"))
