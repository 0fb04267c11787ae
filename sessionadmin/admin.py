"""The "Active sessions" entry on the admin index, leading to the dashboard."""

from django.contrib import admin
from django.shortcuts import redirect

from sessionadmin.models import ActiveSession


@admin.register(ActiveSession)
class ActiveSessionAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        return redirect("sessionadmin-dashboard")
