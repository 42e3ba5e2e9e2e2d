"""The ground floor: plain types every layer shares (the alert model), with no I/O and no imports
from the rest of app, so store, routing, paging and escalation can use them without reaching up.
"""
