from __future__ import annotations

from django.apps import AppConfig


class SessionAdminConfig(AppConfig):
    name = "sessionadmin"
    verbose_name = "Sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
        from django.core.signals import got_request_exception
        from django.db.models import signals

        from sessionadmin import (
            checks,  # noqa: F401 - registers the system checks
            errors,
        )
        from sessionadmin.auth import receivers

        # No sender: the receivers match the user model and its proxies themselves.
        uid = "sessionadmin.auth.receivers"
        user_logged_in.connect(receivers.on_login, dispatch_uid=f"{uid}.on_login")
        # Django's update_last_login (connected by django.contrib.auth, listed first) is
        # moved after ours, so a sign-in ours refuses (a bearer request's) records nothing.
        if user_logged_in.disconnect(dispatch_uid="update_last_login"):
            user_logged_in.connect(update_last_login, dispatch_uid="update_last_login")
        user_login_failed.connect(receivers.on_login_failed, dispatch_uid=f"{uid}.failed")
        user_logged_out.connect(receivers.on_logout, dispatch_uid=f"{uid}.on_logout")
        got_request_exception.connect(
            errors.note_store_failure, dispatch_uid="sessionadmin.errors.note_store_failure"
        )
        signals.pre_save.connect(receivers.before_user_change, dispatch_uid=f"{uid}.pre_save")
        signals.pre_delete.connect(receivers.before_user_change, dispatch_uid=f"{uid}.pre_delete")
        signals.post_save.connect(receivers.after_user_save, dispatch_uid=f"{uid}.post_save")
        signals.post_delete.connect(receivers.after_user_delete, dispatch_uid=f"{uid}.post_delete")
