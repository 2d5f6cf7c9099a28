from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "tagcloud.web.security"
    label = "security"
    verbose_name = _("安全")

    def ready(self) -> None:
        from tagcloud.web.security import signals  # noqa: F401  (connects the audit receivers)

        post_migrate.connect(_administrators_unlock, sender=self, dispatch_uid="tagcloud-unlock-perms")


def _administrators_unlock(sender: Any, **kw: Any) -> None:
    """Roles that maintain accounts (province administrators) may see and clear login lockouts in
    the admin. Runs after django-axes' permissions exist (this app migrates after it)."""
    from django.contrib.auth.models import Permission

    from tagcloud.web.accounts.models import Role
    from tagcloud.web.accounts.roles import ROLE_BY_CODE

    perms = list(
        Permission.objects.filter(
            content_type__app_label="axes",
            codename__in=["view_accessattempt", "delete_accessattempt", "view_accesslog"],
        )
    )
    for role in Role.objects.select_related("group"):
        d = ROLE_BY_CODE.get(role.code)
        if d is not None and d.maintains_reference:
            role.group.permissions.add(*perms)
