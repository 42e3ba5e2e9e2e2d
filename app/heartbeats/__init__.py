"""Watching for silence: heartbeats a monitor or cron job must send, Alertmanager Watchdog beats,
our own ping to an external dead-man's switch, and an incident for the lead when a paging
provider is misconfigured or down. Everything raised here enters the store like any alert:
through the writer, as a ParsedAlert.
"""
