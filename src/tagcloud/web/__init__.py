"""The marketers' web platform: a Django project (settings, accounts, roles, region scoping,
reference data, pages and the REST API). Domain logic lives in the other packages; views and API
routes only parse, call the domain and render."""

from __future__ import annotations

import os

SETTINGS_MODULE = "tagcloud.web.settings"


def setup_django() -> None:
    """Configure Django with Tagcloud's settings (idempotent); call before touching models."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
