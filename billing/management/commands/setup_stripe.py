from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError

from billing.payments import gateway
from config.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Create, idempotently, the Stripe catalogue: the usage product, the usage meter, its "
        "metered price (1 cent per unit, lookup key) and the credits product."
    )
    examples = ("setup_stripe",)

    def handle(self, *args, **options):
        try:
            usage_product = gateway.product_ensure(key="hopsbill_usage", name="Hopsworks usage")
            meter = gateway.meter_ensure(
                event_name=settings.STRIPE_METER_EVENT_NAME,
                display_name="Hopsworks usage (cents)",
            )
            prices = [
                gateway.metered_price_ensure(
                    lookup_key=key,
                    product_id=usage_product,
                    meter_id=meter,
                    unit_amount_decimal="1",
                    currency=settings.BILLING_CURRENCY,
                )
                for key in gateway.metered_price_lookup_keys()
            ]
            credits_product = gateway.product_ensure(
                key="hopsbill_credits", name="Hopsworks credits"
            )
        except gateway.StripeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"usage product {usage_product}")
        self.stdout.write(f"meter {meter} ({settings.STRIPE_METER_EVENT_NAME})")
        self.stdout.write(f"metered price(s) {', '.join(prices)}")
        self.stdout.write(f"credits product {credits_product}")
