from __future__ import annotations

from django.contrib import admin

from tagcloud.web.reference.models import Cell, Channel, Product, Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("region_id", "name", "name_en", "level", "parent", "is_urban")
    list_filter = ("level", "is_urban")
    search_fields = ("region_id", "name", "name_en")
    autocomplete_fields = ("parent",)


@admin.register(Cell)
class CellAdmin(admin.ModelAdmin):
    list_display = ("cell_id", "rat", "township", "area_type", "site_name")
    list_filter = ("rat", "area_type")
    search_fields = ("cell_id", "site_name", "township__name")
    autocomplete_fields = ("township",)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("product_id", "name", "kind", "monthly_fee", "requires_5g", "launched")
    list_filter = ("kind", "requires_5g")
    search_fields = ("product_id", "name", "name_en")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "active")
    list_filter = ("active",)
