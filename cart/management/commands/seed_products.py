"""``manage.py seed_products``: the demo catalogue; running it again changes nothing."""

from decimal import Decimal

from django.core.management.base import BaseCommand

from cart.models import Product

DEMO_PRODUCTS = [
    ("Espresso beans, 1 kg", "Dark roast, for espresso machines.", "24.90", 40),
    ("Pour-over kettle", "Gooseneck kettle, 1 litre, stainless steel.", "49.00", 15),
    ("Ceramic mug", "350 ml, dishwasher safe.", "12.50", 100),
    ("Hand grinder", "Conical burrs, 30 settings.", "89.00", 8),
    ("Paper filters (100)", "For size 02 drippers.", "6.90", 200),
    ("Limited-edition tin", "Only a handful were made.", "19.00", 5),
]


class Command(BaseCommand):
    help = "Create the demo products that do not exist yet (by name)."

    def handle(self, *args, **options) -> None:
        created = 0
        for name, description, price, stock in DEMO_PRODUCTS:
            _, made = Product.objects.get_or_create(
                name=name,
                defaults={"description": description, "price": Decimal(price), "stock": stock},
            )
            created += made
        self.stdout.write(
            f"demo products: {created} created, {len(DEMO_PRODUCTS) - created} already there"
        )
