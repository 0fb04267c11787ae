"""``manage.py seed_demo``: demo users (and the shop's demo products); idempotent.

Passwords are generated, set only when the user is created, and printed once, and only
with DEBUG on: a production run creates nothing it would have to print.
"""

from __future__ import annotations

import secrets

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

DEMO_USERS = [
    {"username": "admin", "email": "admin@example.com", "is_staff": True, "is_superuser": True},
    {"username": "alice", "email": "alice@example.com", "is_staff": False, "is_superuser": False},
]


class Command(BaseCommand):
    help = "Create the demo users (DEBUG only); running it again changes nothing."

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo only runs with DEBUG on: it would print passwords.")
        model = get_user_model()
        for spec in DEMO_USERS:
            if model._default_manager.filter(username=spec["username"]).exists():
                self.stdout.write(f"{spec['username']}: already there (password unchanged)")
                continue
            password = secrets.token_urlsafe(12)
            model._default_manager.create_user(password=password, **spec)
            role = "superuser" if spec["is_superuser"] else "user"
            self.stdout.write(
                self.style.SUCCESS(f"{spec['username']} ({role}) password: {password}")
                + "  <- shown once; note it now"
            )
        if apps.is_installed("cart"):
            call_command("seed_products", stdout=self.stdout)
