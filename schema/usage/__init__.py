"""What a caller may still spend: the hourly cost budget (``rateLimitInfo``, GW-1)."""

from schema.usage.budget import CostBudget, cost_budget, rate_limited
from schema.usage.queries import UsageQuery
from schema.usage.types import RateLimitInfo, RateLimitSubject

__all__ = [
    "CostBudget",
    "cost_budget",
    "RateLimitInfo",
    "RateLimitSubject",
    "UsageQuery",
    "rate_limited",
]
