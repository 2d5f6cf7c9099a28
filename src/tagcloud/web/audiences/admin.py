from __future__ import annotations

from django.contrib import admin

from tagcloud.web.audiences.models import SavedGroup


@admin.register(SavedGroup)
class SavedGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "members", "owner", "region", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "condition")
