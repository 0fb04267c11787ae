"""A user built from the copy cached beside the session, then saved: what it writes back.

The copy (``usercache``) may be up to ``SESSION_USER_CACHE_MAX_AGE`` old, and a change no
signal reports (``QuerySet.update()``, raw SQL, another service) is not in it. Django's
``save()`` writes every loaded field, so ``request.user.save()`` (Django's password change
view, a profile form) would write those old values back and undo the change for good: a
demotion, a deactivation. So, just before such a save, each cached field the code has not
changed since the copy was read is read again from the database; a field it changed
keeps its new value. One query, on a save only: a read never pays for it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

_READ = "_sessionadmin_copy_values"  # the cached fields' values as the copy gave them
_MISSING = object()


def remember(user: AbstractBaseUser, values: list[Any]) -> None:
    """Note the values ``user`` was built with (usercache.decode, in cached_fields order)."""
    user.__dict__[_READ] = tuple(values)


def before_save(
    instance: AbstractBaseUser, names: tuple[str, ...], update_fields: Any, using: str | None
) -> None:
    """Read again the cached fields (``names``) this save would write and the code left
    as the copy gave them."""
    read = instance.__dict__.pop(_READ, None)
    if read is None or instance.pk is None:
        return
    stale = [
        name
        for name, value in zip(names, read, strict=True)
        if instance.__dict__.get(name, _MISSING) == value
        and (
            update_fields is None
            or name in update_fields
            or _field_name(instance, name) in update_fields
        )
    ]
    if not stale:
        return
    manager = type(instance)._base_manager.using(using or instance._state.db)
    row = manager.filter(pk=instance.pk).values(*stale).first()
    if row is not None:  # gone: the save decides, as for any user read earlier
        instance.__dict__.update(row)


def _field_name(instance: AbstractBaseUser, attname: str) -> str:
    # update_fields may name a foreign key by its field ("team") or its column ("team_id").
    for field in instance._meta.concrete_fields:
        if field.attname == attname:
            return field.name
    return attname
