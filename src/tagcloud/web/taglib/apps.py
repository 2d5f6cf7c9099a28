from __future__ import annotations

from django.apps import AppConfig


class TaglibConfig(AppConfig):
    name = "tagcloud.web.taglib"
    label = "taglib"
    verbose_name = "标签库 · Tag library"
