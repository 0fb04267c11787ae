"""The "Active sessions" entry of the admin: the dashboard, served from its ModelAdmin.

Its pages are this ModelAdmin's own URLs (``get_urls()``, as Django's UserAdmin adds its
password page), wrapped in ``admin_view()``: they live under whatever prefix the project
mounts its admin at, need an active staff account, and each checks its permission. A
project with its own AdminSite registers ``ActiveSession`` there with this class.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, path
from django.views.decorators.http import require_http_methods

from sessionadmin.admin import events, views
from sessionadmin.models import ActiveSession


@admin.register(ActiveSession)
class ActiveSessionAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        page = self.admin_site.admin_view
        both = require_http_methods(["GET", "POST"])

        def bind(view):  # the view, with this ModelAdmin as its first argument
            return lambda request, *args, **kwargs: view(self, request, *args, **kwargs)

        return [
            path("", page(bind(views.dashboard)), name=f"{name}_changelist"),
            path("revoke/", page(both(bind(views.revoke_sessions))), name=f"{name}_revoke"),
            path("events/", page(bind(events.recent_events)), name=f"{name}_events"),
            path(
                "events/log/<int:entry_id>/",
                page(bind(events.log_entry)),
                name=f"{name}_log_entry",
            ),
            path(
                "user/<str:user_id>/revoke/",
                page(both(bind(views.revoke_user))),
                name=f"{name}_revoke_user",
            ),
        ]
