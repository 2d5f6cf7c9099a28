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

        from django.contrib.auth.models import Group, User
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from tagcloud.web.accounts.backends import forget_permissions
        from tagcloud.web.accounts.models import Profile

        # A changed role (group permissions), membership or profile must not wait for the TTL here.
        for model in (Profile, Group, User):
            post_save.connect(forget_permissions, sender=model, dispatch_uid=f"perms-{model.__name__}")
            post_delete.connect(forget_permissions, sender=model, dispatch_uid=f"perms-del-{model.__name__}")
        m2m_changed.connect(forget_permissions, sender=Group.permissions.through, dispatch_uid="perms-group")
        m2m_changed.connect(forget_permissions, sender=User.groups.through, dispatch_uid="perms-user-groups")
        m2m_changed.connect(
            forget_permissions, sender=User.user_permissions.through, dispatch_uid="perms-user-perms"
        )
