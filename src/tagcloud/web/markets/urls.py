"""Regional markets' URLs, included under ``/markets/``."""

from __future__ import annotations

from django.urls import path

from tagcloud.web.markets import views

urlpatterns = [
    path("", views.index, name="markets"),
    path("competition/", views.competition_feed, name="markets-competition-feed"),
    path("competition/new/", views.competition_new, name="markets-competition-new"),
    path("competition/<int:pk>/", views.competition_detail, name="markets-competition"),
    path("competition/<int:pk>/act/", views.competition_act, name="markets-competition-act"),
    path("competition/<int:pk>/reply/", views.competition_reply, name="markets-competition-reply"),
    path("competition/<int:pk>/files/<int:aid>/", views.competition_file, name="markets-competition-file"),
    path("hotareas/", views.hotarea_list, name="markets-hotareas"),
    path("hotareas/save/", views.hotarea_save, name="markets-hotarea-save"),
    path("hotareas/<int:pk>/", views.hotarea_detail, name="markets-hotarea"),
    path("hotareas/<int:pk>/group/", views.hotarea_group, name="markets-hotarea-group"),
    path("hotareas/<int:pk>/export/", views.hotarea_export, name="markets-hotarea-export"),
    path("rural/", views.rural_index, name="markets-rural"),
    path("rural/import/", views.rural_import, name="markets-rural-import"),
    path("rural/<str:township_id>/", views.rural_township, name="markets-township"),
    path("special/", views.special, name="markets-special"),
    path("cells/", views.cells_index, name="markets-cells"),
    path("cells/detect/", views.cells_detect, name="markets-cells-detect"),
    path("cells/<int:pk>/classify/", views.cells_classify, name="markets-cells-classify"),
    path("cells/<int:pk>/review/", views.cells_review, name="markets-cells-review"),
    path("messages/<int:pk>/read/", views.message_read, name="markets-message-read"),
]
