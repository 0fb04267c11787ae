from django.urls import path

from cart import api, views

app_name = "cart"

urlpatterns = [
    path("products/", views.products, name="products"),
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.add, name="add"),
    path("cart/update/", views.update, name="update"),
    path("cart/remove/", views.remove, name="remove"),
    path("cart/clear/", views.clear, name="clear"),
    path("cart/checkout/", views.checkout, name="checkout"),
    path("orders/", views.orders, name="orders"),
    path("api/products", api.products),
    path("api/cart", api.cart),
    path("api/cart/items", api.add_item),
    path("api/cart/items/<str:product_id>", api.item),
    path("api/checkout", api.checkout),
    path("api/orders", api.orders),
]
