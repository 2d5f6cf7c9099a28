"""Reference data the administrators maintain in the Django admin: the region hierarchy, cells,
products and channels. Loaded from the warehouse (``tagcloud web load-reference``), then edited."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.TextChoices):
    """Levels of the hierarchy, top down (code table ``region_level``)."""

    PROVINCE = "province", _("省")
    CITY = "city", _("地市")
    COUNTY = "county", _("区县")
    TOWNSHIP = "township", _("乡镇/片区")


# Level codes top down (plain strings: what the warehouse and the scope code compare against).
LEVEL_ORDER: list[str] = ["province", "city", "county", "township"]


class Region(models.Model):
    """One node of province → city → county → township / district (区域层级)."""

    region_id = models.CharField(_("区域代码"), max_length=20, primary_key=True)
    name = models.CharField(_("名称"), max_length=100)
    name_en = models.CharField(_("英文名称"), max_length=100, blank=True)
    level = models.CharField(_("层级"), max_length=10, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级区域"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    is_urban = models.BooleanField(_("城区"), null=True, blank=True)

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        ordering = ["region_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.region_id})"


class Cell(models.Model):
    """A radio cell and its place in the hierarchy (基站小区)."""

    cell_id = models.CharField(_("小区标识"), max_length=32, primary_key=True)
    lat = models.FloatField(_("纬度"))
    lon = models.FloatField(_("经度"))
    rat = models.CharField(_("制式"), max_length=4)
    township = models.ForeignKey(
        Region, verbose_name=_("乡镇/片区"), on_delete=models.PROTECT, related_name="cells"
    )
    area_type = models.CharField(_("区域类型"), max_length=32)
    site_id = models.CharField(_("站点"), max_length=64, blank=True)
    site_name = models.CharField(_("站点名称"), max_length=100, blank=True)
    opened = models.DateField(_("开通日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("基站小区")
        verbose_name_plural = _("基站小区")
        ordering = ["cell_id"]

    def __str__(self) -> str:
        return self.cell_id


class Product(models.Model):
    """An entry of the product catalogue (产品目录)."""

    product_id = models.CharField(_("产品代码"), max_length=32, primary_key=True)
    name = models.CharField(_("名称"), max_length=100)
    name_en = models.CharField(_("英文名称"), max_length=100, blank=True)
    kind = models.CharField(_("类别"), max_length=20)
    monthly_fee = models.DecimalField(_("月费(元)"), max_digits=10, decimal_places=2, null=True, blank=True)
    data_mb = models.IntegerField(_("包含流量(MB)"), null=True, blank=True)
    voice_min = models.IntegerField(_("包含语音(分钟)"), null=True, blank=True)
    requires_5g = models.BooleanField(_("需5G终端"), null=True, blank=True)
    launched = models.DateField(_("上线日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("产品")
        verbose_name_plural = _("产品")
        ordering = ["product_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.product_id})"


class Channel(models.Model):
    """A sales or service channel (渠道), from the ``channel`` code table."""

    code = models.CharField(_("渠道代码"), max_length=20, primary_key=True)
    name = models.CharField(_("名称"), max_length=100)
    name_en = models.CharField(_("英文名称"), max_length=100, blank=True)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("渠道")
        verbose_name_plural = _("渠道")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name
