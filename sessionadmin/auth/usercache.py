"""What ``request.user`` needs, cached beside the session: a signed-in read makes no query.

Django's AuthenticationMiddleware loads the user row on every request. Here the first
request of a session does that as usual (and verifies the session's auth hash), then keeps
a few of the user's fields (``SESSION_USER_CACHE_FIELDS``: by default the username, the email
and the ``is_*`` flags) in the session's own hash, fields ``x`` and ``x1`` (parts of 63
and 64 bytes: a longer value would turn the hash from a listpack into a table). It arrives with
the session in the request's one round trip, and ``request.user`` is built from it; the
other fields are deferred, so reading one costs a query, as for any deferred field.

A copy is ``<generation>.<made at, base 36 seconds>.<schema digest>`` then the JSON
values (booleans as 0 and 1), and it is used only while it is there and both of these still hold:

- **there**: every change of the user the app can see drops the copy from each of the
  user's sessions (``forget_user``, one script over the user's set of sessions, in the
  user's shard), before the save (with Redis down the save then fails rather than leaving
  stale copies) and after the commit (a request that read the old row meanwhile cannot
  store it). It also bumps a per-user counter, the generation (``keys.user_generation``),
  and storing a copy is compare-and-set on it: a request that finds no copy reads the
  generation before it loads the user, so a copy read before a change is never stored
  after it. The session's read does not read the generation (backends/reading.py);
- **age**: a copy older than ``SESSION_USER_CACHE_MAX_AGE`` (60 s) is a miss, so a change
  no signal reports (``QuerySet.update()``, raw SQL, another service, a restored backup)
  is seen within that time: the user is then loaded and verified as Django does
  (``SECRET_KEY_FALLBACKS`` upgrade included);
- **schema**: a digest of the model and the cached field list, so a changed
  ``SESSION_USER_CACHE_FIELDS`` never maps old values onto new fields.

The session's write script also drops ``x`` when the session's user or auth hash changes.
The receivers (``auth.receivers``) match the user model and its proxies; after a
``QuerySet.update()`` of users, ``forget_user(pk)`` makes the change immediate.
"""

from __future__ import annotations

import hashlib
import logging
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.dispatch import receiver

from sessionadmin.auth import freshen
from sessionadmin.auth.users import user_key
from sessionadmin.backends.redis import SessionStore
from sessionadmin.conf import get_settings
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.store import keys
from sessionadmin.store.client import redis_client, redis_errors, run_script
from sessionadmin.store.codec import AUTH_HASH_KEY

logger = logging.getLogger("sessionadmin")
MAX_VALUE = 127  # bytes: two hash values, of 63 and 64 (x, x1; user_fill.lua), a listpack's
MAX_HEADER = 16  # generation, time and digest before the values
MAX_BLOB = MAX_VALUE - MAX_HEADER  # the JSON values
_SIMPLE = (str, bool, int, type(None))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DJANGOS_HASH = AbstractBaseUser.get_session_auth_hash


@cache
def cached_fields() -> tuple[str, ...]:
    """The attribute names kept in the cache, in order (those the user model has)."""
    model = get_user_model()
    default = (model.USERNAME_FIELD, model.get_email_field_name(), "is_active", "is_staff")
    wanted = getattr(settings, "SESSION_USER_CACHE_FIELDS", (*default, "is_superuser"))
    # In the model's field order: Model.from_db() fills deferred fields by that order.
    return tuple(
        f.attname
        for f in model._meta.concrete_fields
        if f.name in wanted and not f.primary_key and f.name != "password"
    )


@cache
def schema_digest() -> str:
    """Return 4 hex digits naming the user model and the cached fields, in order."""
    model = get_user_model()
    # "2:": copies made before a user's change dropped them from the sessions (when every
    # read checked the generation instead) are never used: nothing dropped them. "3:":
    # booleans kept as 0/1, no longer true/false (a copy of before is a miss, made again).
    shape = f"3:{model._meta.label_lower}:{','.join(cached_fields())}"
    return hashlib.sha256(shape.encode()).hexdigest()[:4]


def max_age() -> int:
    """Seconds a copy may be used before the user is loaded and verified again."""
    return get_settings().user_cache_max_age


def encode(user: AbstractBaseUser) -> bytes | None:
    """Return the cached values of ``user``, or None if they cannot be kept (too long...).

    An aware datetime (``date_joined``, ``last_login``) is kept as whole microseconds since
    the epoch, exactly: a save() of the user built from the copy writes it back unchanged.
    """
    values = [getattr(user, name) for name in cached_fields()]
    for i, (value, (kind, _)) in enumerate(zip(values, _kinds(), strict=True)):
        if kind is bool and type(value) is bool:
            values[i] = int(value)  # 0/1: 3 to 4 bytes less than true/false in each session
        elif isinstance(value, datetime) and value.utcoffset() is not None:
            values[i] = (value - _EPOCH) // timedelta(microseconds=1)
        elif not isinstance(value, _SIMPLE):
            return None  # a naive datetime, a date, a Decimal...: not kept
    blob = orjson.dumps(values)
    return blob if len(blob) <= MAX_BLOB else None


def make_copy(values: bytes, generation: bytes, now: float | None = None) -> bytes | None:
    """Return the stored copy: header, then the values; None if it would be too long."""
    made = _base36(int(time.time() if now is None else now))
    copy = b".".join([generation or b"0", made, schema_digest().encode()]) + values
    return copy if len(copy) <= MAX_VALUE else None


def decode(copy: bytes, user_id: str, generation: bytes | None) -> AbstractBaseUser | None:
    """Build the user from a copy (other fields deferred); None unless it is still good.
    ``generation``: the user's, when the read had it (None: a copy there is current)."""
    header, bracket, rest = copy.partition(b"[")
    parts = header.split(b".")
    if not bracket or len(parts) != 3:
        return None
    if generation is not None and parts[0] != (generation or b"0"):
        return None
    made, digest = parts[1], parts[2]
    if digest != schema_digest().encode() or not _fresh(made):
        return None
    try:
        values = orjson.loads(bracket + rest)
    except orjson.JSONDecodeError:
        return None
    model, pk, field_names, pk_position = _shape()
    if not isinstance(values, list) or len(values) != len(field_names) - 1:
        return None
    try:
        pk_value = pk.to_python(user_id)
    except ValidationError:  # a malformed id is a miss, never a 500
        return None
    for i, (kind, nullable) in enumerate(_kinds()):
        value = values[i]
        if value is None:
            if not nullable:
                return None  # a tampered copy is a miss, never a broken user
        elif kind is datetime:
            if type(value) is not int:
                return None
            try:
                values[i] = _EPOCH + timedelta(microseconds=value)
            except OverflowError:
                return None
        elif kind is bool:
            if type(value) is not int or value not in (0, 1):
                return None
            values[i] = value == 1
        elif kind is not None and type(value) is not kind:
            return None
    kept = tuple(values)  # without the pk: what freshen compares on a save
    values.insert(pk_position, pk_value)
    user = model.from_db(DEFAULT_DB_ALIAS, field_names, values)
    freshen.remember(user, kept)
    return user


@cache
def _kinds() -> tuple[tuple[type | None, bool], ...]:
    """Per cached value: the Python type it must have (datetime: stored as microseconds;
    None: any of the simple types) and whether it may be null."""
    fields = {f.attname: f for f in get_user_model()._meta.concrete_fields}
    kinds = []
    for name in cached_fields():
        field = fields[name]
        if isinstance(field, models.DateTimeField):
            kind = datetime
        elif isinstance(field, models.BooleanField):
            kind = bool
        elif isinstance(field, models.CharField | models.TextField):
            kind = str
        else:
            kind = None
        kinds.append((kind, field.null))
    return tuple(kinds)


def _base36(number: int) -> bytes:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out.encode()


def _fresh(made: bytes) -> bool:
    try:
        age = time.time() - int(made, 36)
    except ValueError:
        return False
    return -5 <= age <= max_age()  # a copy "from the future" is a forgery or a bad clock


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


def generation(user_id: str) -> bytes | None:
    """Return the user's generation, read before loading the user to cache it (``fill``);
    None when Redis does not answer (then nothing is cached)."""
    try:
        with redis_errors():
            return redis_client().get(keys.user_generation(user_id)) or b"0"
    except SessionStoreUnavailable:
        return None


def fill(session: SessionStore, user: AbstractBaseUser) -> None:
    """Keep ``user`` beside the session if it did not change since the generation the
    request read (at its load, or before it loaded the user: ``generation``)."""
    values = encode(user)
    auth_hash = session.get(AUTH_HASH_KEY, "")
    if values is None or session.session_key is None or len(auth_hash) != 64:
        return
    if session.user_generation is None:
        return
    call = fill_call(session.session_id, user, values, session.user_generation, auth_hash)
    if call is None:
        return
    with suppress(SessionStoreUnavailable):  # only a cache: the next request fills it
        run_script("USER_FILL", *call)


def fill_call(
    sid: str, user: AbstractBaseUser, values: bytes, generation: bytes, auth_hash: str
) -> tuple[list[str], list[Any]] | None:
    """The USER_FILL script's keys and arguments (bench/memory.py pipelines them)."""
    copy = make_copy(values, generation)
    if copy is None:
        return None
    uid = user_key(user.pk)
    if keys.id_shard(sid) != keys.user_shard(uid):
        return None  # not in its user's shard (never written so): the keys' slots differ
    script_keys = [keys.session_key_name(sid), keys.user_generation(uid)]
    return script_keys, [uid, generation or b"0", copy, bytes.fromhex(auth_hash)]


def forget_user(user_id: object) -> None:
    """Invalidate every cached copy of this user now (raises SessionStoreUnavailable)."""
    ttl = max(max_age() * 2, 3600) * 1000
    uid = user_key(user_id)
    tag = keys.prefix(keys.user_shard(uid))
    run_script("USER_FORGET", [keys.user_generation(uid), keys.user_index(uid)], [ttl, tag, uid])


def _matters(user: AbstractBaseUser, update_fields: frozenset[str] | None) -> bool:
    # A model whose session auth hash covers more than the password (a "sign out
    # everywhere" stamp saved with update_fields): any save may change that hash.
    if update_fields is None or type(user).get_session_auth_hash is not _DJANGOS_HASH:
        return True
    # update_fields holds field names ("team"), the cache attribute names ("team_id").
    cached = set(cached_fields())
    names = {f.name for f in get_user_model()._meta.concrete_fields if f.attname in cached}
    return bool(update_fields & {*names, *cached, "password"})


def before_user_save(instance: AbstractBaseUser, update_fields=None, **kwargs: Any) -> None:
    freshen.before_save(instance, cached_fields(), update_fields, kwargs.get("using"))
    # Before the row changes: with Redis down, the save fails instead of leaving copies
    # that nothing would invalidate later (a password change must end old sessions).
    if instance.pk is not None and _matters(instance, update_fields):
        forget_user(instance.pk)


def after_user_change(instance: AbstractBaseUser, update_fields=None, **kwargs: Any) -> None:
    # After the commit: a request that read the old row meanwhile cannot store it now.
    if instance.pk is None or not _matters(instance, update_fields):
        return
    pk = instance.pk

    def forget() -> None:
        try:
            forget_user(pk)
        except SessionStoreUnavailable:
            logger.error("could not invalidate cached copies of user %s", pk)

    transaction.on_commit(forget, using=kwargs.get("using"))


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: object) -> None:
    if setting in {"SESSION_USER_CACHE_FIELDS", "AUTH_USER_MODEL"}:
        cached_fields.cache_clear()
        schema_digest.cache_clear()
        _shape.cache_clear()
        _kinds.cache_clear()
