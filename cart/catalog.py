"""The catalogue as the cart's reads see it: from this process's memory, briefly.

Showing a cart or the product list needs names, prices and stock, and reading them from
the database made every cart read cost a query. Here each worker keeps the rows it read
for at most ``CART_CATALOG_MAX_AGE`` seconds (30 by default; 0 turns the cache off):

- a product saved or deleted through the ORM in this process is forgotten at once, and
  so are the lines a checkout in this process changed;
- another process's change (the admin in another worker, a ``QuerySet.update()``) is
  seen within the maximum age.

What a shopper pays is never read from here: checkout reads the rows again just before its
transaction, and the stock it decrements is checked by the database (services.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from django.conf import settings

from cart.models import Product

MAX_ENTRIES = 10_000  # products kept per process; more and the oldest reads are dropped

_lock = threading.Lock()
_rows: dict[int, tuple[float, Product | None]] = {}  # id -> (read at, row or None: absent)
_active: tuple[float, list[Product]] | None = None
_forgotten = 0  # forget() calls so far: a read that began before one is not kept


def max_age() -> float:
    return float(getattr(settings, "CART_CATALOG_MAX_AGE", 30))


def active_products() -> list[Product]:
    """The products on sale, in the catalogue's order."""
    global _active
    now = time.monotonic()
    cached = _active
    if cached is not None and now - cached[0] < max_age():
        return cached[1]
    began = _forgotten
    products = list(Product.objects.filter(active=True))
    with _lock:
        if began == _forgotten:
            _active = (now, products)
    return products


def products(ids: Iterable[int]) -> dict[int, Product]:
    """The products with these ids, sold or not; an id with no row is left out."""
    now, age = time.monotonic(), max_age()
    wanted = set(ids)
    found: dict[int, Product] = {}
    missing = []
    for pid in wanted:
        entry = _rows.get(pid)
        if entry is None or now - entry[0] >= age:
            missing.append(pid)
        elif entry[1] is not None:
            found[pid] = entry[1]
    if missing:
        began = _forgotten
        read = {p.pk: p for p in Product.objects.filter(pk__in=missing)}
        found.update(read)
        if age > 0:
            with _lock:
                if began != _forgotten:  # a product changed meanwhile: keep nothing read
                    return found
                if len(_rows) + len(missing) > MAX_ENTRIES:
                    _rows.clear()
                _rows.update({pid: (now, read.get(pid)) for pid in missing})
    return found


def forget(ids: Iterable[int] | None = None) -> None:
    """Drop what this process holds of these products (all of them when None)."""
    global _active, _forgotten
    with _lock:
        _forgotten += 1
        _active = None
        if ids is None:
            _rows.clear()
        else:
            for pid in ids:
                _rows.pop(pid, None)
