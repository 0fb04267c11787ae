from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_delete, post_save


class CartConfig(AppConfig):
    name = "cart"
    verbose_name = "Cart"

    def ready(self) -> None:
        from cart import catalog
        from cart.models import Product

        def forget(sender, instance: Product, using: str = "default", **kwargs: object) -> None:
            pk = instance.pk
            catalog.forget([pk])
            # Again once committed: a read between the save and the commit saw the old row.
            transaction.on_commit(lambda: catalog.forget([pk]), using=using)

        # A product changed in this process is read again at once (catalog.py).
        post_save.connect(forget, sender=Product, dispatch_uid="cart.catalog.forget", weak=False)
        post_delete.connect(
            forget, sender=Product, dispatch_uid="cart.catalog.forget.delete", weak=False
        )
