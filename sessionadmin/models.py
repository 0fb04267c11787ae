"""Permissions for the sessions dashboard, on a model with no table.

Sessions live in Redis, not the database; ``ActiveSession`` exists so that "view" and
"revoke" are ordinary Django permissions (implicit for superusers, assignable to staff
and groups) and so that the dashboard has an entry on the admin index.
"""

from django.db import models


class ActiveSession(models.Model):
    class Meta:
        managed = False  # no table: the data is in Redis
        default_permissions = ("view",)
        permissions = [("revoke_activesession", "Can revoke active sessions")]
        verbose_name = "active session"
        verbose_name_plural = "active sessions"

    def __str__(self) -> str:
        return "active session"


VIEW_PERMISSION = "sessionadmin.view_activesession"
REVOKE_PERMISSION = "sessionadmin.revoke_activesession"
