"""JSON API routers: alerts, incidents, silences, rules."""
