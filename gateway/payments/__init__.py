"""Card payments (PAY-2..5): what can be paid, starting a payment at the acquirer, its
webhooks, booking in billing through the outbox, reconciliation and live status."""
