"""The API's plumbing: every error in API.md's shape, never HTML or a traceback."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, override_settings

from tests.helpers import stored_keys

pytestmark = pytest.mark.urls("tests.urls")


@pytest.fixture
def api(redis, db):
    return Client(raise_request_exception=False)


def test_csrf_endpoint_gives_a_token_and_sets_the_cookie(api):
    response = api.get("/api/csrf")
    assert response.status_code == 200
    assert response.json()["csrfToken"]
    assert settings.CSRF_COOKIE_NAME in response.cookies
    assert "no-store" in response["Cache-Control"]


def test_session_counts_views(api):
    assert [api.get("/api/session").json()["views"] for _ in range(3)] == [1, 2, 3]
    body = api.get("/api/session").json()
    assert body["authenticated"] is False and body["user"] is None


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_path_is_404_json_even_in_debug(api, debug):
    with override_settings(DEBUG=debug):
        response = api.get("/api/nothing/here")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "NOT_FOUND"


def test_wrong_method_is_405_with_allow(api):
    response = api.delete("/api/csrf")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert response.json() == {
        "error": "That method is not allowed here.",
        "code": "METHOD_NOT_ALLOWED",
    }


def test_unsafe_method_without_csrf_token_is_403_csrf_failed(redis, db):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/api/session/keepalive")
    assert response.status_code == 403
    assert response.json()["code"] == "CSRF_FAILED"
    token = browser.get("/api/csrf").json()["csrfToken"]
    assert browser.post("/api/session/keepalive", HTTP_X_CSRFTOKEN=token).status_code == 200


def test_a_bug_in_an_api_view_is_a_500_internal_error_in_json(api, caplog):
    with override_settings(DEBUG=True):
        response = api.get("/api/test/boom")
    assert response.status_code == 500
    assert response.json() == {
        "error": "Something went wrong on our side.",
        "code": "INTERNAL_ERROR",
    }
    assert "a bug" in caplog.text  # logged with its traceback, not shown


def test_a_bug_in_a_page_is_the_500_page(api):
    response = api.get("/test/boom")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"Traceback" not in response.content


@pytest.mark.parametrize(
    "body",
    [b"{", b"[1, 2]", b'"text"', b"null", b"\xff\xfe{}", b"[" * 5000 + b"]" * 5000],
    ids=["truncated", "array", "string", "null", "bad-utf8", "deep-nesting"],
)
def test_a_body_that_is_not_a_json_object_is_400_bad_json(api, body):
    response = api.post("/api/test/echo", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_JSON"


def test_a_json_object_body_is_accepted(api):
    response = api.post("/api/test/echo", {"a": [1, {"b": None}]}, content_type="application/json")
    assert response.json() == {"a": [1, {"b": None}]}


def test_an_oversized_body_is_413(api):
    big = b'{"x": "' + b"a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + b'"}'
    response = api.post("/api/test/echo", big, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


def test_a_session_revoked_while_its_request_runs_is_not_written_back(api, redis):
    api.get("/api/session")
    response = api.post("/api/test/revoke-self")
    assert response.status_code == 400
    assert response.json()["code"] == "SESSION_INTERRUPTED"
    assert stored_keys(redis) == set()
    assert api.get("/api/session").json()["views"] == 1  # a new, empty session


def test_home_page_counts_and_clear_button_resets(api):
    assert b">1<" in api.get("/").content
    assert b">2<" in api.get("/").content
    response = api.post("/session/clear/")
    assert response.status_code == 302
    assert b">1<" in api.get("/").content


def test_error_pages_render_with_the_site_layout(api):
    response = api.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"sessionsite" in response.content  # base.html's header
