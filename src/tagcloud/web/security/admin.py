"""Unlocking from the admin: an action on django-axes' failed-login records, audited."""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from tagcloud.web.security.lockout import unlock
from tagcloud.web.security.models import PasswordChange

if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    """Failed logins per account and address; select rows and "unlock" to clear them."""

    actions = ["unlock_selected"]

    @admin.action(description=_("解除所选账号与地址的登录锁定"), permissions=["delete"])
    def unlock_selected(self, request: Any, queryset: Any) -> None:
        n = 0
        for username, ip in set(queryset.values_list("username", "ip_address")):
            n += unlock(request, by=request.user.get_username(), username=username or None, ip_address=ip)
        self.message_user(request, _("已解除锁定 (%(n)d 条失败记录已清除)。") % {"n": n}, messages.SUCCESS)


@admin.register(PasswordChange)
class PasswordChangeAdmin(admin.ModelAdmin):
    """When each user changed their password (hashes are not shown)."""

    list_display = ("user", "at")
    exclude = ("password",)
    readonly_fields = ("user", "at")

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
