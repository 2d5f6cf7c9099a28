"""Template context: the user's role and region scope on every page (shown in the header)."""

from __future__ import annotations

from typing import Any

from tagcloud.web.accounts.scope import scope_for_user


def current_role(request: Any) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    profile = getattr(user, "profile", None)
    return {"current_role": profile.role if profile else None, "current_scope": scope_for_user(user)}
