from __future__ import annotations

from typing import Any

from django.contrib import admin

from tagcloud.web.taglib.models import TagChangeProposal, TagVersion


@admin.register(TagChangeProposal)
class TagChangeProposalAdmin(admin.ModelAdmin):
    list_display = ("tag", "status", "proposer", "reviewer", "created_at", "reviewed_at")
    list_filter = ("status",)
    search_fields = ("tag", "reason")


@admin.register(TagVersion)
class TagVersionAdmin(admin.ModelAdmin):
    # Versions are written by load-tags and approvals (with the warehouse override): read-only here.
    list_display = ("tag", "version", "status", "origin", "date", "by")
    list_filter = ("status", "origin")
    search_fields = ("tag", "change")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
