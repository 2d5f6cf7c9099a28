"""WSGI entry point: ``tagcloud serve`` runs it; a deployment points its server at ``application``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagcloud.web.settings")
application = get_wsgi_application()
