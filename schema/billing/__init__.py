"""Statements, receipts and payment history in the schema (CHG-1, CHG-2, PAY-1).

Import from ``schema.billing.types`` (``Payment``, ``SupplierGroup``, ``PaymentStatus``,
``BillingAccountFields``); this package imports nothing itself, because
``schema.context`` needs ``schema.billing.loaders`` while the types need the context.
"""
