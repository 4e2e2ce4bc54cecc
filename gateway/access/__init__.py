"""API access beyond identity (GW-1, GW-3): usage budgets and rate limits per caller, the
partners' persisted operations, automatic persisted queries for the first-party apps."""
