"""A project of someone else's: its own views, and Django's default error handlers (no
handler500 that knows sessionadmin's exceptions, unlike this site's)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path


def visits(request: HttpRequest) -> JsonResponse:
    request.session["visits"] = request.session.get("visits", 0) + 1
    return JsonResponse({"visits": request.session["visits"]})


urlpatterns = [path("visits", visits), path("api/visits", visits)]
