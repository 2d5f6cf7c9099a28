"""Django's model backend with each user's permission set cached per process for a minute:
every page and fragment checks permissions, and a role's permissions change rarely (an edit in
the admin reaches every process within PERMS_TTL_S)."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.contrib.auth.backends import ModelBackend

PERMS_TTL_S = 60.0
_lock = threading.Lock()
_cache: dict[tuple[Any, ...], tuple[float, set[str]]] = {}


class CachedPermissionsBackend(ModelBackend):
    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return super().get_all_permissions(user_obj, obj)
        now = time.monotonic()
        # Keyed by when the account was made too: a reused primary key is another person.
        key = (user_obj.pk, user_obj.get_username(), user_obj.date_joined)
        with _lock:
            hit = _cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        perms = super().get_all_permissions(user_obj, obj)
        with _lock:
            _cache[key] = (now + PERMS_TTL_S, perms)
        return perms


def forget_permissions(**_: Any) -> None:
    """Signal receiver: roles, groups or a user's profile changed in this process."""
    with _lock:
        _cache.clear()
