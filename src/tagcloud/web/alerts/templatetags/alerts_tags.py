"""Template filters of the alert pages."""

from __future__ import annotations

from django import template
from django.utils.translation import get_language

from tagcloud.regions.kpi import KPI_BY_ID

register = template.Library()


@register.filter
def kpi_label(kpi_id: str) -> str:
    """A KPI's name in the page's language (the catalogue keeps both)."""
    k = KPI_BY_ID.get(kpi_id)
    if k is None:
        return kpi_id
    return k.name_en if (get_language() or "").startswith("en") else k.name
