"""``{% recent_orders user as orders %}``: order history for pages of other apps."""

from django import template

from cart import services

register = template.Library()


@register.simple_tag
def recent_orders(user, limit: int = 20):
    return services.list_orders(user, limit) if user.is_authenticated else []
