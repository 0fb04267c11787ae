"""Every revocation is recorded (who, which session by public id, when, why).

Entries are Django admin LogEntry rows on the ActiveSession content type, so they show in
the admin's "Recent actions" and can be queried like any other admin history. The raw
session key is never recorded: only the public id.
"""

from __future__ import annotations

from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType

from sessionadmin.models import ActiveSession


def record_revocation(actor, *, session_id: str = "", user_id: str = "", count: int = 1,
                      reason: str = "revoked by staff") -> None:  # fmt: skip
    """Write one audit entry for a revocation by ``actor`` (a user)."""
    if session_id:
        target, obj_id = f"session {session_id}", session_id
    else:
        target, obj_id = f"{count} session(s) of user {user_id}", f"user:{user_id}"
    LogEntry.objects.create(
        user_id=actor.pk,
        content_type=ContentType.objects.get_for_model(ActiveSession, for_concrete_model=False),
        object_id=obj_id,
        object_repr=target[:200],
        action_flag=DELETION,
        change_message=f"Revoked {target}: {reason}.",
    )
