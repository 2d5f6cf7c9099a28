"""营销快点吧 URLs, included under ``/knowledge/`` by the project's URL map."""

from __future__ import annotations

from django.urls import path

from tagcloud.web.knowledge import views

urlpatterns = [
    path("", views.home, name="knowledge"),
    path("new/", views.new, name="knowledge-new"),
    path("customer/", views.customer, name="knowledge-customer"),
    path("<int:pk>/", views.point_page, name="knowledge-point"),
    path("<int:pk>/edit/", views.edit, name="knowledge-edit"),
    path("<int:pk>/diff/", views.diff, name="knowledge-diff"),
    path("<int:pk>/revert/<int:version>/", views.revert, name="knowledge-revert"),
    path("<int:pk>/rate/", views.rate, name="knowledge-rate"),
    path("<int:pk>/comment/", views.comment, name="knowledge-comment"),
    path("<int:pk>/follow/", views.follow, name="knowledge-follow"),
    path("<int:pk>/verify/", views.verify, name="knowledge-verify"),
    path("<int:pk>/products/", views.products, name="knowledge-products"),
    path("<int:pk>/extract/", views.extract, name="knowledge-extract"),
    path("<int:pk>/campaign/", views.start_campaign, name="knowledge-campaign"),
]
