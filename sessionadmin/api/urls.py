"""URLs of the staff JSON API; mount them where you like, for example::

path("api/admin/", include("sessionadmin.api.urls")),
"""

from django.urls import path

from sessionadmin.api import views

app_name = "sessionadmin_api"

urlpatterns = [
    path("sessions", views.sessions, name="sessions"),
    path("sessions/stats", views.stats, name="stats"),
    path("sessions/events", views.events_list, name="events"),
    path("sessions/<str:session_id>", views.revoke, name="session"),
    path("users/<str:user_id>/revoke-sessions", views.revoke_user, name="revoke-user"),
]
