"""Routing: the skills map (YAML) and the pure functions that pick who to page, and why.

`loader.load_rules(dir)` → `Rules`; `decision.route(rules, alert, now)` → `Decision`;
`coverage`, `maintenance` and `holder` (reload without restart) build on them; `commands` holds
the CLI's check / route / coverage. No I/O besides reading the rules files.
"""
