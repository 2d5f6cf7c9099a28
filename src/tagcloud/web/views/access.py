"""Access rules shared by every view: log in, hold a permission, stay in region scope.

Every page declares what it needs with :func:`require`; the decorator records the declaration on the
view (``required_permissions``, ``any_of_permissions``) so the authorization matrix
(tests/robustness/test_authz_matrix.py) reads the designed answer from the route itself."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from ninja import Schema
from ninja.security import SessionAuth

from tagcloud.web.accounts.scope import RegionScope, scope_for_user


def require(*perms: str, any_of: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the view needs a logged-in user (anonymous: redirect to the login page) holding every
    ``accounts.<perm>`` of ``perms`` and, when ``any_of`` is given, at least one of those; else 403.
    ``require()`` declares "any logged-in user"."""

    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def inner(request: Any, *args: Any, **kwargs: Any) -> Any:
            missing = [p for p in perms if not request.user.has_perm(f"accounts.{p}")]
            if missing:
                raise PermissionDenied(f"role lacks permission {', '.join(missing)}")
            if any_of and not any(request.user.has_perm(f"accounts.{p}") for p in any_of):
                raise PermissionDenied(f"role lacks permission {' or '.join(any_of)}")
            return view(request, *args, **kwargs)

        # Read by the authorization matrix; functools.wraps copies them onto outer decorators.
        inner.required_permissions = perms  # type: ignore[attr-defined]
        inner.any_of_permissions = any_of  # type: ignore[attr-defined]
        return login_required(inner)

    return wrap


def declared_permissions(view: Any) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """What a page view declared with :func:`require`: (all of, any of); None when it declares nothing."""
    if not hasattr(view, "required_permissions"):
        return None
    return tuple(view.required_permissions), tuple(getattr(view, "any_of_permissions", ()))


class Needs(SessionAuth):
    """The API's counterpart of :func:`require`: django-ninja session authentication (CSRF checked on
    writes) that also demands every ``accounts.<perm>``. Anonymous → 401; lacking a permission → 403
    (PermissionDenied, answered by the API's handler). Routes declare it with ``auth=Needs(...)``; the
    API's default ``Needs()`` declares "any logged-in user". The matrix reads ``permissions``."""

    def __init__(self, *perms: str) -> None:
        super().__init__()
        self.permissions: tuple[str, ...] = perms

    def authenticate(self, request: Any, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None:
            return None
        missing = [p for p in self.permissions if not user.has_perm(f"accounts.{p}")]
        if missing:
            raise PermissionDenied(f"role lacks permission {', '.join(missing)}")
        return user


class Refusal(Schema):
    detail: str


class RequestProblem(Schema):
    """django-ninja's answer to a request that does not fit the schema (422)."""

    detail: list[dict[str, Any]]


def answers(ok: Any) -> dict[int, Any]:
    """An API route's documented answers: its own (``{status: schema}`` or one 200 schema) plus the
    refusals every route can give before its body runs — 400 a body that is not JSON, 401 not logged
    in, 403 a permission or the CSRF token missing, 422 a request outside the schema (a route's own
    422 schema is kept beside it)."""
    own = dict(ok) if isinstance(ok, dict) else {200: ok}
    out: dict[int, Any] = {400: Refusal, 401: Refusal, 403: Refusal, **own}
    out[422] = own[422] | RequestProblem if 422 in own else RequestProblem
    return out


def scope(request: Any) -> RegionScope:
    """The region scope of the request's user, computed once per request."""
    cached = getattr(request, "_tagcloud_scope", None)
    if cached is None:
        cached = scope_for_user(request.user)
        request._tagcloud_scope = cached
    return cached
