"""What ``request.user`` needs, cached beside the session: a signed-in read makes no query.

Django's AuthenticationMiddleware loads the user row on every request. Here the first
request of a session does that as usual (and verifies the session's auth hash), then keeps
a few of the user's fields (``SESSION_USER_CACHE_FIELDS``: by default the username and the
``is_*`` flags) in the session's own hash, field ``x``. It arrives with the session in the
request's one round trip, and ``request.user`` is built from it; the other fields are
deferred, so reading one costs a query, as for any deferred field.

Staying right:
- any save of the user (a cached field or the password; the profile, the admin, a
  command) replaces ``x`` in every session of that user with a tombstone, before the save
  (so with Redis down the save fails rather than leaving stale copies) and again after the
  commit (so a request that read the old row meanwhile cannot store it);
- a copy is stored only if ``x`` still holds what the request saw when it loaded the
  session (compare-and-set), only for the user and auth hash the session still has;
- the session's write script drops ``x`` when the session's user or auth hash changes.
The receivers (``auth.receivers``) match the user model and its proxies.
``QuerySet.update()`` sends no signals: after one that changes users, call
``forget_user(pk)``, as after any raw SQL.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from functools import cache
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, transaction
from django.dispatch import receiver

from sessionadmin.backends.redis import SessionStore
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.store import keys
from sessionadmin.store.client import run_script
from sessionadmin.store.codec import AUTH_HASH_KEY

logger = logging.getLogger("sessionadmin")
MAX_BLOB = 64  # bytes: longer would turn the session's hash from a listpack into a table
_SIMPLE = (str, bool, int, type(None))


@cache
def cached_fields() -> tuple[str, ...]:
    """The attribute names kept in the cache, in order (those the user model has)."""
    model = get_user_model()
    wanted = getattr(
        settings,
        "SESSION_USER_CACHE_FIELDS",
        (model.USERNAME_FIELD, "is_active", "is_staff", "is_superuser"),
    )
    # In the model's field order: Model.from_db() fills deferred fields by that order.
    return tuple(
        f.attname
        for f in model._meta.concrete_fields
        if f.name in wanted and not f.primary_key and f.name != "password"
    )


def encode(user: AbstractBaseUser) -> bytes | None:
    """Return the cached form of ``user``, or None if it cannot be kept (too long...)."""
    values = [getattr(user, name) for name in cached_fields()]
    if not all(isinstance(v, _SIMPLE) for v in values):
        return None
    blob = orjson.dumps(values)
    return blob if len(blob) <= MAX_BLOB else None


def decode(blob: bytes, user_id: str) -> AbstractBaseUser | None:
    """Build the user from a cached copy (other fields deferred); None if it is not one."""
    if not blob or blob.startswith(b"-"):
        return None
    try:
        values = orjson.loads(blob)
    except orjson.JSONDecodeError:
        return None
    model, pk, field_names, pk_position = _shape()
    if not isinstance(values, list) or len(values) != len(field_names) - 1:
        return None
    try:
        pk_value = pk.to_python(user_id)
    except ValidationError:  # a malformed id is a miss, never a 500
        return None
    values.insert(pk_position, pk_value)
    return model.from_db(DEFAULT_DB_ALIAS, field_names, values)


@cache
def _shape() -> tuple[type[AbstractBaseUser], Any, list[str], int]:
    """The model, its pk field, the loaded fields and where the pk is among them.

    Model.from_db() takes values in the order of the model's concrete fields, and the
    primary key is not always first: a custom user model that declares its own ``id``
    (a UUID, say) has it after AbstractUser's fields. Looked up once: this runs on every
    signed-in request.
    """
    model = get_user_model()
    pk = model._meta.pk
    wanted = {pk.attname, *cached_fields()}
    names = [f.attname for f in model._meta.concrete_fields if f.attname in wanted]
    return model, pk, names, names.index(pk.attname)


def fill(session: SessionStore, user: AbstractBaseUser) -> None:
    """Keep ``user`` beside the session if nothing changed since the session was loaded."""
    blob = encode(user)
    auth_hash = session.get(AUTH_HASH_KEY, "")
    if blob is None or session.session_key is None or len(auth_hash) != 64:
        return
    script_keys, args = fill_call(session.session_id, user, blob, session.cached_user, auth_hash)
    with suppress(SessionStoreUnavailable):  # only a cache: the next request fills it
        run_script("USER_FILL", script_keys, args)


def fill_call(
    sid: str, user: AbstractBaseUser, blob: bytes, seen: bytes, auth_hash: str
) -> tuple[list[str], list[Any]]:
    """The USER_FILL script's keys and arguments (bench/memory.py pipelines them)."""
    return [keys.session_key_name(sid)], [str(user.pk), seen, blob, bytes.fromhex(auth_hash)]


def forget_user(user_id: object) -> None:
    """Invalidate every cached copy of this user (raises SessionStoreUnavailable)."""
    run_script("USER_FORGET", [], [keys.prefix(), str(user_id)])


def _matters(update_fields: frozenset[str] | None) -> bool:
    if update_fields is None:
        return True
    return bool(update_fields & {*cached_fields(), "password"})


def before_user_save(instance: AbstractBaseUser, update_fields=None, **kwargs: Any) -> None:
    # Before the row changes: with Redis down, the save fails instead of leaving copies
    # that nothing would invalidate later (a password change must end old sessions).
    if instance.pk is not None and _matters(update_fields):
        forget_user(instance.pk)


def after_user_change(instance: AbstractBaseUser, update_fields=None, **kwargs: Any) -> None:
    # After the commit: a request that read the old row meanwhile cannot store it now.
    if instance.pk is None or not _matters(update_fields):
        return
    pk = instance.pk

    def forget() -> None:
        try:
            forget_user(pk)
        except SessionStoreUnavailable:
            logger.error("could not invalidate cached copies of user %s", pk)

    transaction.on_commit(forget)


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    if setting in {"SESSION_USER_CACHE_FIELDS", "AUTH_USER_MODEL"}:
        cached_fields.cache_clear()
        _shape.cache_clear()
