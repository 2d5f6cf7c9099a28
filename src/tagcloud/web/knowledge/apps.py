from __future__ import annotations

from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "tagcloud.web.knowledge"
    label = "knowledge"
    verbose_name = "营销快点吧 · Knowledge wiki"
