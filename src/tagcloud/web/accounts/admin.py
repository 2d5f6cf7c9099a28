from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from tagcloud.web.accounts.models import AuditEvent, Profile, Role


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "scope_level", "group")
    readonly_fields = ("code",)


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    autocomplete_fields = ("region",)


admin.site.unregister(User)


@admin.register(User)
class TagcloudUserAdmin(UserAdmin):
    inlines = (ProfileInline,)
    list_display = ("username", "first_name", "is_active", "is_staff", "profile")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log is evidence: administrators browse and filter it but never edit or delete it."""

    list_display = ("at", "username", "role", "action", "target", "rows", "ip")
    list_filter = ("action", "role", "at")
    search_fields = ("username", "target")
    date_hierarchy = "at"

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


admin.site.site_header = "Tagcloud 标签云 · 管理"
admin.site.site_title = "Tagcloud"
