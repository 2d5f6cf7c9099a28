"""URL map: pages, the admin, the API and Django's language switch."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from tagcloud.web.api import api
from tagcloud.web.views import audience, customer, home, tags

urlpatterns = [
    path("", home.home, name="home"),
    path("tags/", tags.library_page, name="tags"),
    path("tags/<str:name>/", tags.tag_page, name="tag"),
    path("tags/<str:name>/propose/", tags.propose, name="tag-propose"),
    path("proposals/<int:pk>/review/", tags.review, name="tag-review"),
    path("audience/", audience.builder, name="audience"),
    path("audience/row/", audience.add_row, name="audience-row"),
    path("audience/count/", audience.count, name="audience-count"),
    path("audience/profile/", audience.profile, name="audience-profile"),
    path("audience/save/", audience.save, name="audience-save"),
    path("audience/split/", audience.split, name="audience-split"),
    path("audience/control/", audience.control, name="audience-control"),
    path("audience/export/", audience.export, name="audience-export"),
    path("groups/", audience.groups, name="groups"),
    path("groups/combine/", audience.combine, name="groups-combine"),
    path("customer/", customer.customer, name="customer"),
    path("audit/", home.audit_log, name="audit"),
    path("campaigns/", include("tagcloud.web.campaigns.urls")),
    path("markets/", include("tagcloud.web.markets.urls")),
    path("alerts/", include("tagcloud.web.alerts.urls")),
    path("account/", include("tagcloud.web.security.urls")),
    path("jobs/", include("tagcloud.web.jobs.urls")),
    path("knowledge/", include("tagcloud.web.knowledge.urls")),
    path("matching/", include("tagcloud.web.matching.urls")),
    path("realtime/", include("tagcloud.web.realtime.urls")),
    path("login/", auth_views.LoginView.as_view(template_name="login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
