"""The session cart and checkout.

The cart is a map product id -> quantity kept with the session by
``sessionadmin.items``: every change is one atomic Redis script, so concurrent requests
of one session never lose each other's updates, and the session's own save never
overwrites the cart. Names and prices always come from the catalogue, never from the
session or the client.

Checkout first *takes* the cart (atomically removes it), then decrements stock with a
conditional UPDATE per line inside one database transaction. Two concurrent checkouts of
one session cannot both get the items, and a checkout retried after a lost answer finds
the cart empty (400 ``CART_EMPTY``) instead of ordering twice. If the transaction fails,
the items are put back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import F

from cart import catalog
from cart.models import Order, OrderItem, Product
from sessionadmin import items as session_items
from sessionadmin.errors import ApiError, NotFound, RateLimited, ValidationFailed
from sessionadmin.exceptions import SessionStoreUnavailable
from sessionsite.http import is_whole_number

logger = logging.getLogger("cart")

NAMESPACE = "cart"
MAX_LINES = 50  # distinct products in one cart
MAX_QUANTITY = 99  # of one product


class Conflict(ApiError):
    status, code, message = 409, "CONFLICT", "The request conflicts with the current state."


class InsufficientStock(ApiError):
    status, code = 409, "INSUFFICIENT_STOCK"
    message = "Not enough stock for that quantity."


class CartEmpty(ApiError):
    code, message = "CART_EMPTY", "Your cart is empty."


@dataclass(frozen=True)
class Line:
    product_id: int
    name: str
    price: Decimal | None
    quantity: int
    available: bool

    @property
    def line_total(self) -> Decimal:
        return (self.price or Decimal(0)) * self.quantity if self.available else Decimal(0)


@dataclass(frozen=True)
class CartView:
    lines: list[Line]

    @property
    def total_items(self) -> int:
        return sum(line.quantity for line in self.lines if line.available)

    @property
    def total_price(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0.00"))

    @property
    def has_unavailable(self) -> bool:
        return any(not line.available for line in self.lines)


def parse_whole(value: Any, field: str, *, maximum: int) -> int:
    """Return ``value`` if it is a whole number from 1 to ``maximum``, else 400.

    JSON only: ``true``, ``1.5``, ``"2"``, ``null``, ``[1]`` and ``1e9`` are all refused.
    """
    if type(value) is not int or not 1 <= value <= maximum:
        message = f"Must be a whole number from 1 to {maximum}."
        raise ValidationFailed(fields={field: [message]})
    return value


def parse_form_whole(value: str | None, field: str, *, maximum: int) -> int:
    """The page forms' version: a decimal string of a whole number from 1 to ``maximum``."""
    text = (value or "").strip()
    if not is_whole_number(text, max_digits=6):
        raise ValidationFailed(fields={field: [f"Must be a whole number from 1 to {maximum}."]})
    return parse_whole(int(text), field, maximum=maximum)


def get_product(product_id: int) -> Product:
    """Return an active product, or raise 404."""
    product = catalog.products([product_id]).get(product_id)
    if product is None or not product.active:
        raise NotFound("No such product.")
    return product


def list_products() -> list[Product]:
    return catalog.active_products()


def _view(items: dict[str, int], *, fresh: bool = False) -> CartView:
    """The cart's lines with names and prices from the catalogue (``fresh``: read now)."""
    ids = [int(pid) for pid in items]
    if fresh:
        products = {p.pk: p for p in Product.objects.filter(pk__in=ids)}
    else:
        products = catalog.products(ids)
    lines = []
    for pid in sorted(ids):
        product = products.get(pid)
        available = product is not None and product.active
        lines.append(
            Line(
                product_id=pid,
                name=product.name if product else "Product no longer sold",
                price=product.price if product else None,
                quantity=items[str(pid)],
                available=available,
            )
        )
    return CartView(lines)


def _session_gone() -> Conflict:
    return Conflict("Your session ended while this request ran; reload and try again.")


def view_cart(session: SessionBase) -> CartView:
    """Return the cart with names and prices read from the catalogue."""
    return _view(session_items.get_items(session, NAMESPACE))


def change_line(session: SessionBase, product_id: int, quantity: int, *, add: bool) -> CartView:
    """Add ``quantity`` of a product (``add``) or set its line to it; atomic per session."""
    product = get_product(product_id)
    try:
        items = session_items.change_item(
            session,
            NAMESPACE,
            str(product.pk),
            quantity,
            add=add,
            cap=product.stock,
            max_per_item=MAX_QUANTITY,
            max_items=MAX_LINES,
        )
    except session_items.OverItemLimit as exc:
        raise ValidationFailed(
            fields={"quantity": [f"At most {MAX_QUANTITY} of one product per order."]},
            in_cart=exc.current,
        ) from exc
    except session_items.OverCap as exc:
        raise InsufficientStock(
            f"Only {product.stock} of {product.name} in stock.",
            stock=product.stock,
            in_cart=exc.current,
        ) from exc
    except session_items.TooManyItems as exc:
        raise ValidationFailed(
            fields={"product_id": [f"A cart holds at most {MAX_LINES} different products."]}
        ) from exc
    except session_items.SessionGone as exc:
        raise _session_gone() from exc
    except session_items.TooManyNewSessions as exc:
        raise RateLimited(
            60, "Too many new visitors from your address; retry in a minute."
        ) from exc
    return _view(items)


def remove_line(session: SessionBase, product_id: int) -> CartView:
    """Remove a product's line (also one no longer sold); nothing happens if absent."""
    try:
        return _view(session_items.remove_item(session, NAMESPACE, str(product_id)))
    except session_items.SessionGone as exc:
        raise _session_gone() from exc


def clear_cart(session: SessionBase) -> CartView:
    try:
        session_items.clear_items(session, NAMESPACE)
    except session_items.SessionGone as exc:
        raise _session_gone() from exc
    return CartView([])


def checkout(session: SessionBase, user: AbstractBaseUser) -> Order:
    """Turn the cart into an order in one transaction; the cart is then empty.

    Raise CartEmpty, Conflict (a line is no longer sold) or InsufficientStock; on any
    failure the cart is given back unchanged.
    """
    try:
        taken = session_items.take_items(session, NAMESPACE)
    except session_items.SessionGone as exc:
        raise _session_gone() from exc
    if not taken:
        raise CartEmpty()
    try:
        # The prices paid are read in this request, never from the catalogue's cache.
        return _place_order(user, _view(taken, fresh=True))
    except BaseException:
        _give_back(session, taken)
        raise
    finally:
        catalog.forget(int(pid) for pid in taken)  # their stock changed, or may have


def _give_back(session: SessionBase, taken: dict[str, int]) -> None:
    """Put a failed checkout's cart back; say so in the log if it cannot be."""
    try:
        session_items.restore_items(session, NAMESPACE, taken)
    except (session_items.SessionGone, SessionStoreUnavailable) as exc:
        # The checkout's own error still reaches the client; this one only the log.
        logger.error(
            "a failed checkout's cart (%d products) could not be given back: %s",
            len(taken),
            "the session ended" if isinstance(exc, session_items.SessionGone) else exc,
        )


def _place_order(user: AbstractBaseUser, cart: CartView) -> Order:
    if cart.has_unavailable:
        raise Conflict("Some items are no longer sold; remove them from your cart first.")
    with transaction.atomic():
        order = Order.objects.create(user=user, total=cart.total_price)
        for line in cart.lines:  # sorted by product id: a stable lock order
            # The stock check and the decrement are one statement: no oversell, even
            # with concurrent checkouts (SQLite serialises writers with IMMEDIATE
            # transactions; PostgreSQL locks the row).
            updated = Product.objects.filter(
                pk=line.product_id, active=True, stock__gte=line.quantity
            ).update(stock=F("stock") - line.quantity)
            if not updated:
                raise InsufficientStock(f"Not enough {line.name} left in stock.")
            OrderItem.objects.create(
                order=order,
                product_id=line.product_id,
                name=line.name,
                price=line.price,
                quantity=line.quantity,
                line_total=line.line_total,
            )
    return order


def list_orders(user: AbstractBaseUser, limit: int | None = None) -> list[Order]:
    """Return the user's orders, newest first, with their items."""
    orders = Order.objects.filter(user=user).prefetch_related("items")
    return list(orders[:limit] if limit else orders)


def cart_dict(cart: CartView) -> dict[str, Any]:
    """Return API.md's ``<cart>`` (plus ``available`` on each line)."""
    return {
        "items": [
            {
                "product_id": line.product_id,
                "name": line.name,
                "price": str(line.price) if line.price is not None else None,
                "quantity": line.quantity,
                "line_total": str(line.line_total),
                "available": line.available,
            }
            for line in cart.lines
        ],
        "total_items": cart.total_items,
        "total_price": str(cart.total_price),
    }


def order_dict(order: Order) -> dict[str, Any]:
    """Return API.md's ``<order>``."""
    return {
        "id": order.pk,
        "items": [
            {
                "product_id": item.product_id,
                "name": item.name,
                "price": str(item.price),
                "quantity": item.quantity,
                "line_total": str(item.line_total),
            }
            for item in order.items.all()
        ],
        "total": str(order.total),
        "created_at": order.created_at.isoformat(),
    }


def product_dict(product: Product) -> dict[str, Any]:
    return {
        "id": product.pk,
        "name": product.name,
        "price": str(product.price),
        "stock": product.stock,
    }
