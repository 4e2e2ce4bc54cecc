"""HTTP routes that are not GraphQL: health, readiness (later webhooks, receipts, metrics)."""
