"""The active-sessions dashboard inside the Django admin (/admin/sessions/).

Plain server-rendered pages in the admin's own look: a filtered, searchable, paginated
table, revoke actions with confirmation pages, and a stats band whose chart is inline SVG
(no script, so everything works without JavaScript and under a strict CSP).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sessionadmin import index, services
from sessionadmin.api import listing_filters
from sessionadmin.audit import record_revocation
from sessionadmin.devices import device_label
from sessionadmin.http import ValidationFailed, is_whole_number
from sessionadmin.models import REVOKE_PERMISSION, VIEW_PERMISSION

WINDOWS = [
    ("1 min", "60"),
    ("5 min", "300"),
    ("15 min", "900"),
    ("1 h", "3600"),
    ("24 h", "86400"),
]


def staff_permission(permission: str) -> Callable:
    """Anonymous: to the admin login. Signed in without staff or ``permission``: 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @never_cache
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            if not (user.is_active and user.is_staff and user.has_perm(permission)):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _context(request: HttpRequest, title: str, **extra) -> dict:
    return {**admin.site.each_context(request), "title": title, **extra}


def _chart(activity: dict[str, int]) -> list[dict]:
    peak = max(activity.values(), default=0) or 1
    bars = []
    for position, (label, key) in enumerate(WINDOWS):
        value = activity.get(key, 0)
        height = round(100 * value / peak)
        bars.append({"label": label, "value": value, "x": 10 + position * 60, "y": 124 - height,
                     "height": height})  # fmt: skip
    return bars


@staff_permission(VIEW_PERMISSION)
def dashboard(request: HttpRequest) -> HttpResponse:
    try:
        filters = listing_filters(request)
    except ValidationFailed as error:
        messages.error(request, " ".join(m for ms in (error.fields or {}).values() for m in ms))
        return redirect("sessionadmin-dashboard")
    result = services.list_sessions(**filters)
    current = services.current_session_id(request.session)
    rows = services.serialize_sessions(result.results, current_id=current)
    today = timezone.now().date()
    for row, record in zip(rows, result.results, strict=True):
        row["record"], row["device"] = record, device_label(record.user_agent)
        for name in ("created_at", "login_at", "expires_at"):
            row[f"{name}_short"] = _short_time(getattr(record, name), today)
    stats = services.session_stats()
    pages = max(1, -(-result.count // result.page_size))
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = _context(
        request,
        "Active sessions",
        rows=rows,
        result=result,
        stats=stats,
        chart=_chart(stats["activity"]),
        filters=filters,
        pages=pages,
        previous_url=_page_url(query, result.page - 1) if result.page > 1 else "",
        next_url=_page_url(query, result.page + 1) if result.page < pages else "",
        query_string=urlencode(query),
        can_revoke=request.user.has_perm(REVOKE_PERMISSION),
        page_sizes=[25, 50, 100, 200],
        search_max=f"{index.SEARCH_MAX:,}",
    )
    return render(request, "sessionadmin/dashboard.html", context)


def _short_time(moment: datetime | None, today: date) -> str:
    """Return "21:42" for today, "Nov 23 21:42" otherwise (the full time is in a title)."""
    if moment is None:
        return "–"
    return moment.strftime("%H:%M" if moment.date() == today else "%b %d %H:%M")


def _page_url(query: dict, page: int) -> str:
    return "?" + urlencode({**query, "page": page})


@staff_permission(REVOKE_PERMISSION)
@require_http_methods(["GET", "POST"])
def revoke_sessions(request: HttpRequest) -> HttpResponse:
    """Revoke the selected sessions (or one), after a confirmation page."""
    ids = [i for i in request.POST.getlist("ids") or request.GET.getlist("ids") if i][:200]
    if not ids:
        messages.warning(request, "Select at least one session first.")
        return redirect("sessionadmin-dashboard")
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        revoked = 0
        for session_id in ids:
            if services.revoke_session(session_id):
                record_revocation(request.user, session_id=session_id)
                revoked += 1
        messages.success(request, f"Revoked {revoked} session{'s' if revoked != 1 else ''}.")
        return redirect("sessionadmin-dashboard")
    records = [r for r in (services.get_session(i) for i in ids) if r is not None]
    return render(
        request,
        "sessionadmin/confirm_revoke.html",
        _context(request, "Revoke sessions", rows=services.serialize_sessions(records), ids=ids),
    )


@staff_permission(REVOKE_PERMISSION)
@require_http_methods(["GET", "POST"])
def revoke_user(request: HttpRequest, user_id: str) -> HttpResponse:
    """Revoke every session of one user, after a confirmation page."""
    if not is_whole_number(user_id) or services.resolve_user_id(user_id) is None:
        messages.error(request, "No such user.")
        return redirect("sessionadmin-dashboard")
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        count = services.revoke_user_sessions(user_id)
        record_revocation(request.user, user_id=user_id, count=count)
        messages.success(
            request, f"Revoked {count} session{'s' if count != 1 else ''} of the user."
        )
        return redirect("sessionadmin-dashboard")
    records = services.list_user_sessions(user_id)
    return render(
        request,
        "sessionadmin/confirm_revoke.html",
        _context(request, "Revoke all sessions of a user",
                 rows=services.serialize_sessions(records), user_id=user_id),
    )  # fmt: skip


urlpatterns = [
    path("admin/sessions/", dashboard, name="sessionadmin-dashboard"),
    path("admin/sessions/revoke/", revoke_sessions, name="sessionadmin-revoke"),
    path(
        "admin/sessions/user/<str:user_id>/revoke/", revoke_user, name="sessionadmin-revoke-user"
    ),
]
