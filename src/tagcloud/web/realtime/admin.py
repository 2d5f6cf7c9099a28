"""API keys in the admin, for administrators holding ``manage_api_keys``: issue (the key is shown
once, in the confirmation message), rotate and revoke (actions); the hash is never shown."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from tagcloud.web.realtime.models import ApiKey, ApiKeyEvent


def _may(request: Any) -> bool:
    return bool(request.user.has_perm("accounts.manage_api_keys"))


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "key_id",
        "region",
        "channels",
        "created_at",
        "rotated_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = ("region",)
    search_fields = ("name", "key_id")
    fields = ("name", "channels", "region")
    actions = ("rotate", "revoke")

    def has_module_permission(self, request: Any) -> bool:
        return _may(request)

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return _may(request)

    def has_add_permission(self, request: Any) -> bool:
        return _may(request)

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return _may(request) and obj is None  # keys are rotated or revoked, not edited

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # revoked keys stay, with their history

    def save_model(self, request: Any, obj: ApiKey, form: Any, change: bool) -> None:
        key, text = ApiKey.issue(obj.name, list(obj.channels or []), obj.region, request.user)
        obj.pk, obj.key_id = key.pk, key.key_id
        messages.warning(request, _("密钥只显示这一次, 请立即复制: %(key)s") % {"key": text})

    @admin.action(description=_("轮换所选密钥"))
    def rotate(self, request: Any, queryset: Any) -> None:
        for key in queryset.filter(revoked_at=None):
            messages.warning(
                request,
                _("%(name)s 的新密钥 (只显示这一次): %(key)s")
                % {"name": key.name, "key": key.rotate(request.user)},
            )

    @admin.action(description=_("吊销所选密钥"))
    def revoke(self, request: Any, queryset: Any) -> None:
        for key in queryset:
            key.revoke(request.user)


@admin.register(ApiKeyEvent)
class ApiKeyEventAdmin(admin.ModelAdmin):
    list_display = ("at", "key", "action", "by")
    list_filter = ("action",)

    def has_module_permission(self, request: Any) -> bool:
        return _may(request)

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return _may(request)

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
