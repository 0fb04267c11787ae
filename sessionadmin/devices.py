"""Short device labels ("Firefox on Linux") from user agents, with ua-parser."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse


@lru_cache(maxsize=4096)
def device_label(user_agent: str) -> str:
    """Return a short human label for a user agent string."""
    if not user_agent:
        return "Unknown device"
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else "Other"
    system = result.os.family if result.os else "Other"
    if browser == "Other" and system == "Other":
        return user_agent.split("/", 1)[0][:40] or "Unknown device"
    if system == "Other":
        return browser
    return f"{browser} on {system}"
