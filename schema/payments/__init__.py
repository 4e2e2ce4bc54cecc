"""Payments in the schema (PAY-2..5): ``Account.paymentGroups``, ``startPayment`` and the
``paymentUpdated`` subscription. Import from the modules (``schema.payments.types`` is mixed
into ``Account``, which the other modules' imports reach)."""
