"""Billing's adapter: accounts, balances, statements, receipts and payments over SOAP 1.1."""

from adapters.billing.client import MAX_BATCH, WSDL_PATH, BillingClient, soap_http
from adapters.billing.models import (
    AccountBalance,
    AccountStatus,
    BillingAccount,
    BookedPayment,
    ChargeLine,
    GroupBalance,
    GroupTotals,
    PostedPayment,
    Statement,
    SupplierGroup,
)

__all__ = [
    "MAX_BATCH",
    "WSDL_PATH",
    "AccountBalance",
    "AccountStatus",
    "BillingAccount",
    "BillingClient",
    "BookedPayment",
    "ChargeLine",
    "GroupBalance",
    "GroupTotals",
    "PostedPayment",
    "Statement",
    "SupplierGroup",
    "soap_http",
]
