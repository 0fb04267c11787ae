"""A user made inactive loses every session at once."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from django.dispatch import receiver

from sessionadmin import services as sessions


@receiver(post_save, sender=get_user_model())
def end_sessions_of_inactive_users(sender, instance, created: bool, **kwargs) -> None:
    if not created and not instance.is_active:
        sessions.revoke_user_sessions(instance.pk)
