"""Access rules shared by every view: log in, hold a permission, stay in region scope."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from tagcloud.web.accounts.scope import RegionScope, scope_for_user


def require(*perms: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the view needs a logged-in user holding every ``accounts.<perm>``; else 403."""

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def inner(request: Any, *args: Any, **kwargs: Any) -> Any:
            missing = [p for p in perms if not request.user.has_perm(f"accounts.{p}")]
            if missing:
                raise PermissionDenied(f"role lacks permission {', '.join(missing)}")
            return view(request, *args, **kwargs)

        return login_required(inner)

    return wrap


def scope(request: Any) -> RegionScope:
    """The region scope of the request's user, computed once per request."""
    cached = getattr(request, "_tagcloud_scope", None)
    if cached is None:
        cached = scope_for_user(request.user)
        request._tagcloud_scope = cached
    return cached
