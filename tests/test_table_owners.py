"""One owner per table: only the module named here writes (inserts, updates, deletes) its table,
read from app/'s source by tests/support/table_writes.py."""

from pathlib import Path

import pytest

from tests.support.table_writes import INCIDENTS, PAGES, Table, writes

APP = Path(__file__).resolve().parent.parent / "app"
OWNERS = {
    Table("incidents", "Incident"): "incidents/store.py",
    Table("incident_events", "IncidentEvent"): "incidents/store.py",
    Table("note_visibility", "NoteVisibility"): "incidents/store.py",
    PAGES: "paging/outbox.py",
    Table("engineer_states", "EngineerState"): "store/engineer_states.py",
    Table("change_events", "ChangeEvent"): "store/change_events.py",
}


def writers(table: Table) -> set[str]:
    """The app modules (relative to app/) that write `table`."""
    return {
        str(path.relative_to(APP)) for path in APP.rglob("*.py") if writes(path.read_text(), table)
    }


@pytest.mark.parametrize("table", list(OWNERS), ids=lambda table: table.name)
def test_only_the_owner_writes_its_table(table: Table) -> None:
    assert writers(table) == {OWNERS[table]}


def test_the_scan_sees_every_way_of_writing_a_table() -> None:
    # A scan that found nothing would pass the test above for no reason.
    samples = [
        '_p = Base.metadata.tables["pages"]\nconn.execute(update(_p).values(status="x"))',
        'conn.execute(insert(tables["pages"]), row)',
        "conn.execute(postgresql.insert(Page.__table__).on_conflict_do_nothing())",
        'other = tables["pages"]\ninsert_ignore(conn, other, rows)',
        "from app.store.tables import Page\nsession.add(Page(engineer='anna'))",
        "conn.exec_driver_sql('DELETE FROM pages WHERE id = 1')",
        "conn.exec_driver_sql('INSERT OR IGNORE INTO pages (id) VALUES (1)')",
    ]
    assert [bool(writes(sample)) for sample in samples] == [True] * len(samples)
    reads = 'p = tables["pages"]\nselect(p).where(p.c.id == 1)\nupdate(tables["incidents"])'
    assert writes(reads) == []
    assert writes(reads, INCIDENTS[0]) == [3]
    domain = "from app.incidents.model import Incident\nIncident(id=1)"  # not the mapped class
    assert writes(domain, INCIDENTS[0]) == []
