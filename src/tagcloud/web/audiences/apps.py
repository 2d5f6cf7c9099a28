from __future__ import annotations

from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "tagcloud.web.audiences"
    label = "audiences"
    verbose_name = "目标客户群 · Audiences"
