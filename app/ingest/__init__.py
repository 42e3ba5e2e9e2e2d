"""Ingest: one pure parser per monitor turns an exact request body into `ParsedAlert`s.

The webhook handlers (`app.api.webhooks`) authenticate and hand the parsed alerts to the single
writer, which commits them before the monitor gets its 202.
"""
