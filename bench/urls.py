"""The project's URLs plus the benchmark's own views, the same under every session layer."""

from django.contrib.auth import authenticate, login
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


def whoami(request: HttpRequest) -> JsonResponse:
    """An authenticated read: who is signed in, from ``request.user`` (no session write)."""
    user = getattr(request, "user", None)
    if user is None:  # BENCH_SESSIONS=none: the same response, without a session layer
        return JsonResponse({"user": "alice", "staff": False})
    return JsonResponse({"user": user.get_username(), "staff": user.is_staff})


@csrf_exempt
def count(request: HttpRequest) -> JsonResponse:
    """A signed-in POST that changes the session."""
    request.session["views"] = request.session.get("views", 0) + 1
    return JsonResponse({"views": request.session["views"]})


@csrf_exempt
def sign_in(request: HttpRequest) -> JsonResponse:
    """Django's own login(), with whatever engine is configured (the project's login view
    does more: rate limits, the per-user session limit)."""
    form = request.POST
    user = authenticate(request, username=form.get("username"), password=form.get("password"))
    if user is None:
        return JsonResponse({"error": "bad credentials"}, status=400)
    login(request, user)
    return JsonResponse({"user": user.get_username()})


urlpatterns = [
    path("bench/whoami", whoami),
    path("bench/count", count),
    path("bench/login", sign_in),
    path("", include("sessionsite.urls")),
]
