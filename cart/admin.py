from django.contrib import admin

from cart.models import Order, OrderItem, Product

_DATE_PARTS = {"year", "iso_year"}


class DateQueryAdmin(admin.ModelAdmin):
    """A changelist filtered by a date part out of Python's range (``?created_at__year=
    10000``) raised ValueError as the query ran: a 500 (Django ticket #37357). Such a
    lookup is refused as Django refuses any lookup it does not allow: a 400."""

    def lookup_allowed(self, lookup: str, value: str, request=None) -> bool:
        # Any year in the path: created_at__year, created_at__year__gt, order__...__year__lte.
        if _DATE_PARTS & set(lookup.split("__")[1:]) and not _a_year(value):
            return False
        return super().lookup_allowed(lookup, value, request)


def _a_year(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 4 and int(value) >= 1


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "price", "stock", "active", "created_at"]
    list_editable = ["stock", "active"]
    list_filter = ["active"]
    search_fields = ["name", "description"]


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    readonly_fields = ["product", "name", "price", "quantity", "line_total"]
    can_delete = False


@admin.register(Order)
class OrderAdmin(DateQueryAdmin):
    list_display = ["id", "user", "total", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["user__username", "user__email", "items__name"]
    readonly_fields = ["user", "total", "created_at"]
    inlines = [OrderItemInline]

    def has_add_permission(self, request) -> bool:
        return False  # orders come from checkout only


@admin.register(OrderItem)
class OrderItemAdmin(DateQueryAdmin):
    list_display = ["order", "name", "price", "quantity", "line_total"]
    list_filter = ["order__created_at"]
    search_fields = ["name", "order__user__username"]
    readonly_fields = ["order", "product", "name", "price", "quantity", "line_total"]

    def has_add_permission(self, request) -> bool:
        return False  # order lines come from checkout only
