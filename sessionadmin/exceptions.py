"""Exceptions of sessionadmin; API errors carry their HTTP meaning (see sessionadmin.errors)."""

from __future__ import annotations


class SessionStoreUnavailable(Exception):
    """The session store (Redis) did not answer; requests that need it get 503."""
