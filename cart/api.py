"""The cart JSON API (API.md): products, cart lines, checkout, orders."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache

from cart import services
from sessionadmin.decorators import login_required
from sessionadmin.errors import NotFound, json_response
from sessionsite.http import api_view, is_whole_number, json_body


def _product_id(raw: str) -> int:
    if not is_whole_number(raw):
        raise NotFound("No such product.")
    return int(raw)


@api_view("GET")
def products(request: HttpRequest) -> HttpResponse:
    return json_response({"results": [services.product_dict(p) for p in services.list_products()]})


@never_cache
@api_view("GET", "DELETE")
def cart(request: HttpRequest) -> HttpResponse:
    if request.method == "DELETE":
        return json_response(services.cart_dict(services.clear_cart(request.session)))
    return json_response(services.cart_dict(services.view_cart(request.session)))


@never_cache
@api_view("POST")
def add_item(request: HttpRequest) -> HttpResponse:
    body = json_body(request)
    if "product_id" not in body:
        raise services.ValidationFailed(fields={"product_id": ["This field is required."]})
    product_id = services.parse_whole(body["product_id"], "product_id", maximum=10**12)
    quantity = services.parse_whole(
        body.get("quantity", 1), "quantity", maximum=services.MAX_QUANTITY
    )
    view = services.change_line(request.session, product_id, quantity, add=True)
    return json_response(services.cart_dict(view))


@never_cache
@api_view("PUT", "DELETE")
def item(request: HttpRequest, product_id: str) -> HttpResponse:
    pid = _product_id(product_id)
    if request.method == "DELETE":
        return json_response(services.cart_dict(services.remove_line(request.session, pid)))
    body = json_body(request)
    if "quantity" not in body:
        raise services.ValidationFailed(fields={"quantity": ["This field is required."]})
    quantity = services.parse_whole(body["quantity"], "quantity", maximum=services.MAX_QUANTITY)
    view = services.change_line(request.session, pid, quantity, add=False)
    return json_response(services.cart_dict(view))


@never_cache
@api_view("POST")
@login_required
def checkout(request: HttpRequest) -> HttpResponse:
    order = services.checkout(request.session, request.user)
    return json_response({"order": services.order_dict(order)}, status=201)


@never_cache
@api_view("GET")
@login_required
def orders(request: HttpRequest) -> HttpResponse:
    return json_response(
        {"results": [services.order_dict(o) for o in services.list_orders(request.user)]}
    )
