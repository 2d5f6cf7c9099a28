from __future__ import annotations

from django.apps import AppConfig


class ReferenceConfig(AppConfig):
    name = "tagcloud.web.reference"
    label = "reference"
    verbose_name = "参考数据 · Reference data"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from tagcloud.web.accounts.scope import forget_parent_map
        from tagcloud.web.reference.models import Region

        post_save.connect(forget_parent_map, sender=Region, dispatch_uid="scope-parents-save")
        post_delete.connect(forget_parent_map, sender=Region, dispatch_uid="scope-parents-delete")
