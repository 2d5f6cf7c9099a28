"""What every API router shares — the permission check and the scoped audience engine (503 when
there is no index yet) — below ``api`` so that routers in other apps need not import it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


class ServiceUnavailable(Exception):
    """No audience index yet (the API answers 503)."""


def need(request: HttpRequest, perm: str) -> None:
    """Refuse (403) unless the caller holds ``accounts.<perm>``."""
    if not request.user.has_perm(f"accounts.{perm}"):
        raise PermissionDenied(f"role lacks permission {perm}")


def engine(request: HttpRequest, unmask: bool = False) -> Any:
    """The caller's scoped audience engine; ``ServiceUnavailable`` without an index."""
    from tagcloud.web.engine import NoIndex, engine_for

    try:
        return engine_for(request, unmask=unmask)
    except NoIndex as e:
        raise ServiceUnavailable(str(e)) from None
