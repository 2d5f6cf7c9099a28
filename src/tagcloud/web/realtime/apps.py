from __future__ import annotations

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "tagcloud.web.realtime"
    label = "realtime"
    verbose_name = "实时营销与触点 · Real-time marketing and touchpoints"
