"""The active-sessions dashboard's pages, served by ActiveSessionAdmin.get_urls().

Plain server-rendered pages in the admin's own look: a filtered, searchable, paginated
table, revoke actions with confirmation pages, and a stats band whose chart is inline SVG
(no script, so everything works without JavaScript and under a strict CSP). Each view
takes the ModelAdmin, so it works under any AdminSite and any admin prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from sessionadmin import services
from sessionadmin.admin.audit import record_revocation
from sessionadmin.auth.users import admin_change_url
from sessionadmin.errors import ValidationFailed
from sessionadmin.index import search
from sessionadmin.models import REVOKE_PERMISSION, VIEW_PERMISSION

WINDOWS = [("1 min", "60"), ("5 min", "300"), ("15 min", "900"), ("1 h", "3600"),
           ("24 h", "86400")]  # fmt: skip


def url(model_admin: admin.ModelAdmin, name: str, *args: Any) -> str:
    """Return the URL of one of the dashboard's pages ("changelist", "revoke"...)."""
    opts = model_admin.opts
    site = model_admin.admin_site.name
    return reverse(f"{site}:{opts.app_label}_{opts.model_name}_{name}", args=args)


def require_permission(request: HttpRequest, permission: str) -> None:
    # admin_view() already let only active staff in; each page needs its own permission.
    if not request.user.has_perm(permission):
        raise PermissionDenied


def page_context(model_admin: admin.ModelAdmin, request: HttpRequest, title: str, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "index_url": reverse(f"{model_admin.admin_site.name}:index"),
        "dashboard_url": url(model_admin, "changelist"),
        "revoke_url": url(model_admin, "revoke"),
        "events_url": url(model_admin, "events"),
        **extra,
    }


def _chart(activity: dict[str, int]) -> list[dict]:
    peak = max(activity.values(), default=0) or 1
    bars = []
    for position, (label, key) in enumerate(WINDOWS):
        value = activity.get(key, 0)
        height = round(100 * value / peak)
        bars.append({"label": label, "value": value, "x": 10 + position * 60, "y": 124 - height,
                     "height": height})  # fmt: skip
    return bars


def _rows(model_admin: admin.ModelAdmin, request: HttpRequest, records: list) -> list[dict]:
    current = services.current_session_id(request.session)
    rows = services.serialize_sessions(records, current_id=current)
    today = timezone.now().date()
    site = model_admin.admin_site.name
    for row, record in zip(rows, records, strict=True):
        row["record"] = record
        for name in ("created_at", "login_at", "expires_at"):
            row[f"{name}_short"] = _short_time(getattr(record, name), today)
        if record.user_id:
            row["user_url"] = admin_change_url(record.user_id, site)
            row["revoke_user_url"] = url(model_admin, "revoke_user", record.user_id)
    return rows


def parsed_filters(
    model_admin: admin.ModelAdmin, request: HttpRequest, parse: Callable, page: str
) -> dict | HttpResponse:
    """Return ``parse(request.GET)``, or a redirect to ``page`` saying what was wrong."""
    try:
        return parse(request.GET)
    except ValidationFailed as error:
        messages.error(request, " ".join(m for ms in (error.fields or {}).values() for m in ms))
        return redirect(url(model_admin, page))


def dashboard(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    require_permission(request, VIEW_PERMISSION)
    filters = parsed_filters(model_admin, request, services.parse_listing_filters, "changelist")
    if isinstance(filters, HttpResponse):
        return filters
    filters["cursor"] = None  # the dashboard pages by number (the API also by cursor)
    result = services.list_sessions(**filters)
    stats = services.session_stats()
    pages = max(1, -(-result.count // result.page_size))
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = page_context(
        model_admin,
        request,
        "Active sessions",
        rows=_rows(model_admin, request, result.results),
        result=result,
        stats=stats,
        chart=_chart(stats["activity"]),
        filters=filters,
        pages=pages,
        previous_url=_page_url(query, result.page - 1) if result.page > 1 else "",
        next_url=_page_url(query, result.page + 1) if result.page < pages else "",
        can_revoke=request.user.has_perm(REVOKE_PERMISSION),
        page_sizes=[25, 50, 100, 200],
        search_max=f"{search.SEARCH_MAX:,}",
    )
    return render(request, "sessionadmin/dashboard.html", context)


def _short_time(moment: datetime | None, today: date) -> str:
    """Return "21:42" for today, "Nov 23 21:42" otherwise (the full time is in a title)."""
    if moment is None:
        return "–"
    return moment.strftime("%H:%M" if moment.date() == today else "%b %d %H:%M")


def _page_url(query: dict, page: int) -> str:
    return "?" + urlencode({**query, "page": page})


def revoke_sessions(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """Revoke the selected sessions (or one), after a confirmation page."""
    require_permission(request, REVOKE_PERMISSION)
    ids = [i for i in request.POST.getlist("ids") or request.GET.getlist("ids") if i][:200]
    if not ids:
        messages.warning(request, "Select at least one session first.")
        return redirect(url(model_admin, "changelist"))
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        revoked = 0
        for session_id in ids:
            if services.revoke_session(session_id, by="staff"):
                record_revocation(request.user, session_id=session_id)
                revoked += 1
        messages.success(request, f"Revoked {revoked} session{'s' if revoked != 1 else ''}.")
        return redirect(url(model_admin, "changelist"))
    records = [r for r in (services.get_session(i) for i in ids) if r is not None]
    rows = _rows(model_admin, request, records)
    return render(
        request,
        "sessionadmin/confirm_revoke.html",
        page_context(model_admin, request, "Revoke sessions", rows=rows, ids=ids),
    )


def revoke_user(model_admin: admin.ModelAdmin, request: HttpRequest, user_id: str) -> HttpResponse:
    """Revoke every session of one user, after a confirmation page."""
    require_permission(request, REVOKE_PERMISSION)
    resolved = services.user_id_of(user_id)
    if resolved is None:
        messages.error(request, "No such user.")
        return redirect(url(model_admin, "changelist"))
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        count = services.revoke_user_sessions(resolved, by="staff")
        record_revocation(request.user, user_id=resolved, count=count)
        messages.success(
            request, f"Revoked {count} session{'s' if count != 1 else ''} of the user."
        )
        return redirect(url(model_admin, "changelist"))
    rows = _rows(model_admin, request, services.list_user_sessions(resolved))
    return render(
        request,
        "sessionadmin/confirm_revoke.html",
        page_context(model_admin, request, "Revoke all sessions of a user", rows=rows,
                 user_id=resolved),
    )  # fmt: skip
