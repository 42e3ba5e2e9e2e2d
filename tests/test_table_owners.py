"""One owner per table: only the module named here writes (inserts, updates, deletes) its table.

Read from the source: every `insert(...)`, `update(...)`, `delete(...)` and `insert_ignore(conn,
table, ...)` in app/ whose table is a `Base.metadata.tables["name"]` alias or a mapped class."""

import ast
from pathlib import Path

import pytest

from app.store.tables import Base

APP = Path(__file__).resolve().parent.parent / "app"
OWNERS = {
    "incidents": "incidents/store.py",
    "incident_events": "incidents/store.py",
    "note_visibility": "incidents/store.py",
    "engineer_states": "store/engineer_states.py",
}
_WRITES = {"insert", "update", "delete"}
_CLASSES = {m.class_.__name__: str(m.class_.__tablename__) for m in Base.registry.mappers}


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Module names bound to `Base.metadata.tables["name"]`."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript):
            key = node.value.slice
            if isinstance(key, ast.Constant) and ast.unparse(node.value.value).endswith("tables"):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = str(key.value)
    return found


def _written(tree: ast.Module) -> set[str]:
    """Tables the module writes."""
    tables = _aliases(tree) | _CLASSES
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        args = node.args[1:2] if name == "insert_ignore" else node.args[:1]
        if name in _WRITES | {"insert_ignore"}:
            found |= {tables[a.id] for a in args if isinstance(a, ast.Name) and a.id in tables}
    return found


def writers() -> dict[str, set[str]]:
    """Table → the app modules that write it."""
    found: dict[str, set[str]] = {}
    for path in APP.rglob("*.py"):
        for table in _written(ast.parse(path.read_text())):
            found.setdefault(table, set()).add(str(path.relative_to(APP)))
    return found


@pytest.mark.parametrize("table", sorted(OWNERS))
def test_only_the_owner_writes_its_table(table: str) -> None:
    assert writers().get(table) == {OWNERS[table]}


def test_the_scan_sees_writes() -> None:
    # A scan that found nothing would pass the test above for no reason.
    tree = ast.parse('_t = Base.metadata.tables["pages"]\nconn.execute(update(_t))\n')
    assert _written(tree) == {"pages"}
