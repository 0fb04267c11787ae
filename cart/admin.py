from django.contrib import admin

from cart.models import Order, OrderItem, Product


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
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "total", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["user__username", "user__email", "items__name"]
    readonly_fields = ["user", "total", "created_at"]
    inlines = [OrderItemInline]

    def has_add_permission(self, request) -> bool:
        return False  # orders come from checkout only


@admin.register(OrderItem)
class OrderItemAdmin(admin.ModelAdmin):
    list_display = ["order", "name", "price", "quantity", "line_total"]
    list_filter = ["order__created_at"]
    search_fields = ["name", "order__user__username"]
    readonly_fields = ["order", "product", "name", "price", "quantity", "line_total"]

    def has_add_permission(self, request) -> bool:
        return False  # order lines come from checkout only
