"""Template context: the user's role and region scope (shown in the header of full pages).

Lazy, so htmx fragments that never show the header cost no query."""

from __future__ import annotations

from typing import Any

from django.utils.functional import SimpleLazyObject


def current_role(request: Any) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from tagcloud.web.views.access import scope

    def role() -> Any:
        profile = getattr(user, "profile", None)
        return profile.role if profile else None

    return {"current_role": SimpleLazyObject(role), "current_scope": SimpleLazyObject(lambda: scope(request))}
