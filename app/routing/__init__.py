"""Routing: the skills map (YAML) and the pure functions that pick who to page, and why."""
