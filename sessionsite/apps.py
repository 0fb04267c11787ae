from __future__ import annotations

import logging
import sys

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("sessionsite")


class SiteConfig(AppConfig):
    """The project as an app: its ``embedded_redis`` command and its development Redis."""

    name = "sessionsite"
    verbose_name = "Site"

    def ready(self) -> None:
        directory = getattr(settings, "EMBEDDED_REDIS_DIR", None)
        # A development convenience of this site, not of the reusable app: with REDIS_URL
        # unset, any manage.py command or server finds its Redis running.
        # `embedded_redis stop|status` must not start the server it is asked about.
        if directory is not None and sys.argv[1:2] != ["embedded_redis"]:
            from sessionsite.embedded import EmbeddedRedis

            try:
                EmbeddedRedis(directory).start()
            except (OSError, RuntimeError) as exc:
                # Requests will answer 503 until a Redis is there; say why once.
                logger.error("could not start the embedded Redis: %s", exc)
