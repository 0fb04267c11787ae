"""``GET /metrics``: the session layer's Prometheus metrics, for loopback and staff only.

Mount it where the scraper expects it: ``path("metrics", metrics_view)``. It answers 404
(not 403: nothing says it exists) to everyone but clients in SESSIONADMIN_METRICS_NETWORKS
(loopback by default) and signed-in staff.

What it serves: this process's counters and round-trip histogram (``sessionadmin.metrics``),
or every worker's added up when ``PROMETHEUS_MULTIPROC_DIR`` is set, and gauges of the
index read from Redis at scrape time (active sessions, signed in, guests, distinct users)
with ``sessionadmin_store_up``, which is 0 while Redis does not answer.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from functools import cache

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from sessionadmin.conf import get_settings
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionadmin.index import queries
from sessionadmin.request import client_ip

_GAUGES = (
    ("sessionadmin_sessions_active", "Live sessions in the index.", "active"),
    ("sessionadmin_sessions_signed_in", "Live signed-in sessions.", "authenticated"),
    ("sessionadmin_sessions_guests", "Live guest sessions.", "anonymous"),
    ("sessionadmin_users_signed_in", "Distinct users with a live session.", "users"),
)


class IndexCollector:
    """Gauges of the index, read from Redis when scraped (the same from any worker)."""

    def collect(self) -> Iterator[Metric]:
        try:
            counts = queries.counts(users=True)
        except SessionStoreUnavailable:
            counts = None
        up = GaugeMetricFamily("sessionadmin_store_up", "1 if the session store answered.")
        up.add_metric([], 0 if counts is None else 1)
        yield up
        if counts is None:
            return
        for name, documentation, key in _GAUGES:
            yield GaugeMetricFamily(name, documentation, value=counts[key])


class ProcessCollector:
    """This process's own metrics (the default registry), when not in multiprocess mode."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def scrape() -> bytes:
    """Return the text exposition of every metric."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # every worker's files, added up
    else:
        registry.register(ProcessCollector())
    registry.register(IndexCollector())
    return generate_latest(registry)


@cache
def _networks(allowed: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(n, strict=False) for n in allowed)


def may_scrape(request: HttpRequest) -> bool:
    """Whether this request may read the metrics: an allowed network, or staff."""
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    networks = _networks(get_settings().metrics_networks)
    if address is not None and any(address in net for net in networks):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD") or not may_scrape(request):
        raise Http404
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
