from django.contrib import admin
from django.urls import include, path, re_path

from sessionadmin.exporter import metrics_view
from sessionsite import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("session/clear/", views.clear_session, name="clear-session"),
    path("healthz", api.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/csrf", api.csrf, name="api-csrf"),
    path("api/session", api.session, name="api-session"),
    path("api/session/keepalive", api.keepalive, name="api-keepalive"),
    path("", include("accounts.urls")),
    path("", include("cart.urls")),
    path("api/admin/", include("sessionadmin.api.urls")),
    path("admin/", admin.site.urls),
    # Last: any other /api/ path answers 404 in the API's shape, DEBUG or not.
    re_path(r"^api/(?P<path>.*)$", api.not_found),
]

handler400 = "sessionsite.views.bad_request"
handler403 = "sessionsite.views.permission_denied"
handler404 = "sessionsite.views.page_not_found"
handler500 = "sessionsite.views.server_error"
