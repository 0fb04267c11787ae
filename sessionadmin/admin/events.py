"""The dashboard's "Recent events" page, and the audit entry a staff revocation links to.

Events come from the capped log in Redis (``sessionadmin.events``), newest first, a page
at a time by cursor, filtered by user and by kind (an event, or an ending's reason). A
revocation by staff links to the admin LogEntry that recorded who did it.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from sessionadmin import events
from sessionadmin.admin.views import page_context, parsed_filters, require_permission, url
from sessionadmin.auth.users import admin_change_url
from sessionadmin.models import VIEW_PERMISSION, ActiveSession

# A LogEntry is written just after the revocation it records.
_AUDIT_WINDOW = timedelta(seconds=30)


def recent_events(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    require_permission(request, VIEW_PERMISSION)
    filters = parsed_filters(model_admin, request, events.parse_filters, "events")
    if isinstance(filters, HttpResponse):
        return filters
    found, cursor = events.recent(**filters)
    rows = events.serialize(found)
    audits = _audit_entries(found)
    site = model_admin.admin_site.name
    for row, entry in zip(rows, found, strict=True):
        row["entry"] = entry
        if entry.user_id:
            row["user_url"] = admin_change_url(entry.user_id, site)
        audit = audits.get(entry.id)
        if audit is not None:
            row["audit_url"] = url(model_admin, "log_entry", audit.pk)
    query = {k: v for k, v in request.GET.items() if k in ("user", "kind", "page_size") and v}
    context = page_context(
        model_admin,
        request,
        "Recent session events",
        rows=rows,
        kinds=events.KINDS,
        selected_kind=filters["kind"],
        user_value=request.GET.get("user", ""),
        next_url="?" + urlencode({**query, "cursor": cursor}) if cursor else "",
        first_url="?" + urlencode(query) if filters["cursor"] else "",
        log_length=events.log_length(),
    )
    return render(request, "sessionadmin/events.html", context)


def _audit_entries(found: list[events.Event]) -> dict[str, LogEntry]:
    """Return the LogEntry of each staff revocation among ``found``, by event id."""
    revokes = [e for e in found if e.reason == "revoked" and e.by == "staff"]
    if not revokes:
        return {}
    object_ids = {e.session_id for e in revokes} | {f"user:{e.user_id}" for e in revokes}
    content_type = ContentType.objects.get_for_model(ActiveSession, for_concrete_model=False)
    entries = list(
        LogEntry.objects.filter(
            content_type=content_type,
            object_id__in=object_ids,
            action_time__gte=min(e.at for e in revokes) - _AUDIT_WINDOW,
            action_time__lte=max(e.at for e in revokes) + _AUDIT_WINDOW,
        ).order_by("action_time")
    )
    matched = {}
    for event in revokes:
        for entry in entries:
            named = entry.object_id in (event.session_id, f"user:{event.user_id}")
            if named and abs(entry.action_time - event.at) <= _AUDIT_WINDOW:
                matched[event.id] = entry
                break
    return matched


def log_entry(model_admin: admin.ModelAdmin, request: HttpRequest, entry_id: int) -> HttpResponse:
    """One audit entry of the dashboard: who revoked what, when, and why."""
    require_permission(request, VIEW_PERMISSION)
    content_type = ContentType.objects.get_for_model(ActiveSession, for_concrete_model=False)
    entry = (
        LogEntry.objects.select_related("user")
        .filter(pk=entry_id, content_type=content_type)
        .first()
    )
    if entry is None:
        raise Http404("No such audit entry.")
    context = page_context(model_admin, request, "Audit entry", entry=entry)
    return render(request, "sessionadmin/log_entry.html", context)
