from django.urls import path

from accounts import api, views

app_name = "accounts"

urlpatterns = [
    path("accounts/register/", views.register, name="register"),
    path("accounts/login/", views.login, name="login"),
    path("accounts/logout/", views.logout, name="logout"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/password/", views.password, name="password"),
    path("accounts/sessions/", views.my_sessions, name="sessions"),
    path("accounts/sessions/revoke-others/", views.revoke_others, name="revoke-others"),
    path("accounts/sessions/<str:session_id>/revoke/", views.revoke_session, name="revoke"),
    path("api/register", api.register),
    path("api/login", api.login),
    path("api/logout", api.logout),
    path("api/profile", api.profile),
    path("api/password", api.password),
    path("api/sessions", api.my_sessions),
    path("api/sessions/revoke-others", api.revoke_other_sessions),
    path("api/sessions/<str:session_id>", api.revoke_my_session),
    path("api/tokens", api.issue_token),
    path("api/tokens/current", api.end_current_token),
]
