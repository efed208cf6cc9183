"""Routing: load balancing, retries, fallbacks, timeouts and model health, as composition
around the single-attempt path (plan and policy are pure; the runner does the waiting)."""
