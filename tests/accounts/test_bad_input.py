"""Bad input found by fuzzing the running site: a clear 4xx in the API's shape (or the
form again, with its errors), never a 500, and nothing stored changed."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

PASSWORD = "correct horse 9"
NEW = "a brand new passphrase 42"


@pytest.fixture
def alice(make_user, redis):
    return make_user("alice", password=PASSWORD)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("path", "status"), [("/accounts/login/", 400), ("/accounts/register/", 200)]
)
def test_an_empty_form_post_is_the_form_again_with_its_errors(db, redis, path, status):
    # An empty body made the form unbound ("request.POST or None"): a 500. (Each page
    # answers its invalid form with the status it always did.)
    response = Client().post(path, {})
    assert response.status_code == status, response.status_code
    assert b"This field is required" in response.content
    # Each field says so once (the service's check of the same form is not shown again).
    page = response.content.decode()
    assert page.count("This field is required") == len(response.context["form"].errors)


def test_an_empty_password_change_post_is_the_form_again(alice):
    response = signed_in(alice).post("/accounts/password/", {})
    assert response.status_code == 200
    assert b"This field is required" in response.content


@pytest.mark.parametrize(
    "path", ["/api/login", "/api/register", "/api/cart/items", "/api/password"]
)
def test_a_form_body_on_a_json_endpoint_is_400_bad_json(alice, path):
    # CSRF's check reads a multipart body as a form first; the body is then gone.
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/api/csrf")
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(path, {"a": "b"}, HTTP_X_CSRFTOKEN=token)  # multipart
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "BAD_JSON"


def test_an_oversized_form_body_is_413(db, redis):
    client = Client(enforce_csrf_checks=True)
    client.get("/api/csrf")
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    body = "a=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client.post(
        "/api/login", body, content_type="application/x-www-form-urlencoded",
        HTTP_X_CSRFTOKEN=token,
    )  # fmt: skip
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize("value", [["x9 brand new"], {"p": "x9 brand new"}, 123456789012, True])
def test_a_password_that_is_not_a_string_is_refused_and_nothing_changes(alice, value):
    # A form's CharField takes str() of anything: the password became "['x9 brand new']".
    client = signed_in(alice)
    data = {"old_password": PASSWORD, "new_password": value}
    response = client.post("/api/password", data, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["fields"] == {"new_password": ["Must be a string."]}
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("/api/register", {"username": True, "email": "t@ex.com", "password": NEW}, "username"),
        ("/api/register", {"username": "tom", "email": "t@ex.com", "password": [NEW]}, "password"),
        ("/api/login", {"username": 12345, "password": PASSWORD}, "username"),
        ("/api/tokens", {"username": "alice", "password": PASSWORD, "name": ["CI"]}, "name"),
    ],
)  # fmt: skip
def test_json_fields_that_are_not_strings_are_400_validation_error(alice, path, data, field):
    response = Client().post(path, data, content_type="application/json")
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "VALIDATION_ERROR" and answer["fields"] == {
        field: ["Must be a string."]
    }
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["alice"]


def test_a_rate_limited_login_page_says_when_to_retry_in_a_header_too(alice, settings):
    settings.LOGIN_RATE_LIMIT = "1/15m"
    client = Client()
    client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_an_events_page_size_of_thousands_of_digits_is_400(make_user, redis):
    staff = make_user("root", is_staff=True, is_superuser=True)
    response = signed_in(staff).get("/api/admin/sessions/events", {"page_size": "9" * 5000})
    assert response.status_code == 400, response.content
    assert "page_size" in response.json()["fields"]
