"""Any user model: ids as sessions store them, lookups by id or name, admin links.

Sessions keep a user's primary key as text (``_meta.pk.value_to_string``, as
django.contrib.auth does): an integer, a UUID or anything else. Nothing here assumes
``auth_user`` or integer ids; the model comes from ``get_user_model()`` and ``_meta``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import NoReverseMatch, reverse


def user_key(pk: Any) -> str:
    """Return a primary key as sessions and the index store it ("42", a UUID's text...)."""
    field = get_user_model()._meta.pk
    return str(field.to_python(pk))


def pk_from_key(value: str) -> Any | None:
    """Return the primary key a stored or typed id stands for, or None if it cannot be one."""
    field = get_user_model()._meta.pk
    try:
        pk = field.to_python(value)
        field.run_validators(pk)
    except (ValidationError, ValueError, TypeError, OverflowError):
        return None
    return pk


def json_user_id(key: str) -> int | str:
    """Return a stored id as the API shows it: a number for integer keys, else text."""
    pk = pk_from_key(key)
    return pk if isinstance(pk, int) else key


def existing_user_key(value: str) -> str | None:
    """Return the stored id of the user whose primary key is ``value``, or None."""
    if "\x00" in value:
        return None
    pk = pk_from_key(value.strip())
    if pk is None or not get_user_model()._default_manager.filter(pk=pk).exists():
        return None
    return user_key(pk)


def resolve_user(value: str) -> str | None:
    """Return the stored id of the user named by ``value`` (an id or a username), or None."""
    model = get_user_model()
    users = model._default_manager
    value = value.strip()
    if not value or "\x00" in value:  # PostgreSQL refuses NUL in text
        return None
    found = existing_user_key(value)
    if found is not None:
        return found
    for lookup in ("exact", "iexact"):  # "Bob" and "bob" may be two users of a model
        found = users.filter(**{f"{model.USERNAME_FIELD}__{lookup}": value})
        matches = list(found.values_list("pk", flat=True)[:2])
        if len(matches) == 1:
            return user_key(matches[0])
    return None


def find_user_ids(text: str, limit: int = 1000) -> list[str]:
    """Return stored ids of users whose username contains ``text`` (any case)."""
    model = get_user_model()
    if "\x00" in text:  # PostgreSQL refuses NUL in text
        return []
    lookup = {f"{model.USERNAME_FIELD}__icontains": text}
    pks = model._default_manager.filter(**lookup).values_list("pk", flat=True)[:limit]
    return [user_key(pk) for pk in pks]


def usernames(keys: set[str]) -> dict[str, str]:
    """Return {stored id: username} for the given stored ids, in one query."""
    model = get_user_model()
    pks = [pk for pk in (pk_from_key(k) for k in keys) if pk is not None]
    if not pks:
        return {}
    rows = model._default_manager.filter(pk__in=pks).values_list("pk", model.USERNAME_FIELD)
    return {user_key(pk): str(name) for pk, name in rows}


def admin_change_url(key: str, site_name: str = "admin") -> str | None:
    """Return the user's change page in the admin ``site_name``, or None if it has none."""
    opts = get_user_model()._meta
    try:
        return reverse(f"{site_name}:{opts.app_label}_{opts.model_name}_change", args=[key])
    except NoReverseMatch:
        return None


def normalise_login_name(name: str) -> str:
    """Return a login name as one person would type it any way: NFKC, casefolded, stripped."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


def login_fields() -> tuple[str, ...]:
    """Return the user fields a login name may match: the username and the email field."""
    model = get_user_model()
    names = [model.USERNAME_FIELD, model.get_email_field_name()]
    concrete = {f.name for f in model._meta.concrete_fields}
    return tuple(dict.fromkeys(n for n in names if n in concrete))
