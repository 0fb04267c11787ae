"""Small helpers shared by the tests: sessions by public id, signed-in clients, permissions."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.test import Client
from redis.cluster import RedisCluster

from sessionadmin.index import queries
from sessionadmin.store import keys

# The keys of API.md's session object.
SESSION_KEYS = {
    "id",
    "current",
    "user",
    "ip",
    "user_agent",
    "device",
    "created_at",
    "last_activity",
    "login_at",
    "expires_at",
    "requests",
    "kind",  # "browser" or "token" (API.md, "Token sessions")
    "name",
    "suspicious",  # what changed mid-session: "network", "agent" (hijack flags)
}


def grant(user, *permissions: str):
    """Give ``user`` the named "app_label.codename" permissions and return it."""
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def browser(user) -> Client:
    """A client signed in as ``user`` (its session made by the real engine)."""
    client = Client()
    client.force_login(user)
    return client


def cookie_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def client_id(client: Client) -> str:
    """The public id of a client's session."""
    return keys.session_id(cookie_key(client))


def sid(session) -> str:
    """The public id of a SessionStore."""
    return keys.session_id(session.session_key)


def pause() -> None:
    """Sessions are ordered by last activity in ms: keep creation times apart."""
    time.sleep(0.005)


class StaffMember(User):
    """A proxy of the user model, as a project might keep for its own admin."""

    class Meta:
        proxy = True
        app_label = "auth"


def stored_keys(redis) -> set[bytes]:
    """Every key in the test database but the event log (which keeps what happened)."""
    logs = {keys.events_log(shard).encode() for shard in keys.shards()}
    return {k for k in redis.keys("*", **every_master(redis)) if k not in logs}


def index_members(redis, name: str) -> set[str]:
    """The members of one index ("guests", "auth", "users") over every shard; "all":
    the sessions indexed as live or not yet reported ended (guests and ``auth``'s
    entries that are no tombstones), the activity index as listings see it."""
    if name == "all":
        return {
            m.decode()
            for shard in keys.shards()
            for index in keys.indexes(shard)
            for m in redis.zrangebyscore(index, 0, "+inf")
        }
    return {m.decode() for shard in keys.shards() for m in _members_of(redis, shard, name)}


def user_session_ids(redis, user_id: str) -> set[str]:
    """The ids the index holds as a user's sessions, wherever it keeps them: a user's one
    session in its shard's bucket (keys.single_sessions), more in the user's sorted set."""
    one = redis.hget(keys.single_sessions(user_id), user_id)
    many = {m.decode() for m in redis.zrange(keys.user_index(user_id), 0, -1)}
    assert not (one and many), "a user is in the bucket or has a set, never both"
    return {one.decode()} if one else many


def index_sets(shard: int, name: str) -> list[str]:
    """The sorted sets of one index of a shard: "users" is in buckets (keys.users_bucket)."""
    if name == "users":  # (lua/user_count.lua walks them so)
        return [f"{keys.prefix(shard)}:users:{n:02x}" for n in range(keys.USER_BUCKETS)]
    return [f"{keys.prefix(shard)}:{name}"]


def _members_of(redis, shard: int, name: str) -> list[bytes]:
    return [m for index in index_sets(shard, name) for m in redis.zrange(index, 0, -1)]


def tombstones(redis) -> set[str]:
    """The ids of signed-in sessions kept in ``auth`` as tombstones, every shard."""
    return {
        m.decode()
        for shard in keys.shards()
        for m in redis.zrangebyscore(keys.auth_index(shard), "-inf", "(0")
    }


def sign_in_count(redis) -> int:
    """How many sign-in records the store holds, all shards."""
    return sum(
        redis.hlen(name)
        for shard in keys.shards()
        for name in (keys.sign_ins(shard), *keys.sign_in_buckets(shard))
    )


def guest_write_in_shard(shard: int) -> None:
    """Another client's guest session written in ``shard``: its write trims that shard's
    index (write.lua), as traffic in the shard would."""
    from sessionadmin.backends.redis import SessionStore

    store = SessionStore()
    store._session_key = keys.draw_key(shard)
    store._session_cache = {"views": 1}  # new: never loaded (an unknown key is dropped)
    store.save(must_create=True)


def every_master(redis) -> dict:
    """Keyword arguments that send a server command to every master of a cluster (none
    on one server)."""
    return {"target_nodes": RedisCluster.PRIMARIES} if isinstance(redis, RedisCluster) else {}


def walk_by_cursor(count: int) -> list[str]:
    """Every listed session id, page by page from the top by cursor."""
    walked, cursor = [], None
    while True:
        found, cursor = queries.page_after(authenticated_only=False, cursor=cursor, count=count)
        walked += [r.id for r in found]
        if cursor is None:
            return walked


def walk_by_page(count: int, pages: int) -> list[str]:
    """The listed session ids of the first ``pages`` pages by number."""
    return [
        r.id
        for offset in range(0, pages * count, count)
        for r in queries.page(authenticated_only=False, offset=offset, count=count)
    ]


class UnreachableDirectoryBackend:
    """An authentication backend whose directory does not answer (an LDAP outage): it
    raises on every check, so authenticate() sends no user_login_failed."""

    def authenticate(self, request, **credentials):
        raise RuntimeError("the directory does not answer")


def refused_pttl_is_a_503(client, caplog, monkeypatch, make_alice, refused) -> None:
    """With the store's Redis user refused PTTL (part of every read): a read, then a
    user's second sign-in (whose write script Redis wraps the refusal in: it sends PTTL
    as it moves the user's first session into the user's set), each a 503 in the API's
    shape, logged with Redis's reason; ``refused()`` lists what the ACL LOG recorded."""
    from sessionadmin import errors

    assert client.get("/api/session").status_code == 200  # a new session: no PTTL
    monkeypatch.setattr(errors, "_last_outage_log", float("-inf"))  # logged once a minute
    caplog.clear()
    response = client.get("/api/session")
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "SESSION_STORE_UNAVAILABLE"
    assert "no permissions to run the 'pttl' command" in caplog.text
    assert sorted(refused()) == [("app", "pttl")]
    make_alice()
    monkeypatch.setattr(errors, "_last_outage_log", float("-inf"))
    caplog.clear()
    client.cookies.clear()  # no session to read first: the sign-in's write script
    login = {"username": "alice", "password": "correct horse 9"}
    first = client.post("/api/login", login, content_type="application/json")
    assert first.status_code == 200, first.content  # a user's one session: no PTTL
    client.cookies.clear()
    response = client.post("/api/login", login, content_type="application/json")
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "SESSION_STORE_UNAVAILABLE"
    assert "can't run this command" in caplog.text
    assert sorted(refused()) == [("app", "pttl"), ("app", "pttl")]


class AtomicAroundSessions:
    """A project's middleware above SessionMiddleware that wraps the whole request in one
    transaction: what the request writes is committed after the session's response step."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        from django.db import transaction

        with transaction.atomic():
            return self.get_response(request)


class StoreFailsInHere:
    """A project's middleware (below sessionadmin's) whose own use of the session store
    fails, as a sign-in made in a middleware does when Redis is down; nothing is written to
    the session first. Only for requests sending ``X-Store-Fails``."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        from sessionadmin.exceptions import SessionStoreUnavailable

        if "HTTP_X_STORE_FAILS" in request.META:
            raise SessionStoreUnavailable("the store did not answer")
        return self.get_response(request)


class SessionFromHeader:
    """A project's middleware (below sessionadmin's SessionMiddleware) that takes the session
    key from an ``X-Session`` header, as an app without cookies sends it."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        from sessionadmin.backends.redis import SessionStore

        if "HTTP_X_SESSION" in request.META:
            request.session = SessionStore(request.META["HTTP_X_SESSION"])
        return self.get_response(request)
