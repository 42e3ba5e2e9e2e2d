"""Which lines of a module write a table: SQLAlchemy Core, the ORM, our insert helpers, raw SQL.

The owner tests (`tests/test_table_owners.py`, `tests/paging/test_outbox_owner.py`) read app/'s
source with it, so a second writer of a table fails a test instead of waiting for review.
"""

import ast
import re
from dataclasses import dataclass

_WRITES = {"insert", "update", "delete"}
# Helpers that write whichever table they are given.
_TABLE_WRITERS = {"insert_ignore", "insert_returning_ids", "bulk_insert", "bulk_update"}


@dataclass(frozen=True, slots=True)
class Table:
    """A table as code names it: `tables["<name>"]`, or its ORM class."""

    name: str
    orm: str

    def named_by(self, node: ast.AST, aliases: set[str]) -> bool:
        """`tables["pages"]`, the ORM class `Page` (or its table), or a name bound to one."""
        if isinstance(node, ast.Subscript):
            return isinstance(node.slice, ast.Constant) and node.slice.value == self.name
        if isinstance(node, ast.Attribute) and node.attr == "__table__":
            return self.named_by(node.value, aliases)
        return isinstance(node, ast.Name) and (node.id == self.orm or node.id in aliases)

    def raw_sql(self) -> re.Pattern[str]:
        """INSERT / UPDATE / DELETE of the table in SQL text."""
        verbs = r"(insert\s+(or\s+\w+\s+)?into|update|delete\s+from)"
        return re.compile(rf"\b{verbs}\s+\"?{self.name}\b", re.IGNORECASE)


PAGES = Table("pages", "Page")
INCIDENTS = (Table("incidents", "Incident"), Table("incident_events", "IncidentEvent"))


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def writes(source: str, table: Table = PAGES) -> list[int]:
    """Lines of `source` that write `table` (SQLAlchemy Core, ORM, helpers, raw SQL)."""
    tree = ast.parse(source)
    aliases = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and table.named_by(node.value, set())
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    # `Incident(...)` builds an ORM row only where the name is the mapped class (the incident
    # core has a domain `Incident` of its own).
    orm = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "app.store.tables"
        and any(alias.name == table.orm for alias in node.names)
        for node in ast.walk(tree)
    )
    found = [node for node in ast.walk(tree) if _writes(node, table, aliases, orm=orm)]
    return sorted(node.lineno for node in found if isinstance(node, ast.expr))


def _writes(node: ast.AST, table: Table, aliases: set[str], *, orm: bool) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and table.raw_sql().search(node.value) is not None
    if not isinstance(node, ast.Call):
        return False
    name, args = _callee(node), [*node.args, *(k.value for k in node.keywords)]
    if name in _WRITES:
        return bool(args) and table.named_by(args[0], aliases)
    if name in _TABLE_WRITERS:
        return any(table.named_by(arg, aliases) for arg in args)
    return orm and name == table.orm  # an ORM row, to add to a session
