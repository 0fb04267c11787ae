from __future__ import annotations

import logging
import sys

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("sessionadmin")


class SessionAdminConfig(AppConfig):
    name = "sessionadmin"
    verbose_name = "Sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models import signals

        from sessionadmin import (
            checks,  # noqa: F401 - registers the system checks
            usercache,
        )

        # A change of a user row invalidates the copies cached beside its sessions.
        user_model = get_user_model()
        signals.pre_save.connect(usercache.before_user_save, sender=user_model)
        signals.pre_delete.connect(usercache.before_user_save, sender=user_model)
        signals.post_save.connect(usercache.after_user_change, sender=user_model)
        signals.post_delete.connect(usercache.after_user_change, sender=user_model)

        directory = getattr(settings, "EMBEDDED_REDIS_DIR", None)
        # `embedded_redis stop|status` must not start the server it is asked about.
        if directory is not None and sys.argv[1:2] != ["embedded_redis"]:
            from sessionadmin.embedded import EmbeddedRedis

            try:
                EmbeddedRedis(directory).start()
            except (OSError, RuntimeError) as exc:
                # Requests will answer 503 until a Redis is there; say why once.
                logger.error("could not start the embedded Redis: %s", exc)
