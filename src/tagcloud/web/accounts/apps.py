from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "tagcloud.web.accounts"
    label = "accounts"
    verbose_name = "账号与权限 · Accounts and roles"

    def ready(self) -> None:
        from tagcloud.web.accounts.roles import ensure_roles

        # Roles need the permissions, which Django creates in its own post_migrate handler.
        post_migrate.connect(lambda sender, **kw: ensure_roles(), sender=self, weak=False)
