from __future__ import annotations

from django.contrib import admin

from tagcloud.web.taglib.models import TagChangeProposal


@admin.register(TagChangeProposal)
class TagChangeProposalAdmin(admin.ModelAdmin):
    list_display = ("tag", "status", "proposer", "reviewer", "created_at", "reviewed_at")
    list_filter = ("status",)
    search_fields = ("tag", "reason")
