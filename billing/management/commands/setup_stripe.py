from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError

from billing.payments import gateway
from config.commands import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Create, idempotently, the Stripe catalogue: the usage product, the usage meter, its "
        "metered price (1 cent per unit, lookup key), the credits product and the customer portal "
        "configuration (payment method update, invoice history, no plan switching)."
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
            portal = gateway.portal_configuration_ensure(return_url=f"{settings.SITE_URL}/billing/")
        except gateway.StripeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"usage product {usage_product}")
        self.stdout.write(f"meter {meter} ({settings.STRIPE_METER_EVENT_NAME})")
        self.stdout.write(f"metered price(s) {', '.join(prices)}")
        self.stdout.write(f"credits product {credits_product}")
        self.stdout.write(
            f"customer portal configuration {portal} (set STRIPE_PORTAL_CONFIGURATION_ID={portal}"
            " unless it is your account's default)"
        )
