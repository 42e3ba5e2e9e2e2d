"""Ingest: one pure parser per monitor turns an exact request body into `ParsedAlert`s.

The router authenticates and hands the parsed alerts to the single writer, which commits them
before the monitor gets its 202.
"""
