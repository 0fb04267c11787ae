"""The optional staff JSON API: ``path("api/admin/", include("sessionadmin.api.urls"))``."""
