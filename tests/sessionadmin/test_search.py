"""Search over the session index is bounded: batches of SEARCH_BATCH entries, at most
SEARCH_MAX entries per search, reported as incomplete when it stops early."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from sessionadmin import services
from sessionadmin.index import search as index
from sessionadmin.store import keys


def sid(session) -> str:
    return keys.session_id(session.session_key)


def pause() -> None:
    time.sleep(0.005)


@pytest.fixture
def small_bounds(monkeypatch, settings):
    # One shard: the bound is then exactly "the SEARCH_MAX newest entries" (with more,
    # each shard examines its share; see test_each_shard_examines_its_share).
    settings.SESSIONADMIN_SHARDS = 1
    monkeypatch.setattr(index, "SEARCH_BATCH", 5)
    monkeypatch.setattr(index, "SEARCH_MAX", 20)


@pytest.fixture
def thirty(redis, db, make_session):
    """30 guest sessions, oldest first; the oldest one and the 3 newest say "NarrowAgent"."""
    made = []
    for number in range(30):
        narrow = number == 0 or number >= 27
        agent = f"NarrowAgent/{number}" if narrow else f"pytest/{number}"
        made.append(sid(make_session(ip=f"10.0.0.{number}", user_agent=agent)))
        pause()
    return made


def test_search_stops_at_search_max_and_says_so(small_bounds, thirty):
    found = index.search(needle="10.0.0.", count=50)
    assert found.complete is False
    assert found.matches == 20
    assert [r.id for r in found.records] == list(reversed(thirty))[:20]
    page = services.list_sessions(query="10.0.0.", page_size=50)
    assert page.complete is False
    assert page.count == 20
    assert [r.id for r in page.results] == list(reversed(thirty))[:20]


def test_narrow_search_returns_the_newest_matches(small_bounds, thirty):
    page = services.list_sessions(query="narrowagent")
    assert [r.id for r in page.results] == [thirty[29], thirty[28], thirty[27]]
    assert page.count == 3
    # The oldest match lies beyond the 20 entries one search may examine.
    assert thirty[0] not in [r.id for r in page.results]
    assert page.complete is False


def test_search_without_a_bound_is_complete(redis, thirty):
    page = services.list_sessions(query="narrowagent")
    assert [r.id for r in page.results] == [thirty[29], thirty[28], thirty[27], thirty[0]]
    assert page.count == 4
    assert page.complete is True


def test_api_reports_an_incomplete_search(small_bounds, make_user, make_session, redis):
    staff = make_user("boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)  # the staff's own session is the oldest entry
    pause()
    made = []
    for number in range(30):
        made.append(sid(make_session(user_agent=f"pytest/{number}")))
        pause()
    body = client.get("/api/admin/sessions", {"q": "pytest", "page_size": 50}).json()
    assert body["complete"] is False
    assert body["count"] == 20
    assert [row["id"] for row in body["results"]] == list(reversed(made))[:20]
    narrow = client.get("/api/admin/sessions", {"q": "pytest/29"}).json()
    assert [row["id"] for row in narrow["results"]] == [made[29]]


def test_search_pages_through_matches(redis, db, make_session, monkeypatch):
    monkeypatch.setattr(index, "SEARCH_BATCH", 3)
    made = []
    for number in range(12):
        agent = "Wanted/1.0" if number % 2 == 0 else "Other/1.0"
        made.append((sid(make_session(user_agent=agent)), agent))
        pause()
    wanted = [i for i, agent in reversed(made) if agent.startswith("Wanted")]
    assert len(wanted) == 6
    pages = []
    for number in (1, 2, 3, 4):
        result = services.list_sessions(query="wanted", page=number, page_size=2)
        assert result.count == 6
        assert result.complete is True
        assert result.page == number
        pages.append([r.id for r in result.results])
    assert pages == [wanted[0:2], wanted[2:4], wanted[4:6], []]
    page_two = services.list_sessions(query="wanted", page=2, page_size=2)
    assert all(r.user_agent == "Wanted/1.0" for r in page_two.results)


def test_search_by_username_pages_through_matches(redis, make_user, make_session, monkeypatch):
    monkeypatch.setattr(index, "SEARCH_BATCH", 2)
    dora, eve = make_user("dora"), make_user("eve")
    made = []
    for number in range(8):
        user = dora if number % 2 else eve
        made.append((sid(make_session(user=user)), user))
        pause()
    doras = [i for i, user in reversed(made) if user == dora]
    first = services.list_sessions(query="DOR", page=1, page_size=2)
    second = services.list_sessions(query="DOR", page=2, page_size=2)
    assert first.count == second.count == 4
    assert [r.id for r in first.results + second.results] == doras
    assert {r.user_id for r in first.results + second.results} == {str(dora.pk)}


@pytest.mark.parametrize("batch", [2, 100])
def test_guests_only_listing_never_returns_a_signed_in_session(
    redis, make_user, make_session, monkeypatch, batch
):
    monkeypatch.setattr(index, "SEARCH_BATCH", batch)
    user = make_user("frank")
    guests, signed_in = [], []
    for number in range(10):
        if number % 3 == 0:
            guests.append(sid(make_session(user_agent="shared-agent")))
        else:
            signed_in.append(sid(make_session(user=user, user_agent="shared-agent")))
        pause()
    expected = list(reversed(guests))
    listing = services.list_sessions(authenticated=False, page_size=200)
    assert [r.id for r in listing.results] == expected
    assert listing.count == len(guests)
    assert all(r.user_id is None for r in listing.results)
    searched = services.list_sessions(authenticated=False, query="shared-agent")
    assert [r.id for r in searched.results] == expected
    assert not set(signed_in) & {r.id for r in searched.results}
    paged = [
        r.id
        for number in (1, 2, 3)
        for r in services.list_sessions(authenticated=False, page=number, page_size=2).results
    ]
    assert paged == expected
    only_signed_in = services.list_sessions(authenticated=True, query="shared-agent")
    assert [r.id for r in only_signed_in.results] == list(reversed(signed_in))


def test_dashboard_says_when_a_search_is_incomplete(small_bounds, thirty, make_user, monkeypatch):
    staff = make_user("boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    html = client.get("/admin/sessionadmin/activesession/", {"q": "10.0.0."}).content.decode()
    # The staff's own session is the newest entry and does not match: 19 of the 20 examined.
    assert "19 sessions or more" in html
    assert "stopped after examining the 20 most recent sessions" in html
    narrow = client.get("/admin/sessionadmin/activesession/", {"q": "10.0.0.29"}).content.decode()
    assert "1 session or more" in narrow
    monkeypatch.setattr(index, "SEARCH_MAX", 50_000)
    complete = client.get("/admin/sessionadmin/activesession/", {"q": "10.0.0."}).content.decode()
    assert "30 sessions ·" in complete
    assert "or more" not in complete


def test_each_shard_examines_its_share_of_the_bound(redis, db, make_session, monkeypatch):
    monkeypatch.setattr(index, "SEARCH_BATCH", 5)
    monkeypatch.setattr(index, "SEARCH_MAX", 32)  # 2 entries from each of the 16 shards
    made = [sid(make_session(user_agent=f"pytest/{n}")) for n in range(200)]
    found = index.search(needle="pytest", count=500)
    assert found.complete is False
    assert found.matches == 32
    per_shard = {}
    for record in found.records:
        per_shard[keys.id_shard(record.id)] = per_shard.get(keys.id_shard(record.id), 0) + 1
    assert set(per_shard.values()) == {2}, per_shard
    assert {r.id for r in found.records} <= set(made)
    again = index.search(needle="pytest", count=500).records
    assert [r.id for r in again] == [r.id for r in found.records]


def test_search_matches_shared_long_agents_case_blind(
    redis, db, make_session, monkeypatch, settings
):
    # Agents over 40 characters are stored once, by reference (agent.lua); a search call
    # resolves each reference once and must still tell the sessions' agents apart. One
    # shard: each call (7 entries, then 5) meets both agents, and each more than once.
    settings.SESSIONADMIN_SHARDS = 1
    monkeypatch.setattr(index, "SEARCH_BATCH", 7)
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1"
    made = []
    for number in range(12):
        agent = firefox if number % 3 else safari
        made.append((sid(make_session(user_agent=agent)), agent))
        pause()
    stored = redis.hget(keys.session_key_name(made[0][0]), "ua")
    assert stored.startswith(b"\x01")  # a reference, not the agent itself
    result = services.list_sessions(query="FIREFOX/128", page_size=50)
    expected = [s for s, agent in reversed(made) if agent == firefox]
    assert [r.id for r in result.results] == expected
    assert {r.user_agent for r in result.results} == {firefox}
    result = services.list_sessions(query="safari", page_size=50)
    assert [r.id for r in result.results] == [s for s, a in reversed(made) if a == safari]
    assert {r.user_agent for r in result.results} == {safari}


def test_a_call_out_of_time_hands_over_where_it_stopped(small_bounds, thirty, monkeypatch):
    # A budget of 1 µs: each call stops after its first 4 entries, as a call on a slow or
    # stalled server would; the search walks the same entries, in the same order.
    whole = index.search(needle="10.0.0.", count=50)
    monkeypatch.setattr(index, "SEARCH_CALL_US", 1)
    cut = index.search(needle="10.0.0.", count=50)
    assert [r.id for r in cut.records] == [r.id for r in whole.records]
    assert (cut.matches, cut.complete) == (whole.matches, whole.complete) == (20, False)
    calls = list(index.anonymous_ids(batch=25))
    assert [examined for _, examined in calls] == [4] * 7 + [2]
    assert [i for ids, _ in calls for i in ids] == list(reversed(thirty))


def test_a_search_that_ends_on_a_full_batch_is_complete(
    redis, db, make_session, monkeypatch, settings
):
    # One shard, 10 sessions in batches of 5: the second call takes a full batch, the third finds
    # the end and says so; the search is complete, not stopped at its bound.
    settings.SESSIONADMIN_SHARDS = 1
    monkeypatch.setattr(index, "SEARCH_BATCH", 5)
    made = [sid(make_session(ip=f"10.9.0.{n}")) for n in range(10)]
    found = index.search(needle="10.9.0.", count=50)
    assert found.complete is True and sorted(r.id for r in found.records) == sorted(made)
