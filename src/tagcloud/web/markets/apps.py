from __future__ import annotations

from django.apps import AppConfig


class MarketsConfig(AppConfig):
    name = "tagcloud.web.markets"
    label = "markets"
    verbose_name = "区域市场 · Regional markets"
