"""Clients of the legacy systems: protocol, quirks, cache, retries and circuit breakers.

Adapters return clean typed records (dates, decimals, enums) and raise only the
exception tree of :mod:`adapters.errors`. They never import ``schema`` or ``gateway``.
"""
