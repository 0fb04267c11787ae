"""The shop pages: plain HTML forms (no JavaScript needed) over cart.services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from cart import services
from sessionadmin.decorators import login_required
from sessionadmin.errors import ApiError, ValidationFailed


def _error_text(error: ApiError) -> str:
    if isinstance(error, ValidationFailed) and error.fields:
        return " ".join(m for problems in error.fields.values() for m in problems)
    return error.message


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("back", "")
    return redirect(target if target in {"/products/", "/cart/"} else default)


def products(request: HttpRequest) -> HttpResponse:
    return render(request, "cart/products.html", {"products": services.list_products()})


@never_cache
def cart(request: HttpRequest) -> HttpResponse:
    view = services.view_cart(request.session)
    return render(request, "cart/cart.html", {"cart": view, "max_quantity": services.MAX_QUANTITY})


@require_POST
def add(request: HttpRequest) -> HttpResponse:
    try:
        pid = services.parse_form_whole(
            request.POST.get("product_id"), "product_id", maximum=10**12
        )
        quantity = services.parse_form_whole(
            request.POST.get("quantity", "1"), "quantity", maximum=services.MAX_QUANTITY
        )
        product = services.get_product(pid)
        services.change_line(request.session, pid, quantity, add=True)
    except ApiError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, f"Added {quantity} × {product.name} to your cart.")
    return _back(request, "/products/")


@require_POST
def update(request: HttpRequest) -> HttpResponse:
    try:
        pid = services.parse_form_whole(
            request.POST.get("product_id"), "product_id", maximum=10**12
        )
        quantity = services.parse_form_whole(
            request.POST.get("quantity"), "quantity", maximum=services.MAX_QUANTITY
        )
        services.change_line(request.session, pid, quantity, add=False)
    except ApiError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, "Cart updated.")
    return redirect("cart:cart")


@require_POST
def remove(request: HttpRequest) -> HttpResponse:
    try:
        pid = services.parse_form_whole(
            request.POST.get("product_id"), "product_id", maximum=10**12
        )
        services.remove_line(request.session, pid)
    except ApiError as error:
        messages.error(request, _error_text(error))
    return redirect("cart:cart")


@require_POST
def clear(request: HttpRequest) -> HttpResponse:
    try:
        services.clear_cart(request.session)
    except ApiError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, "Your cart is empty.")
    return redirect("cart:cart")


@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        # After signing in, come back to the cart (checkout itself is POST only).
        messages.info(request, "Sign in to check out; your cart is kept.")
        return redirect_to_login("/cart/")
    try:
        order = services.checkout(request.session, request.user)
    except ApiError as error:
        messages.error(request, _error_text(error))
        return redirect("cart:cart")
    messages.success(request, f"Thank you! Order #{order.pk} is placed ({order.total}).")
    return redirect("cart:orders")


ORDERS_SHOWN = 20


@never_cache
@login_required
def orders(request: HttpRequest) -> HttpResponse:
    """The user's latest orders, newest first (the profile links here)."""
    return render(
        request, "cart/orders.html", {"orders": services.list_orders(request.user, ORDERS_SHOWN)}
    )
