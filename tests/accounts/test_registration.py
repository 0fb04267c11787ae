"""Registration: one account per name a person sees (Unicode look-alikes and case variants
are the same name), no username that looks like an address, and a race of registrations
for one name ends in one account and form errors, never a 500."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.test import Client

from tests.servers import Browser, gunicorn

PASSWORD = "correct horse 9"


def register(username: str, email: str, client: Client | None = None):
    return (client or Client()).post(
        "/api/register",
        {"username": username, "email": email, "password": PASSWORD},
        content_type="application/json",
    )


@pytest.fixture
def bob(redis, make_user):
    return make_user("bob089145")


@pytest.mark.parametrize(
    "lookalike",
    ["Ｂｏｂ089145", "BOB089145", "Bob089145", " bob089145 ", "ｂｏｂ０８９１４５"],
    ids=["full-width", "upper", "title", "spaces", "full-width-digits"],
)
def test_a_look_alike_of_a_taken_username_is_refused(bob, lookalike):
    response = register(lookalike, "someone.else@example.com")
    assert response.status_code == 400, response.content
    assert response.json()["fields"]["username"] == ["That username is taken."]
    assert get_user_model().objects.count() == 1


def test_a_username_is_stored_as_people_see_it(redis, db):
    response = register("Ｃａｒｏｌ", "carol@example.com")
    assert response.status_code == 201, response.content
    assert response.json()["user"]["username"] == "Carol"
    login = Client().post(
        "/api/login", {"username": "carol", "password": PASSWORD}, content_type="application/json"
    )
    assert login.status_code == 200


def test_a_username_with_an_at_sign_is_refused(bob):
    # It could equal someone's email, and sign-in by name or email would pick the wrong one.
    response = register("bob089145@example.com", "another@example.com")
    assert response.status_code == 400
    assert response.json()["fields"]["username"] == ["A username cannot contain @."]


def test_the_database_refuses_a_case_variant_that_slips_past_the_form(bob):
    with pytest.raises(IntegrityError), transaction.atomic():
        get_user_model().objects.create_user("BOB089145", "x@example.com", PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        get_user_model().objects.create_user("other", "BOB089145@EXAMPLE.COM", PASSWORD)
    # Accounts without an email (createsuperuser without one) do not collide.
    get_user_model().objects.create_user("nomail1", "", PASSWORD)
    get_user_model().objects.create_user("nomail2", "", PASSWORD)


@pytest.mark.server
@pytest.mark.django_db(transaction=True)
def test_racing_registrations_of_one_name_make_one_account_and_no_500(redis):
    racers = 8
    with gunicorn(workers=2, threads=4) as (base, _log):
        browsers = [Browser() for _ in range(racers)]
        tokens = [b.request("GET", f"{base}/api/csrf")[2]["csrfToken"] for b in browsers]
        start = threading.Barrier(racers)

        def race(n: int) -> tuple[int, object]:
            start.wait(timeout=10)
            status, _, body = browsers[n].request(
                "POST",
                f"{base}/api/register",
                {"username": "Racer" if n % 2 else "racer", "email": f"r{n}@example.com",
                 "password": PASSWORD},
                headers={"X-CSRFToken": tokens[n]},
            )  # fmt: skip
            return status, body

        with ThreadPoolExecutor(racers) as pool:
            results = list(pool.map(race, range(racers)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [400] * (racers - 1), results
    for status, body in results:
        if status == 400:
            assert body["fields"]["username"] == ["That username is taken."]
    assert get_user_model().objects.filter(username__iexact="racer").count() == 1
