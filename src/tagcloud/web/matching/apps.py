from __future__ import annotations

from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "tagcloud.web.matching"
    label = "matching"
    verbose_name = "客户-业务-渠道匹配库 · Matching library"
