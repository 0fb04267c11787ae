"""The active-sessions dashboard inside the Django admin, served by its ModelAdmin
(/admin/sessionadmin/activesession/): rendering, filters, search, pagination, revoke
flows with confirmation and audit, and roles."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.test import Client

from sessionadmin import services
from sessionadmin.models import REVOKE_PERMISSION, VIEW_PERMISSION
from tests.helpers import browser, client_id, cookie_key, grant, pause, sid

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
DASHBOARD = "/admin/sessionadmin/activesession/"
REVOKE = "/admin/sessionadmin/activesession/revoke/"


def page(client: Client, path: str = DASHBOARD, data=None) -> str:
    response = client.get(path, data or {})
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def rows(html: str) -> list[str]:
    """The body rows of the sessions table."""
    table = html.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [r for r in body.split("<tr>")[1:] if "No active sessions match" not in r]


def row_ids(html: str) -> list[str]:
    """Ids of the listed sessions, in order (from each row's checkbox or revoke link)."""
    found = []
    for row in rows(html):
        match = re.search(r"ids=([0-9a-f]{24})", row) or re.search(
            r'name="ids" value="([0-9a-f]{24})"', row
        )
        assert match, row
        found.append(match.group(1))
    return found


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def assert_signed_out(client: Client) -> None:
    response = client.get("/api/profile")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "AUTH_REQUIRED"


def assert_signed_in(client: Client) -> None:
    assert client.get("/api/profile").status_code == 200


def assert_no_raw_key_logged(*raw_keys: str) -> None:
    for entry in LogEntry.objects.all():
        for value in (entry.object_id, entry.object_repr, entry.change_message, str(entry)):
            for raw in raw_keys:
                assert raw
                assert raw not in (value or "")


@pytest.fixture
def boss(make_user, redis):
    return make_user("boss", is_staff=True, is_superuser=True)


@pytest.fixture
def alice(make_user, redis):
    return make_user("alice")


@pytest.fixture
def scene(redis, boss, alice, make_session):
    """Two guests, alice on Firefox (a real browser) and via the engine, boss last."""
    made = {
        "guest_old": make_session(ip="192.0.2.10", user_agent="curl/8.5.0"),
    }
    pause()
    made["alice_ff"] = make_session(user=alice, ip="198.51.100.5", user_agent=FIREFOX)
    pause()
    made["guest_new"] = make_session(ip="192.0.2.20", user_agent=FIREFOX)
    pause()
    alice_browser = browser(alice)
    pause()
    client = browser(boss)
    ids = {name: sid(session) for name, session in made.items()}
    ids["alice_browser"] = client_id(alice_browser)
    ids["boss"] = client_id(client)
    raw = [s.session_key for s in made.values()] + [
        cookie_key(alice_browser),
        cookie_key(client),
    ]
    return {"client": client, "ids": ids, "raw": raw, "alice_browser": alice_browser}


# --- The admin index and the page -------------------------------------------------------


def test_admin_index_links_to_the_dashboard(redis, boss):
    client = browser(boss)
    html = page(client, "/admin/")
    match = re.search(r'<a href="([^"]+)">Active sessions</a>', html)
    assert match, "no Active sessions entry on the admin index"
    # The entry is the ModelAdmin's own changelist URL: the dashboard itself.
    assert match.group(1) == DASHBOARD
    response = client.get(match.group(1))
    assert response.status_code == 200
    assert 'id="result_list"' in response.content.decode()


def test_dashboard_renders_inside_the_admin(scene, boss, alice):
    html = page(scene["client"])
    assert "<title>Active sessions | " in html
    assert '<div class="breadcrumbs"><a href="/admin/">Home</a>' in html
    assert 'id="result_list"' in html
    assert 'id="changelist-filter"' in html
    assert 'id="changelist-search"' in html
    ids = scene["ids"]
    assert row_ids(html) == [
        ids["boss"],
        ids["alice_browser"],
        ids["guest_new"],
        ids["alice_ff"],
        ids["guest_old"],
    ]
    by_id = dict(zip(row_ids(html), rows(html), strict=True))
    alice_link = f'<a href="/admin/auth/user/{alice.pk}/change/">alice</a>'
    assert alice_link in by_id[ids["alice_ff"]]
    assert alice_link in by_id[ids["alice_browser"]]
    assert "Firefox on Linux" in by_id[ids["alice_ff"]]
    assert "198.51.100.5" in by_id[ids["alice_ff"]]
    for guest in ("guest_old", "guest_new"):
        assert "anonymous" in by_id[ids[guest]]
        assert "/admin/auth/user/" not in by_id[ids[guest]]
    assert "Firefox on Linux" in by_id[ids["guest_new"]]
    assert "curl" in by_id[ids["guest_old"]]
    assert f'<a href="/admin/auth/user/{boss.pk}/change/">boss</a>' in by_id[ids["boss"]]
    you = [i for i, row in by_id.items() if re.search(r">\s*you\s*<", row)]
    assert you == [ids["boss"]]
    assert "5 sessions" in html


def test_dashboard_shows_stats_and_a_chart(scene):
    html = page(scene["client"])
    stats = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", html))
    assert stats == {"Active": "5", "Signed in": "3", "Guests": "2", "Distinct users": "2"}
    chart = html.split('<svg role="img"', 1)[1].split("</svg>", 1)[0]
    assert chart.count("<rect") == 5
    assert "5 in the last 1 min" in chart
    assert "5 in the last 24 h" in chart


def test_user_agents_are_escaped(redis, boss, make_session):
    make_session(user_agent='<script>alert("x")</script>')
    html = page(browser(boss))
    assert '<script>alert("x")</script>' not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_no_raw_session_key_appears_in_the_html(scene):
    client, ids = scene["client"], scene["ids"]
    pages = [
        page(client),
        page(client, DASHBOARD, {"authenticated": "false"}),
        page(client, DASHBOARD, {"q": "192.0.2"}),
        page(client, REVOKE, {"ids": list(ids.values())}),
    ]
    for html in pages:
        for raw in scene["raw"]:
            assert raw not in html
    assert all(i in pages[0] for i in ids.values())


# --- Filters, search, pagination --------------------------------------------------------


def test_filter_guests_only(scene):
    html = page(scene["client"], DASHBOARD, {"authenticated": "false"})
    ids = scene["ids"]
    assert row_ids(html) == [ids["guest_new"], ids["guest_old"]]
    assert "/admin/auth/user/" not in "".join(rows(html))
    assert '<li class="selected"><a href="?authenticated=false">' in html


def test_filter_signed_in_only(scene):
    html = page(scene["client"], DASHBOARD, {"authenticated": "true"})
    ids = scene["ids"]
    assert row_ids(html) == [ids["boss"], ids["alice_browser"], ids["alice_ff"]]
    assert all("anonymous" not in row for row in rows(html))


def test_search(scene):
    ids = scene["ids"]
    client = scene["client"]
    assert row_ids(page(client, DASHBOARD, {"q": "192.0.2.10"})) == [ids["guest_old"]]
    assert row_ids(page(client, DASHBOARD, {"q": "FIREFOX"})) == [
        ids["guest_new"],
        ids["alice_ff"],
    ]
    assert row_ids(page(client, DASHBOARD, {"q": "alice"})) == [
        ids["alice_browser"],
        ids["alice_ff"],
    ]
    html = page(client, DASHBOARD, {"q": "nothing-like-this"})
    assert row_ids(html) == []
    assert "No active sessions match." in html
    assert 'value="nothing-like-this"' in html


@pytest.mark.parametrize("by", ["id", "username"])
def test_filter_by_user(scene, alice, by):
    value = str(alice.pk) if by == "id" else "alice"
    html = page(scene["client"], DASHBOARD, {"user": value})
    ids = scene["ids"]
    assert row_ids(html) == [ids["alice_browser"], ids["alice_ff"]]
    assert "Clear user filter" in html


def test_pagination(scene):
    ids = scene["ids"]
    client = scene["client"]
    html = page(client, DASHBOARD, {"page_size": "2", "page": "2"})
    assert row_ids(html) == [ids["guest_new"], ids["alice_ff"]]
    assert "page 2 of 3" in html
    assert 'href="?page_size=2&amp;page=1"' in html
    assert 'href="?page_size=2&amp;page=3"' in html
    last = page(client, DASHBOARD, {"page_size": "2", "page": "3"})
    assert row_ids(last) == [ids["guest_old"]]
    assert "next &rsaquo;" not in last
    first = page(client, DASHBOARD, {"page_size": "2"})
    assert row_ids(first) == [ids["boss"], ids["alice_browser"]]
    assert "&lsaquo; previous" not in first


@pytest.mark.parametrize(
    "query",
    [
        {"page": "abc"},
        {"page": "0"},
        {"page": "²"},
        {"page_size": "201"},
        {"authenticated": "maybe"},
        {"user": "nobody"},
    ],
)
def test_bad_query_redirects_back_with_an_error(scene, query):
    client = scene["client"]
    response = client.get(DASHBOARD, query)
    assert response.status_code == 302
    assert response["Location"] == DASHBOARD
    followed = client.get(response["Location"])
    assert followed.status_code == 200
    html = followed.content.decode()
    assert 'class="messagelist"' in html
    assert 'class="error"' in html
    assert len(row_ids(html)) == 5


# --- Revoke -----------------------------------------------------------------------------


def test_revoke_one_after_confirmation(scene, boss):
    client, ids = scene["client"], scene["ids"]
    victim = scene["alice_browser"]
    victim_key = cookie_key(victim)
    assert_signed_in(victim)
    target = ids["alice_browser"]
    confirm = client.get(REVOKE, {"ids": target})
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert target in html
    assert 'name="confirm" value="yes"' in html
    assert f'<input type="hidden" name="ids" value="{target}">' in html
    assert services.get_session(target) is not None  # nothing ends before the POST
    assert LogEntry.objects.count() == 0
    response = client.post(REVOKE, {"ids": target, "confirm": "yes"}, follow=True)
    assert response.redirect_chain == [(DASHBOARD, 302)]
    assert "Revoked 1 session." in messages_of(response)
    assert "Revoked 1 session." in response.content.decode()
    assert target not in row_ids(response.content.decode())
    assert services.get_session(target) is None
    assert_signed_out(victim)
    entry = LogEntry.objects.get()
    assert entry.action_flag == DELETION
    assert entry.object_id == target
    assert entry.user_id == boss.pk
    assert_no_raw_key_logged(victim_key, *scene["raw"])
    # The admin's "Recent actions" names the session by its public id only.
    index_html = page(client, "/admin/")
    assert f"session {target}" in index_html
    for raw in [victim_key, *scene["raw"]]:
        assert raw not in index_html


def test_post_without_confirm_only_asks(scene):
    client, ids = scene["client"], scene["ids"]
    response = client.post(REVOKE, {"ids": [ids["guest_old"], ids["alice_ff"]]})
    assert response.status_code == 200
    assert "Yes, revoke" in response.content.decode()
    assert services.get_session(ids["guest_old"]) is not None
    assert services.get_session(ids["alice_ff"]) is not None
    assert LogEntry.objects.count() == 0


def test_revoke_selected(scene, boss):
    client, ids = scene["client"], scene["ids"]
    victim = scene["alice_browser"]
    selected = [ids["alice_browser"], ids["guest_old"], ids["alice_ff"]]
    confirm = client.post(REVOKE, {"ids": selected, "action": "revoke"})
    assert confirm.status_code == 200
    assert all(i in confirm.content.decode() for i in selected)
    response = client.post(REVOKE, {"ids": selected, "confirm": "yes"}, follow=True)
    assert response.redirect_chain == [(DASHBOARD, 302)]
    assert "Revoked 3 sessions." in messages_of(response)
    assert row_ids(response.content.decode()) == [ids["boss"], ids["guest_new"]]
    assert all(services.get_session(i) is None for i in selected)
    assert_signed_out(victim)
    entries = LogEntry.objects.filter(user=boss, action_flag=DELETION)
    assert sorted(e.object_id for e in entries) == sorted(selected)
    assert_no_raw_key_logged(*scene["raw"])


def test_revoke_with_nothing_selected_warns(scene):
    client = scene["client"]
    response = client.post(REVOKE, {"confirm": "yes"}, follow=True)
    assert response.redirect_chain == [(DASHBOARD, 302)]
    assert "Select at least one session first." in messages_of(response)
    assert len(row_ids(response.content.decode())) == 5
    assert LogEntry.objects.count() == 0


def test_revoke_all_sessions_of_a_user(scene, boss, alice, make_session):
    client, ids = scene["client"], scene["ids"]
    second = browser(alice)
    victims = [scene["alice_browser"], second]
    raw = [cookie_key(v) for v in victims]
    url = f"/admin/sessionadmin/activesession/user/{alice.pk}/revoke/"
    confirm = client.get(url)
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "All sessions of this user will end" in html
    for i in (ids["alice_browser"], ids["alice_ff"], client_id(second)):
        assert i in html
    assert ids["guest_new"] not in html
    assert services.get_session(ids["alice_ff"]) is not None
    response = client.post(url, {"confirm": "yes"}, follow=True)
    assert response.redirect_chain == [(DASHBOARD, 302)]
    assert "Revoked 3 sessions of the user." in messages_of(response)
    for victim in victims:
        assert_signed_out(victim)
    assert services.list_user_sessions(alice.pk) == []
    assert row_ids(response.content.decode()) == [ids["boss"], ids["guest_new"], ids["guest_old"]]
    entry = LogEntry.objects.get()
    assert entry.action_flag == DELETION
    assert entry.object_id == f"user:{alice.pk}"
    assert entry.user_id == boss.pk
    assert_no_raw_key_logged(*raw, *scene["raw"])


def test_revoke_all_of_an_unknown_user_redirects_with_an_error(scene):
    response = scene["client"].post(
        "/admin/sessionadmin/activesession/user/999999/revoke/", {"confirm": "yes"}, follow=True
    )
    assert response.redirect_chain == [(DASHBOARD, 302)]
    assert "No such user." in messages_of(response)
    assert len(row_ids(response.content.decode())) == 5
    assert LogEntry.objects.count() == 0


# --- Roles ------------------------------------------------------------------------------


def test_staff_with_view_only_sees_no_revoke_controls_and_gets_403(
    redis, make_user, alice, make_session
):
    viewer = grant(make_user("viewer", is_staff=True), VIEW_PERMISSION)
    victim = browser(alice)
    target = client_id(victim)
    client = browser(viewer)
    html = page(client)
    assert len(rows(html)) == 2
    assert f'<a href="/admin/auth/user/{alice.pk}/change/">alice</a>' in html
    assert 'type="checkbox"' not in html
    assert f'href="{REVOKE}' not in html
    assert 'href="/admin/sessionadmin/activesession/user/' not in html
    assert 'class="action-select"' not in html
    assert "Revoke selected sessions" not in html
    for method, url, data in [
        ("get", REVOKE, {"ids": target}),
        ("post", REVOKE, {"ids": target, "confirm": "yes"}),
        ("get", f"/admin/sessionadmin/activesession/user/{alice.pk}/revoke/", {}),
        ("post", f"/admin/sessionadmin/activesession/user/{alice.pk}/revoke/", {"confirm": "yes"}),
    ]:
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, (method, url)
    assert_signed_in(victim)
    assert services.get_session(target) is not None
    assert LogEntry.objects.count() == 0


def test_staff_with_revoke_permission_sees_checkboxes(redis, make_user, make_session):
    staff = grant(make_user("revoker", is_staff=True), VIEW_PERMISSION, REVOKE_PERMISSION)
    guest = make_session()
    client = browser(staff)
    html = page(client)
    assert f'<input type="checkbox" name="ids" value="{sid(guest)}"' in html
    assert f'href="{REVOKE}?ids={sid(guest)}"' in html
    assert "Revoke selected sessions" in html
    response = client.post(REVOKE, {"ids": sid(guest), "confirm": "yes"})
    assert response.status_code == 302
    assert services.get_session(sid(guest)) is None
    assert LogEntry.objects.get().user_id == staff.pk


@pytest.mark.parametrize(
    "url",
    [
        DASHBOARD,
        DASHBOARD + "?authenticated=false",
        REVOKE + "?ids=" + "0" * 24,
        "/admin/sessionadmin/activesession/user/1/revoke/",
    ],
)
def test_anonymous_is_sent_to_the_admin_login(redis, db, url):
    response = Client().get(url)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/admin/login/?next=")
    follow = Client().get(location)
    assert follow.status_code == 200
    assert parse_qs(urlsplit(location).query)["next"] == [url]


def test_anonymous_post_revokes_nothing(redis, make_session):
    guest = make_session()
    response = Client().post(REVOKE, {"ids": sid(guest), "confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert services.get_session(sid(guest)) is not None


@pytest.mark.parametrize("role", ["user", "staff without permission"])
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", DASHBOARD),
        ("get", REVOKE + "?ids={sid}"),
        ("post", REVOKE + "?ids={sid}"),
        ("post", "/admin/sessionadmin/activesession/user/{uid}/revoke/"),
    ],
)
def test_signed_in_without_the_permission_gets_403(
    redis, make_user, alice, make_session, role, method, url
):
    caller = make_user("mallory", is_staff=role != "user")
    victim = make_session(user=alice)
    client = browser(caller)
    response = getattr(client, method)(
        url.format(sid=sid(victim), uid=alice.pk), {"confirm": "yes"} if method == "post" else {}
    )
    if role == "user":
        # The admin's own check (admin_view): not staff, so back to the admin's login,
        # which says the account is not allowed there.
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    else:
        assert response.status_code == 403
        assert "Forbidden" in response.content.decode()
    assert 'id="result_list"' not in response.content.decode()
    assert services.get_session(sid(victim)) is not None
    assert LogEntry.objects.count() == 0
