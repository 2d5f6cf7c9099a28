from __future__ import annotations

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "tagcloud.web.alerts"
    label = "alerts"
    verbose_name = "异动预警 · KPI alerts"
