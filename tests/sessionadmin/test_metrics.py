"""GET /metrics in-process: who may read it, and what it says (one process: the default
registry; the two-worker sums are in test_events_live.py)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import browser

PASSWORD = "correct horse 9"


def scrape(client: Client | None = None, **extra) -> dict[tuple[str, tuple], float]:
    response = (client or Client()).get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def test_loopback_reads_the_gauges_of_the_index(make_user, redis):
    browser(make_user("alice"))
    browser(make_user("bob"))
    Client().get("/api/session")  # a guest
    values = scrape()
    assert values[("sessionadmin_store_up", ())] == 1
    assert values[("sessionadmin_sessions_active", ())] == 3
    assert values[("sessionadmin_sessions_signed_in", ())] == 2
    assert values[("sessionadmin_sessions_guests", ())] == 1
    assert values[("sessionadmin_users_signed_in", ())] == 2


def test_counters_count_what_happened(make_user, redis):
    make_user("alice")
    before = scrape()
    client = Client()
    for password in ("wrong", PASSWORD):
        client.post(
            "/api/login",
            {"username": "alice", "password": password},
            content_type="application/json",
        )
    client.post("/api/logout")
    after = scrape()

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("sessionadmin_logins_total") == 1
    assert delta("sessionadmin_login_failures_total") == 1
    assert delta("sessionadmin_sessions_ended_total", reason="logout") == 1
    assert delta("sessionadmin_store_round_trip_seconds_count") > 0


def test_anyone_else_gets_404(make_user, redis):
    far = {"REMOTE_ADDR": "10.1.2.3"}
    assert Client().get("/metrics", **far).status_code == 404
    assert browser(make_user("alice")).get("/metrics", **far).status_code == 404
    assert Client().post("/metrics").status_code == 404


def test_staff_may_read_it_from_anywhere(make_user, redis):
    staff = browser(make_user("boss", is_staff=True))
    assert "sessionadmin_store_up" in scrape(staff, REMOTE_ADDR="10.1.2.3").__repr__()


@pytest.mark.parametrize("networks, allowed", [(["10.0.0.0/8"], True), (["::1/128"], False)])
def test_the_allowed_networks_are_a_setting(redis, networks, allowed):
    with override_settings(SESSIONADMIN_METRICS_NETWORKS=networks):
        status = Client().get("/metrics", REMOTE_ADDR="10.9.9.9").status_code
    assert status == (200 if allowed else 404)


def test_a_round_trip_lands_in_the_bucket_observe_would_put_it_in():
    # metrics.store_round_trip is Histogram.observe with the bucket found by bisection.
    from prometheus_client import CollectorRegistry, Histogram

    from sessionadmin import metrics

    reference = Histogram(
        "reference_seconds", "", buckets=metrics.STORE_ROUND_TRIP._upper_bounds[:-1],
        registry=CollectorRegistry(),
    )  # fmt: skip

    def buckets(histogram) -> list[float]:
        return [b.get() for b in histogram._buckets] + [histogram._sum.get()]

    before = buckets(metrics.STORE_ROUND_TRIP)
    for seconds in (0.0, 0.0004, 0.0005, 0.00050001, 0.003, 1.0, 5.0, 7.5):
        metrics.store_round_trip(seconds)
        reference.observe(seconds)
    after = buckets(metrics.STORE_ROUND_TRIP)
    counted = [a - b for a, b in zip(after, before, strict=True)]
    assert counted == pytest.approx(buckets(reference))
    assert counted[0] == 3 and counted[-2] == 1  # le=0.0005 holds 0.0005; +Inf holds 7.5
