"""The ground floor: plain types every layer shares (the alert and the incident's vocabulary),
with no I/O and no imports from the rest of app, so every layer can use them without reaching up.
"""
