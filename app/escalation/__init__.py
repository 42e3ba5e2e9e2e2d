"""Escalation: the incident state machine, the ladder policy and the idempotent tick."""
