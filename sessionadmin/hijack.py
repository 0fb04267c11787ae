"""Hijack signals: a signed-in session whose network or browser changes mid-session.

A stolen cookie is usually replayed from another network, by another browser. Each
request of a signed-in session is compared with what the session last recorded (its
sign-in's, until the next write): its IP leaving that network (a /24 for IPv4, a /48 for
IPv6, both settings), or its user agent's browser family or OS changing (parsed, so a
browser update is no change). What tells nothing is no evidence: no address or agent
recorded, IPv4 against IPv6 (dual-stack browsers alternate), a token's network (scripts
and apps move). Either flags the session once per kind of change, logs a
``suspicious`` event, and, with ``SESSION_ON_SUSPICIOUS = "end"``, ends it (reason
``revoked``, by ``suspicious``): the request goes on signed out.

The common case costs two string comparisons: parsing happens only when they differ.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from ua_parser import parse

from sessionadmin import metrics
from sessionadmin.backends.redis import MAX_USER_AGENT, SessionStore
from sessionadmin.conf import get_settings
from sessionadmin.devices import device_label
from sessionadmin.index.actions import flag


def changes(session: SessionStore) -> list[str]:
    """Return what changed since the session's last record: "network", "agent"."""
    meta, client = session.meta, session.client
    agent = client.user_agent[:MAX_USER_AGENT]
    if meta is None or (client.ip == meta.ip and agent == meta.user_agent):
        return []  # the common case, on every signed-in request: nothing to parse
    found = []
    # A token's scripts and apps move between networks as a matter of course.
    moved = meta.kind != "token" and client.ip != meta.ip
    if moved and networks_differ(network(client.ip), network(meta.ip)):
        found.append("network")
    if agent != meta.user_agent and families_differ(family(agent), family(meta.user_agent)):
        found.append("agent")
    return found


def networks_differ(one: str, other: str) -> bool:
    """Whether two networks differ. An address not known (none recorded) is no evidence,
    nor is IPv4 against IPv6: a dual-stack browser alternates them (Happy Eyeballs)."""
    return bool(one and other and one != other and (":" in one) == (":" in other))


def families_differ(one: tuple[str, str], other: tuple[str, str]) -> bool:
    """Whether two agents are another browser or OS; what either cannot tell ("Other",
    no header) is no evidence of a change."""
    return any(
        a != b and "Other" not in (a, b) and "" not in (a, b)
        for a, b in zip(one, other, strict=True)
    )


def check(session: SessionStore) -> bool:
    """Flag (or end) a loaded signed-in session that changed; return True if it ended."""
    conf = get_settings()
    meta = session.meta
    if conf.on_suspicious == "off" or meta is None or not meta.user_id:
        return False
    found = changes(session)
    if not found:
        return False  # the common case, on every signed-in request
    new = [change for change in found if change[0] not in meta.flags]
    if not new:
        return False
    label = device_label(session.client.user_agent)
    for change in new:
        if flag(session.session_id, change, session.client.ip, label):
            metrics.FLAGGED.labels(change=change).inc()
    # What this request shows of its own session (the profile, "your sessions") says so.
    session.meta = meta._replace(flags=meta.flags + "".join(change[0] for change in new))
    if conf.on_suspicious == "end":
        session.end_reason = "revoked:suspicious"
        try:
            session.flush()
        finally:
            session.end_reason = None
        return True
    return False


@lru_cache(maxsize=4096)
def network(ip: str) -> str:
    """Return the network an IP is judged by (the prefixes are settings); "" if none."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    conf = get_settings()
    bits = conf.suspicious_ipv4_prefix if address.version == 4 else conf.suspicious_ipv6_prefix
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


@lru_cache(maxsize=4096)
def family(user_agent: str) -> tuple[str, str]:
    """Return (browser family, OS family) of a user agent."""
    if not user_agent:
        return "", ""
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else "Other"
    system = result.os.family if result.os else "Other"
    return browser, system
