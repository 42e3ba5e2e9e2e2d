"""HTTP edges: the JSON API (alerts, incidents, silences, rules), monitor webhooks and heartbeats,
provider callbacks, and the mapping of domain errors to HTTP answers."""
