"""The site's URLs plus a plain authenticated read view that changes nothing."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from sessionsite.urls import handler400, handler403, handler404, handler500  # noqa: F401
from sessionsite.urls import urlpatterns as site_patterns


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.get_username() or None})


def boom(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("a bug")


urlpatterns = [path("test/whoami", whoami), path("test/boom", boom), *site_patterns]
