"""Prometheus metrics of the session layer, kept by prometheus-client.

Counters and the round-trip histogram live in each process. Under gunicorn (several
worker processes) set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before the
workers start (``make serve`` does): the library then keeps them in files there, and a
scrape of any worker adds up every worker's counts (``metrics_view``). Gauges of the index
are read from Redis at scrape time, so they are the same whichever worker answers.
"""

from __future__ import annotations

from bisect import bisect_left

from prometheus_client import Counter, Histogram

LOGINS = Counter("sessionadmin_logins", "Sign-ins: sessions that a user signed in.")
LOGIN_FAILURES = Counter(
    "sessionadmin_login_failures", "Sign-ins refused for a wrong name or password."
)
RATE_LIMITED = Counter("sessionadmin_login_rate_limited", "Sign-ins refused by the login limit.")
SESSIONS_ENDED = Counter(
    "sessionadmin_sessions_ended", "Signed-in sessions ended, by reason.", ["reason"]
)
REVOCATIONS = Counter("sessionadmin_revocations", "Sessions revoked, by who revoked them.", ["by"])
FLAGGED = Counter(
    "sessionadmin_sessions_flagged",
    "Sessions flagged as possibly hijacked, by change.",
    ["change"],
)
STORE_UNAVAILABLE = Counter(
    "sessionadmin_store_unavailable", "Answers 503 because the session store did not answer."
)
STORE_ROUND_TRIP = Histogram(
    "sessionadmin_store_round_trip_seconds",
    "Time of one script call to the session store (one round trip).",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)
_BOUNDS = getattr(STORE_ROUND_TRIP, "_upper_bounds", None)  # the buckets', +Inf last


def store_round_trip(seconds: float) -> None:
    """Observe one round trip to the store: ``STORE_ROUND_TRIP.observe(seconds)``, as
    prometheus-client does it (its sum, and the first bucket whose bound is at least
    ``seconds``), with the bucket found by bisection and none of its per-call checks:
    it runs on every request (about 60 Python opcodes fewer)."""
    if _BOUNDS is None:  # another prometheus-client than the one pinned
        STORE_ROUND_TRIP.observe(seconds)
        return
    STORE_ROUND_TRIP._sum.inc(seconds)
    STORE_ROUND_TRIP._buckets[bisect_left(_BOUNDS, seconds)].inc(1)


def session_ended(reason: str, by: str) -> None:
    """Count one ended signed-in session (and a revocation, with who revoked it)."""
    SESSIONS_ENDED.labels(reason=reason).inc()
    if reason == "revoked":
        REVOCATIONS.labels(by=by or "unknown").inc()
